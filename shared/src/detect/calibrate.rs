//! Calibration: a method's statistic becomes a tail probability against that method's own
//! trailing distribution for the series, so a z-score of 5 on a calm index and on a wild coin
//! mean what they should, and every method speaks the same unit.
//!
//! For candle `i` the reference is the statistic of the candles in the `window` slots before
//! it (not `i` itself). With `n` values there and `k = max(20, ⌊tail_fraction · n⌋)` (10 % by
//! default: 100 of 1000):
//!
//! - below the `(k+1)`-th largest value `u`, `p = (1 + #{s_j ≥ s}) / (n + 1)`, the empirical
//!   rank (the `+1`s keep it a valid p-value and never 0);
//! - above `u`, peaks over threshold: the excesses over `u` are modelled by a generalised
//!   Pareto distribution fitted to quantiles of the tail (Pickands): with `q₂` and `q₄` the
//!   `(k/2+1)`-th and `(k/4+1)`-th largest values, shape `ξ̂ = ln((q₄ − q₂) / (q₂ − u)) / ln 2`
//!   shrunk towards a prior shape ([`shrunk_shape`]: by default the exponential tail, `ξ₀ = 0`,
//!   worth 200 exceedances against the `k/4` the estimate rests on) and clamped to [0, ½],
//!   scale `σ = (q₂ − u) · ξ / (2^ξ − 1)` (`(q₂ − u) / ln 2` at `ξ = 0`), and
//!   `p = (k + 1)/(n + 1) · (1 + ξ(s − u)/σ)^(−1/ξ)` (`exp(−(s − u)/σ)` at `ξ = 0`). Ranks
//!   alone cannot say anything rarer than `1/(n+1)`; the tail model can, which is what separates
//!   a once-a-month move from a once-a-decade one.
//!
//!   Quantiles, not moments: the window of a market that has had anomalies holds them, and
//!   one 30σ move among the largest values drags a mean excess, a variance or a Hill estimate
//!   towards a tail so heavy that the next 10σ move looks ordinary. The quantile fit ignores
//!   the top `k/4` values entirely. (Moments, then Hill, were measured first on the tuning seeds
//!   of the evaluation suite; see the commit history.)
//!
//! When the largest values are all equal (a flat stretch: no tail to fit) the empirical rank
//! is used above `u` too, so a tiny move after a flat window is at most a `1/(n+1)` surprise,
//! never an infinitely rare one. Everything is computed on statistics quantised to
//! [`STAT_QUANTUM`] and on order statistics of them, so it depends on the values in the window
//! and nothing else.

use serde::{Deserialize, Serialize};

use super::config::{InvalidParams, check_window};
use super::rolling::{OrderWindow, RankIndex};
use super::{Reading, round};

/// The fewest largest values a tail is fitted to: fewer make the fit, and so the rarity of
/// anything beyond them, a matter of luck (with 10, a bounded noise early in a series read as a
/// one-in-a-thousand event).
pub const MIN_TAIL: usize = 20;

/// Resolution of calibrated statistics (z-scores, ratios, isolation scores).
pub const STAT_QUANTUM: f64 = 1e-6;
/// Statistics are clamped to this before quantising (a z-score of a million says all there is).
pub const STAT_LIMIT: f64 = 1e6;

/// A statistic on the calibration grid, as a whole number of quanta (exact in an `f64`);
/// negative values count as 0 (statistics are magnitudes). On the grid, equal statistics are
/// equal and order statistics of a window are exactly the values pushed into it.
pub fn quantise_stat(x: f64) -> f64 {
    (x.clamp(0.0, STAT_LIMIT) / STAT_QUANTUM).round()
}

/// The smallest probability reported (a recurrence time far beyond the age of the universe).
pub const MIN_P: f64 = 1e-300;

/// How statistics become tail probabilities (`DETECTOR_CALIBRATION_*`, override key
/// `calibration`); shared by every method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalibrationParams {
    /// Candles whose statistics form a method's reference distribution.
    pub window: usize,
    /// Statistics the reference needs before a method's readings count.
    pub min_history: usize,
    /// Share of the reference treated as its tail.
    pub tail_fraction: f64,
    /// The tail shape the fitted one is shrunk towards (see [`shrunk_shape`]).
    pub shape_prior: f64,
    /// How many exceedances the prior shape counts as (0: the fitted shape alone).
    pub shape_weight: f64,
}

impl Default for CalibrationParams {
    fn default() -> Self {
        Self {
            window: 1_000,
            min_history: 200,
            tail_fraction: 0.1,
            shape_prior: 0.0,
            shape_weight: 200.0,
        }
    }
}

impl CalibrationParams {
    pub(crate) fn validate(&self) -> Result<(), InvalidParams> {
        const SCOPE: &str = "calibration";
        check_window(SCOPE, "window", self.window, 50)?;
        check_window(SCOPE, "min_history", self.min_history, 20)?;
        if self.min_history > self.window {
            return Err(InvalidParams::new(
                SCOPE,
                "min_history",
                "must not exceed calibration.window",
            ));
        }
        if !(self.tail_fraction > 0.0 && self.tail_fraction <= 0.5) {
            return Err(InvalidParams::new(
                SCOPE,
                "tail_fraction",
                "must lie in (0, 0.5]",
            ));
        }
        if !(0.0..=0.5).contains(&self.shape_prior) {
            return Err(InvalidParams::new(
                SCOPE,
                "shape_prior",
                "must lie in [0, 0.5]",
            ));
        }
        if !(0.0..=1e6).contains(&self.shape_weight) {
            return Err(InvalidParams::new(
                SCOPE,
                "shape_weight",
                "must lie in [0, 1e6]",
            ));
        }
        Ok(())
    }
}

/// A statistic with the tail probability calibration gave it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibrated {
    /// The method's reading as it came, statistic unquantised.
    pub reading: Reading,
    /// Tail probability in `[MIN_P, 1]`: the chance of a statistic at least this large, or
    /// the method's own probability where the reading carries one.
    pub p: f64,
}

/// Calibrates each reading against the readings of the `window` candles before it. The
/// result for candle `i` depends only on readings `i - window ..= i`. Readings that carry their
/// own probability keep it.
pub fn calibrate(
    readings: &[Option<Reading>],
    params: &CalibrationParams,
) -> Vec<Option<Calibrated>> {
    let quantised: Vec<Option<f64>> = readings
        .iter()
        .map(|r| r.map(|r| quantise_stat(r.statistic)))
        .collect();
    let index = RankIndex::new(quantised.iter().flatten().copied());
    let mut window = OrderWindow::new(&index, params.window);
    let mut out = Vec::with_capacity(readings.len());
    for (reading, q) in readings.iter().zip(&quantised) {
        let calibrated = reading.and_then(|reading| {
            let p = match reading.p {
                Some(p) => Some(p),
                None => q.and_then(|q| tail_probability(&window, q, params)),
            };
            p.map(|p| Calibrated {
                reading,
                p: p.clamp(MIN_P, 1.0),
            })
        });
        out.push(calibrated);
        window.push_slot(*q);
    }
    out
}

/// The probability of a statistic at least `q` under the window's distribution.
fn tail_probability(window: &OrderWindow<'_>, q: f64, params: &CalibrationParams) -> Option<f64> {
    let n = window.len();
    if n < params.min_history {
        return None;
    }
    let empirical = || (window.count_at_least(q) as f64 + 1.0) / (n as f64 + 1.0);
    let k = ((n as f64 * params.tail_fraction).floor() as usize).max(MIN_TAIL);
    let Some(u) = window.largest(k) else {
        return Some(empirical());
    };
    if q <= u {
        return Some(empirical());
    }
    let (Some(q2), Some(q4)) = (window.largest(k / 2), window.largest(k / 4)) else {
        return Some(empirical());
    };
    if q2 <= u {
        // The largest values are (nearly) all equal: no tail to fit.
        return Some(empirical());
    }
    let (lower, upper) = (q2 - u, q4 - q2);
    let fitted = if upper > 0.0 {
        (upper / lower).ln() / std::f64::consts::LN_2
    } else {
        0.0
    };
    let shape = shrunk_shape(fitted, k / 4, params);
    let scale = if shape > 0.0 {
        lower * shape / (2f64.powf(shape) - 1.0)
    } else {
        lower / std::f64::consts::LN_2
    };
    let excess = q - u;
    let survival = if shape > 0.0 {
        (1.0 + shape * excess / scale).powf(-1.0 / shape)
    } else {
        (-excess / scale).exp()
    };
    Some((k as f64 + 1.0) / (n as f64 + 1.0) * survival)
}

/// The Pickands shape `fitted`, estimated from the `exceedances` largest values, shrunk
/// towards the prior shape: `(m·ξ̂ + m₀·ξ₀) / (m + m₀)`, then clamped to [0, ½].
///
/// Why: Pickands' estimate has the asymptotic variance `ξ²(2^(2ξ+1) + 1) / (2(2^ξ − 1) ln 2)² / m`
/// (`3 / (4 ln⁴ 2) ≈ 3.25 / m` at ξ = 0): a standard deviation of 0.36 at the 25 values a
/// 1000-candle window gives it. So a few close values among the largest make a tail look far
/// heavier than it is, and a once-a-decade statistic then calibrates to a weekly one. The
/// precision-weighted average with a prior worth `m₀` exceedances is the posterior mean under a
/// normal prior `N(ξ₀, 3.25 / m₀)`. The default prior is the exponential tail (ξ₀ = 0, the
/// boundary of the Gumbel domain the statistics' normal-like cores belong to) with a spread of
/// ⅛ (`m₀ = 3.25 · 64 ≈ 200`): the statistics are standardised (returns over their current
/// volatility, robust z-scores, ratios), whose tails are far lighter than raw returns'
/// (ξ ≈ ¼–⅓); a data shape of ¼ needs some 200 exceedances to be believed halfway. A heavier
/// prior (ξ₀ = ¼) and lighter weights (12–100) were measured on the tuning seeds and found
/// less of both recall and NAB score (README, *Calibration*).
pub fn shrunk_shape(fitted: f64, exceedances: usize, params: &CalibrationParams) -> f64 {
    let (m, w) = (exceedances as f64, params.shape_weight);
    if w == 0.0 {
        return fitted.clamp(0.0, 0.5);
    }
    ((m * fitted + w * params.shape_prior) / (m + w)).clamp(0.0, 0.5)
}

/// A calibrated reading as evidence: the statistic, its probability and its direction.
pub fn evidence(c: &Calibrated) -> serde_json::Value {
    serde_json::json!({
        "statistic": round(c.reading.statistic),
        "p": round(c.p),
        "direction": c.reading.direction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fitted_shape_is_shrunk_towards_the_prior_by_its_exceedances() {
        let none = CalibrationParams {
            shape_weight: 0.0,
            ..CalibrationParams::default()
        };
        assert_eq!(
            shrunk_shape(0.3, 25, &none),
            0.3,
            "no weight: the fit alone"
        );
        assert_eq!(shrunk_shape(0.9, 25, &none), 0.5, "clamped as before");
        let prior = CalibrationParams {
            shape_prior: 0.1,
            shape_weight: 75.0,
            ..CalibrationParams::default()
        };
        // (25 · 0.5 + 75 · 0.1) / 100 = 0.2
        assert!((shrunk_shape(0.5, 25, &prior) - 0.2).abs() < 1e-15);
        // Many exceedances: the data speak.
        assert!((shrunk_shape(0.4, 100_000, &prior) - 0.4).abs() < 1e-3);
        assert_eq!(
            shrunk_shape(-2.0, 25, &prior),
            0.0,
            "never below the exponential tail"
        );
        assert_eq!(CalibrationParams::default().shape_weight, 200.0);
    }

    #[test]
    fn a_prior_outside_the_clamp_or_a_negative_weight_is_refused() {
        for params in [
            CalibrationParams {
                shape_prior: 0.6,
                ..CalibrationParams::default()
            },
            CalibrationParams {
                shape_weight: -1.0,
                ..CalibrationParams::default()
            },
        ] {
            assert!(params.validate().is_err(), "{params:?}");
        }
    }
}
