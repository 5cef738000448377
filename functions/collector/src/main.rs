//! The collector Lambda: wiring only. The work, and the choice between the cloud's wiring
//! (planner function and candle queue) and the in-process one, is `tickwatch::collect`'s
//! [`CollectorFunction`].

use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::collect::CollectorFunction;
use tickwatch::config::Env;
use tickwatch::startup::or_exit;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let function = &or_exit(
        "collector",
        CollectorFunction::from_env(&Env::process()).await,
    );
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            Ok::<_, lambda_runtime::Error>(
                function
                    .handle(event.payload, &event.context.request_id)
                    .await?,
            )
        },
    ))
    .await
}
