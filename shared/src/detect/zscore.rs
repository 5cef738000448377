//! Rolling z-score of log returns: how many standard deviations a candle's return lies from the
//! mean of the returns before it. The candle itself is not in its own window, so a spike cannot
//! hide by inflating the spread it is measured against.
//!
//! Returns fall into two regimes. An ordinary return (adjacent candles) is judged against the
//! ordinary returns of the last `window` candles. A return across a gap (a night, a weekend, a
//! missing candle) is judged against the gap returns of the last `gap_window` candles when
//! there are at least [`MIN_GAP_RETURNS`] of them (a stock's overnight moves have their own
//! spread), and otherwise against the ordinary returns widened by [`gap_scale`]. Both windows
//! are exact integer sums, so a constant window has a spread of exactly 0 and is not judged.

use serde::{Deserialize, Serialize};

use super::config::{Params, check_window};
use super::rolling::ExactMoments;
use super::series::gap_scale;
use super::{Detector, Group, InvalidParams, Reading, Series};
use crate::model::Method;

/// Gap returns a series needs before its gaps are judged as a regime of their own.
pub const MIN_GAP_RETURNS: usize = 20;

/// Parameters of the rolling z-score method; defaults in [`Default`], layered by [`super::DetectorConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZScoreParams {
    /// Whether the method runs at all; `true` unless switched off.
    pub enabled: bool,
    /// Candles whose ordinary returns form the reference window.
    pub window: usize,
    /// Candles whose gap returns form the reference for returns across a gap.
    pub gap_window: usize,
}

impl Default for ZScoreParams {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 100,
            gap_window: 1_000,
        }
    }
}

impl Params for ZScoreParams {
    const METHOD: Method = Method::ZScore;
    fn validate(&self) -> Result<(), InvalidParams> {
        check_window(Self::METHOD, "window", self.window, 10)?;
        check_window(Self::METHOD, "gap_window", self.gap_window, 10)
    }
}

/// The rolling z-score method, holding parameters that [`ZScore::new`] has validated.
#[derive(Debug, Clone)]
pub struct ZScore {
    params: ZScoreParams,
}

impl ZScore {
    /// Fails with the first parameter out of range, named as in configuration.
    pub fn new(params: ZScoreParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { params })
    }
}

/// The z-score of a return against a window, `None` when the window is too thin or flat.
fn z(r: f64, window: &ExactMoments, min: usize, scale: f64) -> Option<f64> {
    if window.count() < min {
        return None;
    }
    let (mean, std) = (window.mean()?, window.std(1)?);
    (std > 0.0).then(|| (r - mean) / (std * scale))
}

impl Detector for ZScore {
    fn method(&self) -> Method {
        Method::ZScore
    }

    fn group(&self) -> Group {
        Group::Price
    }

    fn lookback(&self) -> usize {
        self.params.window.max(self.params.gap_window) + 1
    }

    fn readings(&self, series: &Series<'_>) -> Vec<Option<Reading>> {
        let ZScoreParams {
            window, gap_window, ..
        } = self.params;
        let min = (window / 2).max(10);
        let mut ordinary = ExactMoments::new(window);
        let mut gaps = ExactMoments::new(gap_window);
        let mut out = Vec::with_capacity(series.len());
        for (i, r) in series.log_return.iter().enumerate() {
            let gap = series.after_gap(i);
            let reading = r.and_then(|r| {
                let value = if !gap {
                    z(r, &ordinary, min, 1.0)
                } else if gaps.count() >= MIN_GAP_RETURNS {
                    z(r, &gaps, MIN_GAP_RETURNS, 1.0)
                } else {
                    z(r, &ordinary, min, gap_scale(series.elapsed[i]))
                };
                value.and_then(Reading::signed)
            });
            out.push(reading);
            ordinary.push(r.filter(|_| !gap));
            gaps.push(r.filter(|_| gap));
        }
        out
    }
}
