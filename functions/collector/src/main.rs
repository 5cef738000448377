//! The collector Lambda: wiring only. The work is done by `tickwatch::collect`.

use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::collect::Collector;
use tickwatch::config::{CollectorSettings, Env};
use tickwatch::providers::http::build_client;
use tickwatch::startup::{Resources, StartupError, exit_with};

const FUNCTION: &str = "collector";

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let resources = match Resources::from_env(FUNCTION).await {
        Ok(resources) => resources,
        Err(error) => exit_with(FUNCTION, &error),
    };
    let collector = match build(&resources).await {
        Ok(collector) => collector,
        Err(error) => exit_with(FUNCTION, &error),
    };
    let (resources, collector) = (&resources, &collector);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            handle(resources, collector, event).await
        },
    ))
    .await
}

/// The collector's own settings, its API keys and the one HTTP client, once per cold start.
async fn build(resources: &Resources) -> Result<Collector, StartupError> {
    let settings = CollectorSettings::from_env(&Env::process())?
        .resolve_keys(Some(&resources.aws))
        .await?;
    let client = build_client(&settings.http).map_err(|e| {
        StartupError::Config(tickwatch::config::ConfigError::Invalid {
            name: "HTTP_TIMEOUT_MS",
            reason: format!("the HTTP client could not be built: {e}"),
        })
    })?;
    Ok(Collector::new(resources.db.clone(), settings, client))
}

async fn handle(
    resources: &Resources,
    collector: &Collector,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    resources.db.ensure_migrated().await?;
    let (result, metrics) = collector.invoke(FUNCTION, event.payload).await;
    if let Err(error) = resources.metrics.publish(metrics).await {
        tracing::warn!(%error, "metrics were not published");
    }
    let report = result.map_err(|error| {
        tracing::error!(request_id = %event.context.request_id, retryable = error.is_retryable(), %error, "collection failed");
        error
    })?;
    Ok(serde_json::to_value(report)?)
}
