//! The notifier Lambda: wiring only. The work is done by `tickwatch::notify`.
//!
//! It runs outside the VPC and is the detector's on-success destination: the Lambda service
//! invokes it with the detector's result, whose `events` it puts on the EventBridge bus
//! (`EVENT_BUS_NAME`) and whose alerts it sends to the webhook (`ALERT_WEBHOOK_URL`) and the
//! SNS topic (`ALERT_TOPIC_ARN`). A delivery that fails is logged and counted, never retried
//! by failing the invocation: a retried invocation would send the delivered alerts again.

use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::config::Env;
use tickwatch::notify::Notifier;
use tickwatch::startup::or_exit;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let notifier = &or_exit("notifier", Notifier::from_env(&Env::process()).await);
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            let report = notifier.deliver_payload(&event.payload, Utc::now()).await;
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
        },
    ))
    .await
}
