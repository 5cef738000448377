//! One detector invocation: parse the event, then for each series read the candles after its
//! watermark plus the history the enabled methods need, run them, upsert the findings and
//! advance the watermark, all in one transaction under a per-series lock.
//!
//! Re-running changes nothing (the watermark has moved, and the upsert skips unchanged rows);
//! two runs at once take turns per series. Only closed candles are judged: a candle still being
//! built by polling would otherwise be judged half-formed and never again. One failing series
//! (bad overrides, a query error) is reported and counted; the others still run.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{Detector, DetectorConfig, Series};
use crate::config::{ConfigError, Env};
use crate::db::{Db, DbError, anomalies, detection, detector_state, symbols};
use crate::metrics::Metrics;
use crate::model::{Anomaly, Interval, Method, Symbol, WatchedSymbol};

/// What an invocation was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// The EventBridge schedule: every enabled series, from its watermark.
    Scheduled,
    /// `{"action": "rescan", "symbols": [...], "from": "…", "to": "…"?}`: recompute a range,
    /// replacing what earlier runs stored in it.
    Rescan {
        symbols: Vec<Symbol>,
        from: DateTime<Utc>,
        to: Option<DateTime<Utc>>,
    },
}

/// Why an invocation could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid detector event: {0}")]
    InvalidEvent(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl RunError {
    /// Whether EventBridge should retry: a bad event never gets better, a database outage may.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Db(_))
    }
}

impl Request {
    /// Recognises a scheduled event (`source` `aws.events` or `detail-type` `Scheduled Event`)
    /// or a rescan payload; anything else is refused with the reason.
    pub fn parse(event: &Value) -> Result<Self, RunError> {
        let invalid = |m: &str| RunError::InvalidEvent(m.to_owned());
        let Value::Object(map) = event else {
            return Err(invalid("expected a JSON object"));
        };
        if let Some(action) = map.get("action") {
            if action != "rescan" {
                return Err(invalid("the only action is \"rescan\""));
            }
            let symbols = map
                .get("symbols")
                .and_then(Value::as_array)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| invalid("rescan needs a non-empty \"symbols\" array"))?
                .iter()
                .map(|s| {
                    s.as_str()
                        .ok_or_else(|| invalid("symbols must be strings"))
                        .and_then(|s| {
                            Symbol::parse(s).map_err(|e| RunError::InvalidEvent(e.to_string()))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let time = |key: &str| -> Result<Option<DateTime<Utc>>, RunError> {
                map.get(key)
                    .map(|v| {
                        v.as_str()
                            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                            .map(|t| t.with_timezone(&Utc))
                            .ok_or_else(|| {
                                RunError::InvalidEvent(format!(
                                    "\"{key}\" must be an RFC 3339 time"
                                ))
                            })
                    })
                    .transpose()
            };
            let from = time("from")?.ok_or_else(|| invalid("rescan needs \"from\""))?;
            let to = time("to")?;
            if to.is_some_and(|to| to < from) {
                return Err(invalid("\"to\" is before \"from\""));
            }
            return Ok(Self::Rescan { symbols, from, to });
        }
        let scheduled = map.get("source").and_then(Value::as_str) == Some("aws.events")
            || map.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event");
        if scheduled {
            Ok(Self::Scheduled)
        } else {
            Err(invalid(
                "neither a scheduled event nor {\"action\": \"rescan\", …}",
            ))
        }
    }
}

/// The detector's settings: method parameters and how many candles one page reads.
#[derive(Debug, Clone)]
pub struct Detection {
    pub config: DetectorConfig,
    /// Candles judged per transaction; a long backlog is worked through page by page.
    pub page_size: usize,
}

impl Detection {
    /// Reads `DETECTOR_PAGE_SIZE` (default 5000) and the method parameters.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let page_size = env.parse_or("DETECTOR_PAGE_SIZE", 5_000usize)?;
        if !(10..=100_000).contains(&page_size) {
            return Err(ConfigError::Invalid {
                name: "DETECTOR_PAGE_SIZE",
                reason: format!("{page_size} must lie in 10..=100000"),
            });
        }
        Ok(Self {
            config: DetectorConfig::from_env(env)?,
            page_size,
        })
    }
}

/// A series that could not be scanned, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesFailure {
    pub symbol: String,
    pub reason: &'static str,
    pub message: String,
}

/// What an invocation did; returned to the caller as JSON and turned into metrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub series_scanned: u64,
    pub candles_scanned: u64,
    pub anomalies_found: BTreeMap<Method, u64>,
    pub anomalies_written: u64,
    pub anomalies_deleted: u64,
    pub failures: Vec<SeriesFailure>,
}

impl RunReport {
    /// Adds this run's counters to `metrics` (published once per invocation by the caller):
    /// only the two the dashboard reads, since every custom metric costs 0.30 USD a month;
    /// the per-method counts and the series figures go to the log.
    pub fn record(&self, metrics: &mut Metrics, methods: &[Method]) {
        metrics.count("CandlesScanned", self.candles_scanned as f64, &[]);
        let found: u64 = methods
            .iter()
            .map(|m| self.anomalies_found.get(m).copied().unwrap_or(0))
            .sum();
        metrics.count("AnomaliesFound", found as f64, &[]);
        tracing::info!(
            series_scanned = self.series_scanned,
            series_failed = self.failures.len(),
            anomalies_by_method = ?self.anomalies_found,
            "detector totals"
        );
    }
}

/// Which part of a series one scan covers.
#[derive(Debug, Clone, Copy)]
enum Range {
    /// From the stored watermark.
    New,
    /// From `from` (inclusive), replacing stored findings, up to `to`.
    Rescan {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

/// Runs `request` against the database as of `now`.
pub async fn run(
    db: &Db,
    detection: &Detection,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<RunReport, RunError> {
    let mut report = RunReport::default();
    let (series, range_of): (
        Vec<WatchedSymbol>,
        Box<dyn Fn(Interval) -> Range + Send + Sync>,
    ) = {
        let client = db.client().await?;
        match request {
            Request::Scheduled => (
                symbols::list_enabled(&client).await?,
                Box::new(|_| Range::New),
            ),
            Request::Rescan {
                symbols: wanted,
                from,
                to,
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
                let (from, to) = (*from, *to);
                (
                    found,
                    Box::new(move |interval: Interval| Range::Rescan {
                        from,
                        to: to.unwrap_or(now).min(closed_until(now, interval)),
                    }),
                )
            }
        }
    };
    for entry in &series {
        // Overrides are validated, and the detectors built, once per series per run.
        let built = detection
            .config
            .with_overrides(&entry.detector_overrides)
            .map_err(|e| e.to_string())
            .and_then(|config| config.build().map_err(|e| e.to_string()));
        let detectors = match built {
            Ok(detectors) => detectors,
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
        let range = range_of(entry.interval);
        match scan_series(
            db,
            &detectors,
            detection.page_size,
            entry,
            range,
            now,
            &mut report,
        )
        .await
        {
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

/// The open time of the newest candle that has closed by `now`.
fn closed_until(now: DateTime<Utc>, interval: Interval) -> DateTime<Utc> {
    interval.bucket_start(now) - interval.duration()
}

/// Scans one series page by page, each page one transaction.
async fn scan_series(
    db: &Db,
    detectors: &[Box<dyn Detector>],
    page_size: usize,
    entry: &WatchedSymbol,
    range: Range,
    now: DateTime<Utc>,
    report: &mut RunReport,
) -> Result<(), DbError> {
    if detectors.is_empty() {
        return Ok(());
    }
    let methods: Vec<Method> = detectors.iter().map(|d| d.method()).collect();
    let lookback = detectors.iter().map(|d| d.lookback()).max().unwrap_or(0);
    let (symbol, interval) = (&entry.symbol, entry.interval);
    let until = match range {
        Range::New => closed_until(now, interval),
        Range::Rescan { to, .. } => to,
    };
    // Rescans start just before `from`: open times have microsecond resolution.
    let mut cursor = match range {
        Range::New => None,
        Range::Rescan { from, .. } => Some(from - TimeDelta::microseconds(1)),
    };
    let mut client = db.client().await?;
    loop {
        let tx = client.transaction().await?;
        detection::lock_series(&tx, symbol, interval).await?;
        let watermark = detector_state::watermark(&tx, symbol, interval).await?;
        if matches!(range, Range::New) {
            cursor = watermark;
        }
        let fresh =
            detection::candles_after(&tx, symbol, interval, cursor, until, page_size as i64)
                .await?;
        let (Some(first), Some(last)) = (fresh.first(), fresh.last()) else {
            tx.commit().await?;
            return Ok(());
        };
        let (first_time, last_time) = (first.open_time, last.open_time);
        let mut candles =
            detection::candles_before(&tx, symbol, interval, first_time, lookback as i64).await?;
        let judged_from = candles.len();
        let page_len = fresh.len();
        candles.extend(fresh);
        let series = Series::new(&candles);
        let mut found: Vec<Anomaly> = Vec::new();
        for detector in detectors {
            let findings = detector.detect(&series, judged_from);
            *report.anomalies_found.entry(detector.method()).or_default() += findings.len() as u64;
            found.extend(findings);
        }
        if matches!(range, Range::Rescan { .. }) {
            report.anomalies_deleted += detection::delete_stale_anomalies(
                &tx,
                symbol,
                interval,
                &methods,
                (first_time, last_time),
                &found,
            )
            .await?;
        }
        report.anomalies_written += anomalies::upsert(&tx, &found).await?;
        detector_state::advance(&tx, symbol, interval, last_time).await?;
        tx.commit().await?;
        report.candles_scanned += page_len as u64;
        tracing::debug!(%symbol, %interval, candles = page_len, found = found.len(), "page scanned");
        cursor = Some(last_time);
        if page_len < page_size {
            return Ok(());
        }
    }
}

/// Everything one invocation does, for the Lambda handler: migrate on first use, parse the
/// event, run it, publish the metrics in one call and return the report as JSON.
pub async fn handle(
    resources: &crate::startup::Resources,
    detection: &Detection,
    event: &Value,
) -> Result<Value, RunError> {
    resources.db.ensure_migrated().await?;
    let request = Request::parse(event)?;
    let report = run(&resources.db, detection, &request, Utc::now()).await?;
    let mut metrics = Metrics::new(resources.function);
    let methods: Vec<Method> = Method::ALL.to_vec();
    report.record(&mut metrics, &methods);
    if let Err(e) = resources.metrics.publish(metrics).await {
        tracing::warn!(error = %e, "metrics were not published");
    }
    tracing::info!(
        series = report.series_scanned,
        candles = report.candles_scanned,
        written = report.anomalies_written,
        failures = report.failures.len(),
        "detector run finished"
    );
    serde_json::to_value(&report).map_err(|e| RunError::InvalidEvent(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_detector_event_parses() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("events/ exists") {
            let path = entry.expect("readable entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if !(name.starts_with("detector-") && name.ends_with(".json")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable event");
            let event: Value = serde_json::from_str(&text).expect("event is JSON");
            Request::parse(&event).unwrap_or_else(|e| panic!("{name}: {e}"));
            seen += 1;
        }
        assert!(seen >= 2, "only {seen} detector events");
    }

    #[test]
    fn malformed_events_are_refused_with_a_reason_and_not_retried() {
        for (event, needle) in [
            (serde_json::json!([]), "object"),
            (serde_json::json!({"hello": 1}), "neither"),
            (serde_json::json!({"action": "purge"}), "rescan"),
            (
                serde_json::json!({"action": "rescan", "symbols": [], "from": "2026-01-01T00:00:00Z"}),
                "non-empty",
            ),
            (
                serde_json::json!({"action": "rescan", "symbols": ["btc!"], "from": "2026-01-01T00:00:00Z"}),
                "symbol",
            ),
            (
                serde_json::json!({"action": "rescan", "symbols": ["BTC"]}),
                "from",
            ),
            (
                serde_json::json!({"action": "rescan", "symbols": ["BTC"], "from": "yesterday"}),
                "RFC 3339",
            ),
            (
                serde_json::json!({"action": "rescan", "symbols": ["BTC"], "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
                "before",
            ),
        ] {
            let err = Request::parse(&event).expect_err("should be refused");
            assert!(!err.is_retryable());
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn a_report_becomes_the_detector_metrics_with_a_count_per_method() {
        let mut report = RunReport {
            series_scanned: 2,
            candles_scanned: 30,
            ..Default::default()
        };
        report.anomalies_found.insert(Method::ZScore, 3);
        let mut metrics = Metrics::new("detector");
        report.record(&mut metrics, Method::ALL);
        assert_eq!(metrics.counter("CandlesScanned", &[]), 30.0);
        assert_eq!(metrics.counter("AnomaliesFound", &[]), 3.0);
        assert_eq!(
            metrics.counter("SeriesScanned", &[]),
            0.0,
            "log detail, not a metric"
        );
    }

    #[test]
    fn the_page_size_is_validated() {
        let err = Detection::from_env(&Env::from_pairs(&[("DETECTOR_PAGE_SIZE", "3")]))
            .expect_err("too small");
        assert_eq!(err.variable(), "DETECTOR_PAGE_SIZE");
    }
}
