//! Volume spikes: how far a candle's log volume lies above the median of the log volumes of
//! the `window` candles before it, in robust standard deviations (1.4826 × MAD). Logarithms
//! because volumes are multiplicative (a 10× day is as unusual at 1,000 shares as at a
//! million); median and MAD because the earlier spikes in the window would inflate a mean and
//! standard deviation. Candles without a volume (or with none traded) are not judged and leave
//! an empty slot in the window.

use serde::{Deserialize, Serialize};

use super::config::{Params, check_window};
use super::rolling::{OrderWindow, RankIndex};
use super::{Detector, Group, InvalidParams, Reading, Series};
use crate::model::Method;

/// Scales a MAD to a standard deviation for normally distributed data.
const MAD_TO_STD: f64 = 1.4826;
/// The smallest spread of log volumes measured against (0.1 %): a window of identical volumes
/// has no spread, and a different volume is then a finite, not an infinite, surprise.
const MIN_LOG_SPREAD: f64 = 1e-3;

/// Parameters of the volume spike method; defaults in [`Default`], layered by [`super::DetectorConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumeSpikeParams {
    /// Whether the method runs at all; `true` unless switched off.
    pub enabled: bool,
    /// Candles before this one whose log volumes give the median and MAD.
    pub window: usize,
}

impl Default for VolumeSpikeParams {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 50,
        }
    }
}

impl Params for VolumeSpikeParams {
    const METHOD: Method = Method::VolumeSpike;
    fn validate(&self) -> Result<(), InvalidParams> {
        check_window(Self::METHOD, "window", self.window, 5)
    }
}

/// The volume spike method, holding parameters that [`VolumeSpike::new`] has validated.
#[derive(Debug, Clone)]
pub struct VolumeSpike {
    params: VolumeSpikeParams,
}

impl VolumeSpike {
    /// Fails with the first parameter out of range, named as in configuration.
    pub fn new(params: VolumeSpikeParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { params })
    }
}

/// `ln(volume)` where a volume was traded.
pub(crate) fn log_volume(volume: Option<f64>) -> Option<f64> {
    volume.filter(|v| *v > 0.0).map(f64::ln)
}

impl Detector for VolumeSpike {
    fn method(&self) -> Method {
        Method::VolumeSpike
    }

    fn group(&self) -> Group {
        Group::Volume
    }

    fn lookback(&self) -> usize {
        self.params.window
    }

    fn readings(&self, series: &Series<'_>) -> Vec<Option<Reading>> {
        let window = self.params.window;
        let logs: Vec<Option<f64>> = series.volume.iter().map(|v| log_volume(*v)).collect();
        let index = RankIndex::new(logs.iter().flatten().copied());
        let mut order = OrderWindow::new(&index, window);
        let min = (window / 2).max(5);
        logs.iter()
            .map(|y| {
                let reading = y.and_then(|y| {
                    if order.len() < min {
                        return None;
                    }
                    let (median, mad) = order.median_mad()?;
                    let z = (y - median) / (MAD_TO_STD * mad).max(MIN_LOG_SPREAD);
                    z.is_finite().then(|| Reading {
                        statistic: z.max(0.0),
                        direction: i8::from(z > 0.0),
                        p: None,
                    })
                });
                order.push_slot(*y);
                reading
            })
            .collect()
    }
}
