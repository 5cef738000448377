//! Multi-horizon return: a move spread over a few candles (a level shift in three steps, a
//! slide over two), which no single return shows. For each horizon `k` of [`HORIZONS`] the
//! cumulative log return of the last `k` candles *without the largest of them* is standardised
//! by the conditional σ from *before* the first of them (so the move cannot widen its own
//! yardstick) times `√(Σ scale²)` over the `k − 1` returns kept (`√(k−1)` in session; a return
//! across a gap counts with its gap factor, see [`volatility`](super::volatility)). The
//! statistic is the largest of these in magnitude, with its sign; calibration then judges that
//! maximum against its own history.
//!
//! Leaving the largest return out is what makes this a statistic of *spread* moves: a single
//! jump is the conditional z's to judge, and without the trim it would echo here for the next
//! `k − 1` candles, in every window that still holds it. (Measured on the tuning seeds of the
//! evaluation suite: the trimmed sum scored slightly higher than the plain one, and is silent
//! after a lone step.)
//!
//! Horizons 2, 3 and 6 candles: short enough that the move is still one event, spaced so each
//! adds what the shorter ones miss. They were chosen before measuring and not tuned.

use super::config::{Params, switch_params};
use super::{Detector, Group, InvalidParams, Reading, Series, volatility};
use crate::model::Method;

/// The horizons, in candles.
pub const HORIZONS: [usize; 3] = [2, 3, 6];

switch_params!(
    /// The multi-horizon return has nothing to set but whether it runs.
    MultiHorizonParams,
    Method::MultiHorizon
);

/// The multi-horizon return method, holding parameters that [`MultiHorizon::new`] has validated.
#[derive(Debug, Clone)]
pub struct MultiHorizon {
    _params: MultiHorizonParams,
}

impl MultiHorizon {
    /// Fails with the first parameter out of range, named as in configuration.
    pub fn new(params: MultiHorizonParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { _params: params })
    }
}

/// The standardised cumulative return of the `k` candles ending at `i` without the largest of
/// them, `None` when one of them has no return or the σ before them is unknown.
fn horizon(series: &Series<'_>, i: usize, k: usize) -> Option<f64> {
    let first = (i + 1).checked_sub(k)?;
    let conditional = series.conditional();
    let sigma = conditional.sigma[first]?;
    let (mut sum, mut spread) = (0.0, 0.0);
    // The return largest in units of its own spread: (its size, the return, its scale²).
    let mut largest: Option<(f64, f64, f64)> = None;
    for j in first..=i {
        let r = series.log_return[j]?;
        let scale = conditional.scale[j];
        sum += r;
        spread += scale * scale;
        let size = (r / scale).abs();
        if largest.is_none_or(|(l, _, _)| size > l) {
            largest = Some((size, r, scale * scale));
        }
    }
    let (_, r, variance) = largest?;
    Some((sum - r) / (sigma * (spread - variance).sqrt()))
}

impl Detector for MultiHorizon {
    fn method(&self) -> Method {
        Method::MultiHorizon
    }

    fn group(&self) -> Group {
        Group::Price
    }

    fn lookback(&self) -> usize {
        volatility::LOOKBACK + HORIZONS[HORIZONS.len() - 1]
    }

    fn readings(&self, series: &Series<'_>) -> Vec<Option<Reading>> {
        (0..series.len())
            .map(|i| {
                HORIZONS
                    .iter()
                    .filter_map(|&k| horizon(series, i, k))
                    .max_by(|a, b| a.abs().total_cmp(&b.abs()))
                    .and_then(Reading::signed)
            })
            .collect()
    }
}
