//! The Lambda entry point: migrate on first use, parse the event, run it, publish the metrics
//! in one call and return the report as JSON, with the data events that are due (`events`):
//! the Lambda service hands that result to the notifier, the detector's on-success
//! destination outside the VPC.

use chrono::Utc;
use serde_json::Value;

use super::{Detection, Request, RunError, run};
use crate::db::{DbError, announcements};
use crate::metrics::Metrics;
use crate::model::Method;
use crate::notify::{DataEvent, MAX_EVENTS_PER_RUN};

/// The Lambda handler's way in: parses `event`, then [`handle_request`]; a failure is logged
/// with whether EventBridge's retry can help.
pub async fn handle(
    resources: &crate::startup::Resources,
    detection: &Detection,
    event: &Value,
) -> Result<Value, RunError> {
    let result = match Request::parse(event) {
        Ok(request) => handle_request(resources, detection, &request).await,
        Err(error) => Err(error.into()),
    };
    result.inspect_err(|error| {
        tracing::error!(%error, retryable = error.is_retryable(), "detector run failed");
    })
}

/// Everything one invocation does with a parsed request, for the Lambda handler and the local
/// runner (which has no event to parse).
pub async fn handle_request(
    resources: &crate::startup::Resources,
    detection: &Detection,
    request: &Request,
) -> Result<Value, RunError> {
    resources.db.ensure_migrated().await?;
    let report = run(&resources.db, detection, request, Utc::now()).await?;
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
    if let Some(why) = report.why_nothing_scanned() {
        tracing::info!(
            series_current = report.series_current,
            next_candle_closes = %report.next_candle_closes_text(),
            "no candle judged: {why}"
        );
    }
    let mut result = serde_json::to_value(&report).map_err(RunError::Report)?;
    let events = due_events(&resources.db).await;
    result["events"] = serde_json::to_value(&events).unwrap_or_default();
    Ok(result)
}

/// The data events due, marked announced as they are taken. A failure leaves them queued for
/// the next run and never fails this one: detection matters more than its announcement.
pub async fn due_events(db: &crate::db::Db) -> Vec<DataEvent> {
    let taken = async {
        let mut client = db.client().await?;
        let transaction = client.transaction().await?;
        let events = announcements::take(&transaction, MAX_EVENTS_PER_RUN).await?;
        transaction.commit().await?;
        Ok::<_, DbError>(events)
    };
    match taken.await {
        Ok(events) => events,
        Err(error) => {
            tracing::warn!(%error, "data events stay queued for the next run");
            Vec::new()
        }
    }
}
