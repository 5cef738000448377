//! The detector Lambda: wiring only. The work is done by `tickwatch::detect::run`.

use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::config::Env;
use tickwatch::detect::run::{Detection, handle};
use tickwatch::startup::{Resources, or_exit};

const FUNCTION: &str = "detector";

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let resources = &or_exit(FUNCTION, Resources::from_env(FUNCTION).await);
    let detection = &or_exit(FUNCTION, Detection::from_env(&Env::process()));
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            Ok::<_, lambda_runtime::Error>(handle(resources, detection, &event.payload).await?)
        },
    ))
    .await
}
