//! Tukey fences on returns: a candle's log return below Q1 − k·IQR or above Q3 + k·IQR of the
//! `window` returns before it. Quartiles ignore the tails, so a few earlier spikes in the window
//! do not widen the fences the way they inflate a standard deviation.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::config::{Params, check_positive, check_window};
use super::rolling::{OrderWindow, RankIndex};
use super::{Detector, InvalidParams, Series, finding, ratio_score, round};
use crate::model::{Anomaly, AnomalyKind, Method};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IqrParams {
    pub enabled: bool,
    pub window: usize,
    /// Fence distance in interquartile ranges (Tukey: 1.5 "outside", 3 "far out").
    pub k: f64,
}

impl Default for IqrParams {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 100,
            k: 4.0,
        }
    }
}

impl Params for IqrParams {
    const METHOD: Method = Method::Iqr;
    fn validate(&self) -> Result<(), InvalidParams> {
        check_window(Self::METHOD, "window", self.window, 10)?;
        check_positive(Self::METHOD, "k", self.k)
    }
}

#[derive(Debug, Clone)]
pub struct Iqr {
    params: IqrParams,
}

impl Iqr {
    pub fn new(params: IqrParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { params })
    }
}

impl Detector for Iqr {
    fn method(&self) -> Method {
        Method::Iqr
    }

    fn lookback(&self) -> usize {
        self.params.window + 1
    }

    fn detect(&self, series: &Series<'_>, from: usize) -> Vec<Anomaly> {
        let IqrParams { window, k, .. } = self.params;
        let index = RankIndex::new(series.log_return.iter().flatten().copied());
        let mut order = OrderWindow::new(&index, window);
        let mut found = Vec::new();
        for (i, r) in series.log_return.iter().enumerate() {
            let Some(r) = *r else { continue };
            if i >= from
                && order.is_full()
                && let (Some(q1), Some(q3)) = (order.quantile(0.25), order.quantile(0.75))
                && q3 > q1
            {
                let iqr = q3 - q1;
                let (lower, upper) = (q1 - k * iqr, q3 + k * iqr);
                let beyond = if r > upper {
                    Some((AnomalyKind::Spike, (r - q3) / (upper - q3)))
                } else if r < lower {
                    Some((AnomalyKind::Drop, (q1 - r) / (q1 - lower)))
                } else {
                    None
                };
                if let Some((kind, ratio)) = beyond {
                    found.extend(finding(
                        series,
                        i,
                        Method::Iqr,
                        kind,
                        ratio_score(ratio),
                        json!({
                            "log_return": round(r),
                            "q1": round(q1),
                            "q3": round(q3),
                            "lower_fence": round(lower),
                            "upper_fence": round(upper),
                            "k": k,
                            "window": window,
                        }),
                    ));
                }
            }
            order.push(r);
        }
        found
    }
}
