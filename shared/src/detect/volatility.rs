//! Conditional volatility: how much a series is moving *now*, so a return is judged against the
//! current spread and not against an average over a hundred candles that mixes a calm week with
//! a wild one. Market volatility clusters; a 6σ move in a calm hour is a 2σ move in a wild one.
//!
//! # The filter
//!
//! The variance of the next in-session return is the RiskMetrics exponentially weighted average
//! of the squared past in-session returns (mean taken as zero), with the textbook decay
//! [`LAMBDA`] = 0.94 (J.P. Morgan/Reuters, *RiskMetrics — Technical Document*, 1996), not a value
//! fitted to any data:
//!
//! `σ²ᵢ = Σⱼ λʲ r²ᵢ₋₁₋ⱼ / Σⱼ λʲ` over the last [`WINDOW`] candle slots that hold an in-session
//! return.
//!
//! The window is finite: [`WINDOW`] = 75 slots is the RiskMetrics rule for the number of
//! observations that carries all but 1 % of the weight (`⌈ln 0.01 / ln 0.94⌉`), and the weights
//! are renormalised over the slots present. Each `σ²ᵢ` is summed afresh, newest slot first,
//! from the returns in its window (O(window) per candle), so it is a function of those 75
//! candles alone and bit-identical however a scan pages the series: there is no running state
//! that could carry a rounding from candles before the window. Returns are quantised to the
//! fixed-point grid of [`rolling::QUANTUM`](super::rolling::QUANTUM) first, so a flat window has
//! a variance of exactly 0 (and no reading) and float noise below 1e-12 cannot become a move.
//!
//! # Returns across a gap
//!
//! A return across a gap (a night, a weekend, a missing candle) does not feed the filter (it
//! would read a weekend as a volatile hour) and is judged against the in-session σ times the
//! series' own gap factor: the median |r/σ| of the gap returns of the last [`GAP_WINDOW`]
//! candles over the median |r/σ| of the in-session returns there. Medians, so one earlier jump
//! across a gap does not widen the next; a ratio, so the factor is that of the series whatever
//! the shape of its returns. With fewer than `MIN_GAP_RETURNS` gap returns (24/7 markets with
//! the odd missing candle) the factor is [`gap_scale`] of the time elapsed.

use super::rolling::{OrderWindow, QUANTUM, RankIndex, quantise};
use super::series::gap_scale;
use super::zscore::MIN_GAP_RETURNS;

/// The RiskMetrics decay factor for the variance of returns.
pub const LAMBDA: f64 = 0.94;
/// Slots in the finite EWMA: all but 1 % of the weight (`⌈ln 0.01 / ln λ⌉`).
pub const WINDOW: usize = 75;
/// In-session returns the window must hold before `σ` is estimated.
pub const MIN_RETURNS: usize = 20;
/// Candles whose gap and in-session returns give the gap factor.
pub const GAP_WINDOW: usize = 1_000;

/// Candles before candle `i` that its standardised return depends on: the gap window, each of
/// whose values depends on the EWMA window before it.
pub const LOOKBACK: usize = GAP_WINDOW + WINDOW + 1;

/// The filter's output for every candle of a series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditional {
    /// `σ` of one in-session return at candle `i`, from the returns before `i`; `None` with too
    /// few of them or a flat window.
    pub sigma: Vec<Option<f64>>,
    /// How many in-session `σ` the return of candle `i` spans: 1 in session, the gap factor
    /// after a gap.
    pub scale: Vec<f64>,
    /// The standardised return `rᵢ / (σᵢ · scaleᵢ)`, signed.
    pub z: Vec<Option<f64>>,
}

/// The decay weights `λʲ`, newest first.
fn weights() -> [f64; WINDOW] {
    let mut w = [1.0; WINDOW];
    for j in 1..WINDOW {
        w[j] = w[j - 1] * LAMBDA;
    }
    w
}

/// A return on the fixed-point grid.
fn on_grid(r: f64) -> f64 {
    quantise(r) as f64 * QUANTUM
}

impl Conditional {
    /// Runs the filter over `log_return` (against the previous stored candle), where `after_gap`
    /// says which returns span a gap and `elapsed` how many intervals each spans.
    pub fn new(log_return: &[Option<f64>], after_gap: &[bool], elapsed: &[f64]) -> Self {
        let n = log_return.len();
        let returns: Vec<Option<f64>> = log_return
            .iter()
            .map(|r| r.filter(|r| r.is_finite()).map(on_grid))
            .collect();
        // Squared in-session returns; gap returns and missing ones leave their slot empty.
        let squares: Vec<Option<f64>> = returns
            .iter()
            .zip(after_gap)
            .map(|(r, gap)| r.filter(|_| !gap).map(|r| r * r))
            .collect();
        let w = weights();
        let sigma: Vec<Option<f64>> = (0..n)
            .map(|i| {
                let (mut weighted, mut total, mut count) = (0.0, 0.0, 0);
                for (j, weight) in w.iter().enumerate().take(i) {
                    if let Some(s) = squares[i - 1 - j] {
                        weighted += weight * s;
                        total += weight;
                        count += 1;
                    }
                }
                (count >= MIN_RETURNS && weighted > 0.0).then(|| (weighted / total).sqrt())
            })
            .collect();
        let raw: Vec<Option<f64>> = returns
            .iter()
            .zip(&sigma)
            .map(|(r, s)| Some(r.as_ref()? / s.as_ref()?))
            .collect();
        let scale = gap_factors(&raw, after_gap, elapsed);
        let z = raw
            .iter()
            .zip(&scale)
            .map(|(z, s)| z.map(|z| z / s))
            .collect();
        Self { sigma, scale, z }
    }
}

/// The gap factor of every candle (1 in session), see the module documentation.
fn gap_factors(raw: &[Option<f64>], after_gap: &[bool], elapsed: &[f64]) -> Vec<f64> {
    let magnitude: Vec<Option<f64>> = raw.iter().map(|z| z.map(f64::abs)).collect();
    let index = RankIndex::new(magnitude.iter().flatten().copied());
    let mut session = OrderWindow::new(&index, GAP_WINDOW);
    let mut gaps = OrderWindow::new(&index, GAP_WINDOW);
    let mut out = Vec::with_capacity(raw.len());
    for (i, m) in magnitude.iter().enumerate() {
        let gap = after_gap[i];
        let factor = if !gap {
            1.0
        } else if gaps.len() >= MIN_GAP_RETURNS {
            match (gaps.median(), session.median()) {
                (Some(g), Some(s)) if g > 0.0 && s > 0.0 => g / s,
                _ => gap_scale(elapsed[i]),
            }
        } else {
            gap_scale(elapsed[i])
        };
        out.push(factor);
        session.push_slot(m.filter(|_| !gap));
        gaps.push_slot(m.filter(|_| gap));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(returns: &[f64]) -> Conditional {
        let r: Vec<Option<f64>> = std::iter::once(None)
            .chain(returns.iter().copied().map(Some))
            .collect();
        let n = r.len();
        Conditional::new(&r, &vec![false; n], &vec![1.0; n])
    }

    #[test]
    fn the_weights_leave_about_one_percent_beyond_the_window() {
        let w = weights();
        let beyond = LAMBDA.powi(WINDOW as i32);
        assert!(beyond < 0.01 && beyond / LAMBDA >= 0.01, "{beyond}");
        assert_eq!(w[0], 1.0);
        assert!((w[WINDOW - 1] - LAMBDA.powi(WINDOW as i32 - 1)).abs() < 1e-15);
    }

    #[test]
    fn a_flat_window_has_no_sigma_and_a_move_after_it_no_reading() {
        let mut returns = vec![0.0; 200];
        returns.push(0.05);
        let c = run(&returns);
        assert!(c.sigma.iter().all(Option::is_none));
        assert!(c.z.iter().all(Option::is_none));
    }

    #[test]
    fn sigma_follows_the_current_regime() {
        // 100 calm returns of ±0.001, then 30 of ±0.01: σ moves to the new level within the
        // window, as the weights say. Return `k` is at position `k + 1`.
        let returns: Vec<f64> = (0..130)
            .map(|i| {
                let size = if i < 100 { 0.001 } else { 0.01 };
                if i % 2 == 0 { size } else { -size }
            })
            .collect();
        let c = run(&returns);
        let calm = c.sigma[101].expect("σ");
        assert!((calm - 0.001).abs() < 1e-12, "{calm}");
        // σ at position 130 sees returns 54..=128, the newest 29 of them wild.
        let wild = c.sigma[130].expect("σ");
        let weight_new: f64 = weights()[..29].iter().sum::<f64>() / weights().iter().sum::<f64>();
        let expected = (weight_new * 1e-4 + (1.0 - weight_new) * 1e-6).sqrt();
        assert!(
            (wild - expected).abs() / expected < 1e-9,
            "{wild} vs {expected}"
        );
    }

    #[test]
    fn the_result_depends_only_on_the_lookback() {
        let returns: Vec<f64> = (0..3_000)
            .map(|i| ((i * 7919 % 1013) as f64 / 97.0).sin() * 0.01)
            .collect();
        let mut after_gap = vec![false; returns.len()];
        for i in (0..returns.len()).step_by(7) {
            after_gap[i] = true;
        }
        let elapsed: Vec<f64> = after_gap
            .iter()
            .map(|g| if *g { 3.0 } else { 1.0 })
            .collect();
        let r: Vec<Option<f64>> = returns.iter().copied().map(Some).collect();
        let full = Conditional::new(&r, &after_gap, &elapsed);
        // A candle after a gap: its σ and its gap factor both reach back.
        let at = 2_996;
        assert!(after_gap[at]);
        let start = at - LOOKBACK;
        let part = Conditional::new(&r[start..], &after_gap[start..], &elapsed[start..]);
        assert!(full.z[at].is_some());
        assert_eq!(
            full.z[at].map(f64::to_bits),
            part.z[at - start].map(f64::to_bits)
        );
        assert_eq!(full.scale[at].to_bits(), part.scale[at - start].to_bits());
    }
}
