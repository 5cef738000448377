//! The notifier Lambda: wiring only. The work is done by `tickwatch::notify`.
//!
//! It runs outside the VPC and is the detector's on-success destination: the Lambda service
//! invokes it with the detector's result, whose `events` it puts on the EventBridge bus
//! (`EVENT_BUS_NAME`) and whose alerts it sends to the webhook (`ALERT_WEBHOOK_URL`) and the
//! SNS topic (`ALERT_TOPIC_ARN`). A delivery that fails is logged and counted, never retried
//! by failing the invocation: a retried invocation would send the delivered alerts again.

use anyhow::Context as _;
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::config::{Env, HttpSettings, Observability};
use tickwatch::notify::{Notifier, NotifySettings};
use tickwatch::providers::http::build_client;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let notifier = match wire().await {
        Ok(notifier) => notifier,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "cannot start");
            return Err(error.into());
        }
    };
    let notifier = &notifier;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let report = notifier.deliver_payload(&event.payload, Utc::now()).await;
            serde_json::to_value(report).map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}

/// Settings, the HTTP client and the AWS clients, once per cold start.
async fn wire() -> anyhow::Result<Notifier> {
    let env = Env::process();
    let observability = Observability::from_env(&env)?;
    tickwatch::telemetry::init(observability.log_format);
    let settings = NotifySettings::from_env(&env)?;
    let http = build_client(&HttpSettings::default()).context("HTTP client")?;
    let aws = tickwatch::aws::Aws::lazy();
    Ok(Notifier::new(settings, http, &aws).await)
}
