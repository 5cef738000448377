//! What an invocation did: returned to the caller as JSON and turned into metrics.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::metrics::Metrics;
use crate::model::Method;

/// A series that could not be scanned, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesFailure {
    pub symbol: String,
    pub reason: &'static str,
    pub message: String,
}

/// Counters of one invocation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub series_scanned: u64,
    /// Series with no candle to judge: every closed candle was scored before. A candle is
    /// judged only once its interval has closed, so a run inside the interval of the last
    /// one finds nothing new — by design, not a stall.
    pub series_current: u64,
    /// When the earliest of those series' candles now being built closes: the first time a
    /// scheduled run has something new to judge for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_candle_closes: Option<DateTime<Utc>>,
    pub candles_scanned: u64,
    /// Candles recomputed because a candle at or before the watermark changed.
    pub candles_rescanned: u64,
    /// Score rows inserted or changed (re-running writes none).
    pub scores_written: u64,
    pub events_opened: u64,
    pub events_updated: u64,
    pub events_deleted: u64,
    /// New events per contributing method.
    pub anomalies_found: BTreeMap<Method, u64>,
    pub failures: Vec<SeriesFailure>,
}

impl RunReport {
    /// Counts a series that had nothing new, whose candle being built closes at `closes`.
    pub(super) fn nothing_new(&mut self, closes: DateTime<Utc>) {
        self.series_current += 1;
        self.next_candle_closes = Some(self.next_candle_closes.map_or(closes, |c| c.min(closes)));
    }

    /// When the next candle closes, for the log: the time (RFC 3339), or `none` when no series
    /// was current.
    pub fn next_candle_closes_text(&self) -> String {
        self.next_candle_closes
            .map_or_else(|| "none".to_owned(), |t| t.to_rfc3339())
    }

    /// Why a run judged no candle, for the log: `None` when it judged some or had no series.
    pub fn why_nothing_scanned(&self) -> Option<&'static str> {
        (self.candles_scanned == 0 && self.series_current > 0).then_some(
            "every closed candle was already scored: a candle is judged only once its interval \
             has closed (one still being built would be judged half-formed), so runs more \
             frequent than the interval find nothing new until next_candle_closes",
        )
    }

    /// Adds this run's counters to `metrics` (published once per invocation by the caller):
    /// only the two the dashboard reads — candles scanned and new anomaly events — since every
    /// custom metric costs 0.30 USD a month; the rest goes to the log.
    pub fn record(&self, metrics: &mut Metrics, methods: &[Method]) {
        metrics.count("CandlesScanned", self.candles_scanned as f64, &[]);
        metrics.count("AnomaliesFound", self.events_opened as f64, &[]);
        let by_method: BTreeMap<Method, u64> = methods
            .iter()
            .filter_map(|m| self.anomalies_found.get(m).map(|n| (*m, *n)))
            .collect();
        tracing::info!(
            series_scanned = self.series_scanned,
            series_current = self.series_current,
            series_failed = self.failures.len(),
            candles_rescanned = self.candles_rescanned,
            scores_written = self.scores_written,
            events_opened = self.events_opened,
            events_updated = self.events_updated,
            events_deleted = self.events_deleted,
            events_by_method = ?by_method,
            "detector totals"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_becomes_the_two_detector_metrics_and_the_rest_is_logged() {
        let mut report = RunReport {
            series_scanned: 2,
            candles_scanned: 30,
            events_opened: 3,
            ..Default::default()
        };
        report.anomalies_found.insert(Method::ZScore, 3);
        report.anomalies_found.insert(Method::Iqr, 2);
        let mut metrics = Metrics::new("detector");
        report.record(&mut metrics, Method::ALL);
        assert_eq!(metrics.counter("CandlesScanned", &[]), 30.0);
        assert_eq!(
            metrics.counter("AnomaliesFound", &[]),
            3.0,
            "new events, each counted once however many methods contributed"
        );
        assert_eq!(report.next_candle_closes_text(), "none");
        let closes = DateTime::parse_from_rfc3339("2026-03-02T15:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        report.nothing_new(closes + chrono::TimeDelta::hours(1));
        report.nothing_new(closes);
        assert_eq!(
            report.next_candle_closes_text(),
            "2026-03-02T15:00:00+00:00"
        );
        assert_eq!(
            metrics.counter("SeriesScanned", &[]),
            0.0,
            "log detail, not a metric"
        );
    }
}
