//! Variance ratio: a burst of volatility, many candles moving far more than they have been
//! without any one of them being extreme. The statistic is the realised variance of the last
//! [`WINDOW`] returns without the largest of them (each in units of its gap factor, see
//! [`volatility`](super::volatility)) over the conditional variance from *before* them — so
//! the burst cannot raise its own yardstick, and a single jump, which the conditional z
//! judges, does not echo here for the next candles. One-sided: a market going quiet is not an
//! alarm.
//!
//! Six candles, like the longest horizon of the multi-horizon sum: long enough that a ratio of
//! variances is not one return's whim, short enough to catch a burst while it lasts. Chosen
//! before measuring, not tuned.

use super::config::{Params, switch_params};
use super::{Detector, Group, InvalidParams, Reading, Series, volatility};
use crate::model::Method;

/// Returns in the realised variance (one of them, the largest, is left out).
pub const WINDOW: usize = 6;

switch_params!(
    /// The variance ratio has nothing to set but whether it runs.
    VarianceRatioParams,
    Method::VarianceRatio
);

/// The variance ratio method, holding parameters that [`VarianceRatio::new`] has validated.
#[derive(Debug, Clone)]
pub struct VarianceRatio {
    _params: VarianceRatioParams,
}

impl VarianceRatio {
    /// Fails with the first parameter out of range, named as in configuration.
    pub fn new(params: VarianceRatioParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { _params: params })
    }
}

/// The ratio for the window ending at `i`, `None` when a return is missing or σ is unknown.
fn ratio(series: &Series<'_>, i: usize) -> Option<f64> {
    let first = (i + 1).checked_sub(WINDOW)?;
    let conditional = series.conditional();
    let sigma = conditional.sigma[first]?;
    let (mut sum, mut largest) = (0.0, 0.0f64);
    for j in first..=i {
        let r = series.log_return[j]? / conditional.scale[j];
        let square = r * r;
        sum += square;
        largest = largest.max(square);
    }
    Some((sum - largest) / ((WINDOW - 1) as f64 * sigma * sigma))
}

impl Detector for VarianceRatio {
    fn method(&self) -> Method {
        Method::VarianceRatio
    }

    fn group(&self) -> Group {
        Group::Volatility
    }

    fn lookback(&self) -> usize {
        volatility::LOOKBACK + WINDOW
    }

    fn readings(&self, series: &Series<'_>) -> Vec<Option<Reading>> {
        (0..series.len())
            .map(|i| {
                ratio(series, i)
                    .filter(|v| v.is_finite())
                    .map(|statistic| Reading {
                        statistic,
                        direction: 0,
                        p: None,
                    })
            })
            .collect()
    }
}
