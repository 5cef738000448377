//! Moving-average deviation: how far the log close lies from the average of the log closes
//! before it, in spreads of that deviation. Levels, not returns: it sees a price that has left
//! where it has been trading even when it got there in several steps.
//!
//! The spread is that of the deviations themselves over the last `5 × window` candles, not the
//! spread of the closes: in a trending market the closes spread widely while the deviations
//! stay small. Both are exact integer sums over fixed windows. The EMA variant is a
//! finite-window EMA: the weights `α(1−α)^j` over the last `4 × window` closes, normalised, so
//! it depends on those closes alone and never on where a scan started.

use serde::{Deserialize, Serialize};

use super::config::{Params, check_window};
use super::rolling::ExactMoments;
use super::{Detector, Group, InvalidParams, Reading, Series};
use crate::model::Method;

/// Which average the close is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AverageKind {
    /// The mean of the last `window` closes.
    Sma,
    /// Weights `2 / (window + 1)` on the newest close.
    Ema,
}

impl AverageKind {
    /// The name used in configuration and in the API's `kind` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sma => "sma",
            Self::Ema => "ema",
        }
    }
}

/// The spread of the deviations is taken over this many averaging windows.
const RESIDUAL_WINDOWS: usize = 5;
/// A finite-window EMA reaches back this many periods (the weight left beyond is (1−α)^4p,
/// about 2 % for any period).
const EMA_PERIODS: usize = 4;

/// Parameters of the moving-average deviation method; defaults in [`Default`], layered by [`super::DetectorConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MovingAverageParams {
    /// Whether the method runs at all; `true` unless switched off.
    pub enabled: bool,
    /// Closes in the average.
    pub window: usize,
    /// Simple or (finite-window) exponential average.
    pub average: AverageKind,
}

impl Default for MovingAverageParams {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 5,
            average: AverageKind::Sma,
        }
    }
}

impl Params for MovingAverageParams {
    const METHOD: Method = Method::MovingAverage;
    fn validate(&self) -> Result<(), InvalidParams> {
        check_window(Self::METHOD, "window", self.window, 3)
    }
}

/// The moving-average deviation method, holding parameters that [`MovingAverage::new`] has validated.
#[derive(Debug, Clone)]
pub struct MovingAverage {
    params: MovingAverageParams,
}

impl MovingAverage {
    /// Fails with the first parameter out of range, named as in configuration.
    pub fn new(params: MovingAverageParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { params })
    }

    fn span(&self) -> usize {
        match self.params.average {
            AverageKind::Sma => self.params.window,
            AverageKind::Ema => self.params.window * EMA_PERIODS,
        }
    }
}

/// The finite-window EMA of `values` (oldest first), `None` if any is not finite.
pub(crate) fn finite_ema(values: &[f64], period: usize) -> Option<f64> {
    let alpha = 2.0 / (period as f64 + 1.0);
    let (mut weighted, mut weights, mut w) = (0.0, 0.0, 1.0);
    for &x in values.iter().rev() {
        if !x.is_finite() {
            return None;
        }
        weighted += w * x;
        weights += w;
        w *= 1.0 - alpha;
    }
    (weights > 0.0).then(|| weighted / weights)
}

impl Detector for MovingAverage {
    fn method(&self) -> Method {
        Method::MovingAverage
    }

    fn group(&self) -> Group {
        Group::Level
    }

    fn lookback(&self) -> usize {
        self.span() + self.params.window * RESIDUAL_WINDOWS + 1
    }

    fn readings(&self, series: &Series<'_>) -> Vec<Option<Reading>> {
        let MovingAverageParams {
            window, average, ..
        } = self.params;
        let span = self.span();
        let mut closes = ExactMoments::new(window);
        let mut residuals = ExactMoments::new(window * RESIDUAL_WINDOWS);
        let min_residuals = 2 * window;
        let mut out = Vec::with_capacity(series.len());
        for (i, &x) in series.log_close.iter().enumerate() {
            let reference = match average {
                AverageKind::Sma => (closes.count() == window).then(|| closes.mean()).flatten(),
                AverageKind::Ema => (i >= span)
                    .then(|| finite_ema(&series.log_close[i - span..i], window))
                    .flatten(),
            };
            let deviation = reference.map(|mean| x - mean).filter(|d| d.is_finite());
            let reading = deviation.and_then(|d| {
                if residuals.count() < min_residuals {
                    return None;
                }
                let std = residuals.std(1)?;
                (std > 0.0).then(|| d / std).and_then(Reading::signed)
            });
            out.push(reading);
            residuals.push(deviation);
            closes.push(x.is_finite().then_some(x));
        }
        out
    }
}
