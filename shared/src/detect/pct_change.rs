//! Percentage change: a candle whose close differs from the previous close by more than a
//! threshold (default 5 %). The simplest rule, and the one a person would check by hand.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::config::{Params, check_positive};
use super::{Detector, InvalidParams, Series, finding, ratio_score, round};
use crate::model::{Anomaly, AnomalyKind, Method};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PctChangeParams {
    pub enabled: bool,
    /// Fraction of the previous close, e.g. 0.05 for 5 %.
    pub threshold: f64,
}

impl Default for PctChangeParams {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: 0.05,
        }
    }
}

impl Params for PctChangeParams {
    const METHOD: Method = Method::PctChange;
    fn validate(&self) -> Result<(), InvalidParams> {
        check_positive(Self::METHOD, "threshold", self.threshold)?;
        if self.threshold >= 10.0 {
            return Err(InvalidParams::new(
                Self::METHOD,
                "threshold",
                "is a fraction: 0.05 means 5 %",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct PctChange {
    params: PctChangeParams,
}

impl PctChange {
    pub fn new(params: PctChangeParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { params })
    }
}

impl Detector for PctChange {
    fn method(&self) -> Method {
        Method::PctChange
    }

    fn lookback(&self) -> usize {
        1
    }

    fn detect(&self, series: &Series<'_>, from: usize) -> Vec<Anomaly> {
        let threshold = self.params.threshold;
        let mut found = Vec::new();
        for i in from.max(1)..series.len() {
            // Only adjacent candles: a change across a gap spans an unknown number of candles.
            if series.log_return[i].is_none() {
                continue;
            }
            let (previous, close) = (series.close[i - 1], series.close[i]);
            let change = close / previous - 1.0;
            if !change.is_finite() || change.abs() <= threshold {
                continue;
            }
            let kind = if change > 0.0 {
                AnomalyKind::Spike
            } else {
                AnomalyKind::Drop
            };
            found.extend(finding(
                series,
                i,
                Method::PctChange,
                kind,
                ratio_score(change.abs() / threshold),
                json!({
                    "pct_change": round(change),
                    "threshold": threshold,
                    "previous_close": round(previous),
                    "close": round(close),
                }),
            ));
        }
        found
    }
}
