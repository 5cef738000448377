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
    /// Adds this run's counters to `metrics` (published once per invocation by the caller).
    pub fn record(&self, metrics: &mut Metrics, methods: &[Method]) {
        metrics.count("SeriesScanned", self.series_scanned as f64, &[]);
        metrics.count("CandlesScanned", self.candles_scanned as f64, &[]);
        metrics.count("CandlesRescanned", self.candles_rescanned as f64, &[]);
        metrics.count("EventsOpened", self.events_opened as f64, &[]);
        metrics.count("EventsUpdated", self.events_updated as f64, &[]);
        for method in methods {
            let found = self.anomalies_found.get(method).copied().unwrap_or(0);
            metrics.count(
                "AnomaliesFound",
                found as f64,
                &[("Method", method.as_str())],
            );
        }
        metrics.count("SeriesFailed", self.failures.len() as f64, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_becomes_the_detector_metrics_with_a_count_per_method() {
        let mut report = RunReport {
            series_scanned: 2,
            candles_scanned: 30,
            events_opened: 3,
            ..Default::default()
        };
        report.anomalies_found.insert(Method::ZScore, 3);
        let mut metrics = Metrics::new("detector");
        report.record(&mut metrics, Method::ALL);
        assert_eq!(metrics.counter("SeriesScanned", &[]), 2.0);
        assert_eq!(metrics.counter("CandlesScanned", &[]), 30.0);
        assert_eq!(metrics.counter("EventsOpened", &[]), 3.0);
        assert_eq!(
            metrics.counter("AnomaliesFound", &[("Method", "zscore")]),
            3.0
        );
        assert_eq!(metrics.counter("AnomaliesFound", &[("Method", "iqr")]), 0.0);
    }
}
