//! The planner Lambda (inside the VPC): turns a collection request into a plan from the watch
//! list and what is stored, and answers with it. It calls no AWS API: the fetcher invokes it,
//! its database token is signed locally, its metrics are EMF lines. The work is done by
//! `tickwatch::collect::plan`.

use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::collect::{Planner, plan};
use tickwatch::config::{CollectorSettings, Env};
use tickwatch::startup::{Resources, StartupError, exit_with};

const FUNCTION: &str = "planner";

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let resources = match Resources::from_env(FUNCTION).await {
        Ok(resources) => resources,
        Err(error) => exit_with(FUNCTION, &error),
    };
    let settings = match CollectorSettings::from_env(&Env::process()) {
        Ok(settings) => settings,
        Err(error) => exit_with(FUNCTION, &StartupError::Config(error)),
    };
    let planner = Planner::new(resources.db.clone(), settings);
    let (resources, planner) = (&resources, &planner);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            resources.db.ensure_migrated().await?;
            let (result, metrics) = plan::handle(planner, FUNCTION, event.payload).await;
            if let Err(error) = resources.metrics.publish(metrics).await {
                tracing::warn!(%error, "metrics were not published");
            }
            let plan = result.inspect_err(|error| {
                tracing::error!(request_id = %event.context.request_id, retryable = error.is_retryable(), %error, "planning failed");
            })?;
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(plan)?)
        },
    ))
    .await
}
