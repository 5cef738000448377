//! One detector invocation, in modules with one job each: `request` parses the event,
//! `settings` reads the configuration, `scan` works through one series, `report` counts
//! what happened and `handler` is the Lambda entry point.
//!
//! For each series the scan reads the candles to judge plus the history their scores depend
//! on, upserts one score per candle, reconciles the events around them and advances the
//! watermark, all in one transaction per page under a per-series lock. Re-running changes
//! nothing (the upserts skip unchanged rows); two runs at once take turns per series. Only
//! closed candles are judged: a candle still being built by polling would otherwise be judged
//! half-formed. One failing series (bad overrides, a query error) is reported and counted; the
//! others still run.

mod handler;
mod report;
mod request;
mod scan;
mod settings;

use chrono::{DateTime, Utc};

pub use handler::{due_events, handle, handle_request};
pub use report::{RunReport, SeriesFailure};
pub use request::{MAX_SYMBOLS, Request, RequestError};
pub use settings::Detection;

use self::scan::{Plan, Range, closed_until, scan_series};
use super::Scorer;
use crate::db::{Db, DbError, symbols};
use crate::model::{Interval, WatchedSymbol};

/// Why an invocation could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The event is not a request the detector accepts; never retried.
    #[error("invalid detector event: {0}")]
    InvalidEvent(#[from] RequestError),
    /// The run's report could not be turned into the invocation's answer.
    #[error("the run's report could not be encoded: {0}")]
    Report(#[source] serde_json::Error),
    /// The database failed for the run as a whole; retryable when the database is unavailable.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl RunError {
    /// Whether EventBridge should retry: a bad event never gets better, a database outage may.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Db(_))
    }
}

/// Runs `request` against the database as of `now`.
pub async fn run(
    db: &Db,
    detection: &Detection,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<RunReport, RunError> {
    let mut report = RunReport::default();
    let series: Vec<WatchedSymbol> = {
        let client = db.client().await?;
        match request {
            Request::Scheduled => symbols::list_enabled(&client).await?,
            Request::Rescan {
                symbols: wanted, ..
            } => {
                let mut found = Vec::new();
                for symbol in wanted {
                    match symbols::get(&client, symbol).await? {
                        Some(entry) => found.push(entry),
                        None => report.failures.push(SeriesFailure {
                            symbol: symbol.to_string(),
                            reason: "unknown_symbol",
                            message: format!("{symbol} is not on the watch list"),
                        }),
                    }
                }
                found
            }
        }
    };
    let range_of = |interval: Interval| match request {
        Request::Scheduled => Range::New,
        Request::Rescan { from, to, .. } => Range::Rescan {
            from: *from,
            to: to.unwrap_or(now).min(closed_until(now, interval)),
        },
    };
    for entry in &series {
        // Overrides are validated, and the methods built, once per series per run.
        let built = detection
            .config
            .with_overrides(&entry.detector_overrides)
            .map_err(|e| e.to_string())
            .and_then(|config| {
                Scorer::new(&config)
                    .map(|scorer| Plan {
                        scorer,
                        events: config.events,
                        page_size: detection.page_size,
                    })
                    .map_err(|e| e.to_string())
            });
        let plan = match built {
            Ok(built) => built,
            Err(e) => {
                tracing::warn!(symbol = %entry.symbol, error = %e, "detector overrides refused; series skipped");
                report.failures.push(SeriesFailure {
                    symbol: entry.symbol.to_string(),
                    reason: "invalid_overrides",
                    message: e,
                });
                continue;
            }
        };
        let outcome =
            scan_series(db, &plan, entry, range_of(entry.interval), now, &mut report).await;
        match outcome {
            Ok(()) => report.series_scanned += 1,
            // The database is gone or not answering: the other series would only fail the
            // same way, each after its own deadline. Give the run up, retryably.
            Err(e) if e.is_unavailable() => {
                tracing::error!(symbol = %entry.symbol, error = %e, scanned = report.series_scanned, "database unavailable; run given up");
                return Err(RunError::Db(e));
            }
            Err(e) => {
                tracing::error!(symbol = %entry.symbol, interval = %entry.interval, error = %e, "series scan failed");
                report.failures.push(SeriesFailure {
                    symbol: entry.symbol.to_string(),
                    reason: "database_error",
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(report)
}
