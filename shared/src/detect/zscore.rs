//! Rolling z-score of log returns: how many standard deviations a candle's return lies from
//! the mean of the `window` returns before it. The candle itself is not in its own window, so
//! a spike cannot hide by inflating the deviation it is measured against.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::config::{Params, check_positive, check_window};
use super::rolling::RollingMoments;
use super::{Detector, InvalidParams, Series, finding, ratio_score, round};
use crate::model::{Anomaly, AnomalyKind, Method};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZScoreParams {
    pub enabled: bool,
    /// Returns in the reference window.
    pub window: usize,
    /// |z| above which a return is anomalous.
    pub threshold: f64,
}

impl Default for ZScoreParams {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 100,
            threshold: 6.0,
        }
    }
}

impl Params for ZScoreParams {
    const METHOD: Method = Method::ZScore;
    fn validate(&self) -> Result<(), InvalidParams> {
        check_window(Self::METHOD, "window", self.window, 10)?;
        check_positive(Self::METHOD, "threshold", self.threshold)
    }
}

#[derive(Debug, Clone)]
pub struct ZScore {
    params: ZScoreParams,
}

impl ZScore {
    pub fn new(params: ZScoreParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { params })
    }
}

impl Detector for ZScore {
    fn method(&self) -> Method {
        Method::ZScore
    }

    fn lookback(&self) -> usize {
        self.params.window + 1
    }

    fn detect(&self, series: &Series<'_>, from: usize) -> Vec<Anomaly> {
        let ZScoreParams {
            window, threshold, ..
        } = self.params;
        let mut moments = RollingMoments::new(window);
        let mut found = Vec::new();
        for (i, r) in series.log_return.iter().enumerate() {
            let Some(r) = *r else { continue };
            if i >= from
                && moments.is_full()
                && let (Some(mean), Some(std)) = (moments.mean(), moments.std(1))
                && std > 0.0
            {
                let z = (r - mean) / std;
                if z.abs() > threshold {
                    let kind = if z > 0.0 {
                        AnomalyKind::Spike
                    } else {
                        AnomalyKind::Drop
                    };
                    found.extend(finding(
                        series,
                        i,
                        Method::ZScore,
                        kind,
                        ratio_score(z.abs() / threshold),
                        json!({
                            "z": round(z),
                            "threshold": threshold,
                            "log_return": round(r),
                            "mean": round(mean),
                            "std": round(std),
                            "window": window,
                        }),
                    ));
                }
            }
            moments.push(r);
        }
        found
    }
}
