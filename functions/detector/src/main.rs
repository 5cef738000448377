//! The detector Lambda: wiring only. The work is done by the `tickwatch` library.

use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::startup::{Resources, exit_with};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let resources = match Resources::from_env("detector").await {
        Ok(resources) => resources,
        Err(error) => exit_with("detector", &error),
    };
    let resources = &resources;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move { handle(resources, event).await },
    ))
    .await
}

async fn handle(
    resources: &Resources,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    resources.db.ensure_migrated().await?;
    tracing::warn!(request_id = %event.context.request_id, "the detector is not implemented yet");
    Err("the detector is not implemented yet; this invocation stored nothing".into())
}
