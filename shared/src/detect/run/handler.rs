//! The Lambda entry point: migrate on first use, parse the event, run it, publish the metrics
//! in one call and return the report as JSON.

use chrono::Utc;
use serde_json::Value;

use super::{Detection, Request, RunError, run};
use crate::metrics::Metrics;
use crate::model::Method;

/// Everything one invocation does, for the Lambda handler and the local runner.
pub async fn handle(
    resources: &crate::startup::Resources,
    detection: &Detection,
    event: &Value,
) -> Result<Value, RunError> {
    resources.db.ensure_migrated().await?;
    let request = Request::parse(event)?;
    let report = run(&resources.db, detection, &request, Utc::now()).await?;
    let mut metrics = Metrics::new(resources.function);
    report.record(&mut metrics, Method::ALL);
    if let Err(e) = resources.metrics.publish(metrics).await {
        tracing::warn!(error = %e, "metrics were not published");
    }
    tracing::info!(
        series = report.series_scanned,
        candles = report.candles_scanned,
        rescanned = report.candles_rescanned,
        events_opened = report.events_opened,
        events_updated = report.events_updated,
        failures = report.failures.len(),
        "detector run finished"
    );
    serde_json::to_value(&report).map_err(|e| RunError::InvalidEvent(e.to_string()))
}
