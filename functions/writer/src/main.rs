//! The writer Lambda (inside the VPC): stores the candle batches the SQS event-source mapping
//! delivers and reports the messages it could not store, so SQS delivers them again (and, in
//! the end, to the dead-letter queue). The work is done by `tickwatch::collect::writer`.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::collect::writer;
use tickwatch::config::{CollectorSettings, Env};
use tickwatch::metrics::Metrics;
use tickwatch::startup::{Resources, StartupError, exit_with};

const FUNCTION: &str = "writer";

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let resources = match Resources::from_env(FUNCTION).await {
        Ok(resources) => resources,
        Err(error) => exit_with(FUNCTION, &error),
    };
    let batch_size = match CollectorSettings::from_env(&Env::process()) {
        Ok(settings) => settings.batch_size,
        Err(error) => exit_with(FUNCTION, &StartupError::Config(error)),
    };
    let resources = &resources;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        if let Err(error) = resources.db.ensure_migrated().await {
            tracing::warn!(%error, "migrations could not be checked; storing anyway");
        }
        let (response, report) =
            writer::handle(&resources.db, &event.payload, Utc::now(), batch_size).await;
        let mut metrics = Metrics::new(FUNCTION);
        report.record(&mut metrics);
        if let Err(error) = resources.metrics.publish(metrics).await {
            tracing::warn!(%error, "metrics were not published");
        }
        Ok::<SqsBatchResponse, lambda_runtime::Error>(response)
    }))
    .await
}
