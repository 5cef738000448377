//! The detector Lambda: wiring only. The work is done by `tickwatch::detect::run`.

use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::config::Env;
use tickwatch::detect::run::{Detection, RunError, handle};
use tickwatch::startup::{Resources, StartupError, exit_with};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let resources = match Resources::from_env("detector").await {
        Ok(resources) => resources,
        Err(error) => exit_with("detector", &error),
    };
    let detection = match Detection::from_env(&Env::process()) {
        Ok(detection) => detection,
        Err(error) => exit_with("detector", &StartupError::Config(error)),
    };
    let (resources, detection) = (&resources, &detection);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            handle(resources, detection, &event.payload)
                .await
                .map_err(|e: RunError| {
                    tracing::error!(error = %e, retryable = e.is_retryable(), "detector run failed");
                    lambda_runtime::Error::from(e)
                })
        },
    ))
    .await
}
