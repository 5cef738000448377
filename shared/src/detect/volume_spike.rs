//! Volume spikes: a candle's volume far above the median of the `window` volumes before it,
//! measured in robust standard deviations (1.4826 × MAD), and at least `min_ratio` times the
//! median. Median and MAD ignore the earlier spikes in the window that would inflate a mean and
//! standard deviation. Candles without a volume are skipped and never enter the window.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::config::{Params, check_positive, check_window};
use super::rolling::{OrderWindow, RankIndex};
use super::{Detector, InvalidParams, Series, finding, ratio_score, round};
use crate::model::{Anomaly, AnomalyKind, Method};

/// Scales a MAD to a standard deviation for normally distributed data.
const MAD_TO_STD: f64 = 1.4826;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumeSpikeParams {
    pub enabled: bool,
    pub window: usize,
    /// Robust z-score above which a volume is anomalous.
    pub threshold: f64,
    /// The volume must also be at least this multiple of the median.
    pub min_ratio: f64,
}

impl Default for VolumeSpikeParams {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 50,
            threshold: 12.0,
            min_ratio: 4.0,
        }
    }
}

impl Params for VolumeSpikeParams {
    const METHOD: Method = Method::VolumeSpike;
    fn validate(&self) -> Result<(), InvalidParams> {
        check_window(Self::METHOD, "window", self.window, 5)?;
        check_positive(Self::METHOD, "threshold", self.threshold)?;
        check_positive(Self::METHOD, "min_ratio", self.min_ratio)?;
        if self.min_ratio < 1.0 {
            return Err(InvalidParams::new(
                Self::METHOD,
                "min_ratio",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct VolumeSpike {
    params: VolumeSpikeParams,
}

impl VolumeSpike {
    pub fn new(params: VolumeSpikeParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { params })
    }
}

impl Detector for VolumeSpike {
    fn method(&self) -> Method {
        Method::VolumeSpike
    }

    fn lookback(&self) -> usize {
        self.params.window
    }

    fn detect(&self, series: &Series<'_>, from: usize) -> Vec<Anomaly> {
        let VolumeSpikeParams {
            window,
            threshold,
            min_ratio,
            ..
        } = self.params;
        let index = RankIndex::new(series.volume.iter().flatten().copied());
        let mut order = OrderWindow::new(&index, window);
        let mut found = Vec::new();
        for (i, volume) in series.volume.iter().enumerate() {
            let Some(volume) = *volume else { continue };
            // The median is two order-statistic look-ups; the MAD is only worth its binary
            // search once the ratio test has passed.
            if i >= from
                && order.is_full()
                && let Some(median) = order.median()
                && median > 0.0
                && volume / median >= min_ratio
                && let Some((_, mad)) = order.median_mad()
            {
                let ratio = volume / median;
                let scale = MAD_TO_STD * mad;
                // A window of identical volumes has no spread: the ratio alone decides.
                let z = if scale > 0.0 {
                    (volume - median) / scale
                } else {
                    f64::INFINITY
                };
                if ratio >= min_ratio && z > threshold {
                    let strength = if z.is_finite() {
                        z / threshold
                    } else {
                        ratio / min_ratio
                    };
                    found.extend(finding(
                        series,
                        i,
                        Method::VolumeSpike,
                        AnomalyKind::VolumeSpike,
                        ratio_score(strength),
                        json!({
                            "volume": round(volume),
                            "median": round(median),
                            "mad": round(mad),
                            "robust_z": z.is_finite().then(|| round(z)),
                            "ratio": round(ratio),
                            "threshold": threshold,
                            "min_ratio": min_ratio,
                            "window": window,
                        }),
                    ));
                }
            }
            order.push(volume);
        }
        found
    }
}
