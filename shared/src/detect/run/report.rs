//! What an invocation did: returned to the caller as JSON and turned into metrics.

use std::collections::BTreeMap;

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
    /// Adds this run's counters to `metrics` (published once per invocation by the caller):
    /// only the two the dashboard reads, since every custom metric costs 0.30 USD a month;
    /// the per-method counts, rescans, events and series figures go to the log.
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
            candles_rescanned = self.candles_rescanned,
            events_opened = self.events_opened,
            events_updated = self.events_updated,
            anomalies_by_method = ?self.anomalies_found,
            "detector totals"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_becomes_the_two_detector_metrics_the_dashboard_reads() {
        let mut report = RunReport {
            series_scanned: 2,
            candles_scanned: 30,
            events_opened: 3,
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
}
