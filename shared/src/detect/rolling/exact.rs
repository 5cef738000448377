//! Exact sliding sums: mean and variance over the last `window` candle slots, kept as integer
//! sums of fixed-point values.
//!
//! A floating-point running sum that values enter and leave (Welford with an inverse step, or a
//! plain sum of squares) carries the rounding of every value it has ever seen. Two runs that
//! start the window at different candles then disagree in the last bits, and a window that has
//! become constant keeps a variance of 1e-20 instead of 0, which a z-score divides by. Here
//! every value is quantised once to an integer multiple of [`QUANTUM`] and the sums are exact
//! `i128` integers, so the mean and variance of a window are a function of the values in it
//! alone: any split of the work gives the same bits, and a constant window has a variance of
//! exactly 0.

use std::collections::VecDeque;

/// Resolution of the fixed-point values: 1e-12 (a log return of 1e-12 is a move of 1e-10 %).
pub const QUANTUM: f64 = 1e-12;
/// Values are clamped to this magnitude before quantising. The statistics kept here are logs of
/// prices and their differences, which stay within ±40 for prices from 1e-8 to 1e7; the bound
/// keeps `window · Σq²` inside `i128` for windows up to 100,000.
pub const LIMIT: f64 = 64.0;

/// A value on the fixed-point grid.
pub fn quantise(x: f64) -> i64 {
    (x.clamp(-LIMIT, LIMIT) / QUANTUM).round() as i64
}

/// Mean and variance of the values in the last `window` slots. A slot may be empty (a candle
/// that has no value for this statistic); it still ages out of the window like the others, so
/// the window always covers the same stretch of candles.
#[derive(Debug, Clone)]
pub struct ExactMoments {
    window: usize,
    slots: VecDeque<Option<i64>>,
    count: i64,
    sum: i128,
    sum_squares: i128,
}

impl ExactMoments {
    /// `window` slots; 0 is treated as 1.
    pub fn new(window: usize) -> Self {
        let window = window.max(1);
        Self {
            window,
            slots: VecDeque::with_capacity(window + 1),
            count: 0,
            sum: 0,
            sum_squares: 0,
        }
    }

    /// Moves the window on by one slot holding `value` (`None`, NaN and infinities leave the
    /// slot empty).
    pub fn push(&mut self, value: Option<f64>) {
        if self.slots.len() == self.window
            && let Some(Some(old)) = self.slots.pop_front()
        {
            self.count -= 1;
            self.sum -= i128::from(old);
            self.sum_squares -= i128::from(old) * i128::from(old);
        }
        let q = value.filter(|v| v.is_finite()).map(quantise);
        if let Some(q) = q {
            self.count += 1;
            self.sum += i128::from(q);
            self.sum_squares += i128::from(q) * i128::from(q);
        }
        self.slots.push_back(q);
    }

    /// How many slots hold a value.
    pub fn count(&self) -> usize {
        self.count as usize
    }

    /// The mean of the values in the window, `None` when it holds none.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64 * QUANTUM)
    }

    /// The variance with `ddof` delta degrees of freedom (1: sample, as pandas; 0: population,
    /// as Bollinger bands); `None` with `ddof` values or fewer. Exactly 0 for a constant window.
    pub fn variance(&self, ddof: usize) -> Option<f64> {
        let n = self.count;
        let ddof = ddof as i64;
        if n <= ddof {
            return None;
        }
        // n·Σq² − (Σq)² is an exact integer: n² times the population variance in quanta².
        let numerator = i128::from(n) * self.sum_squares - self.sum * self.sum;
        let denominator = (n as f64) * ((n - ddof) as f64);
        Some((numerator as f64 / denominator) * QUANTUM * QUANTUM)
    }

    /// The standard deviation, see [`ExactMoments::variance`].
    pub fn std(&self, ddof: usize) -> Option<f64> {
        self.variance(ddof).map(f64::sqrt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_window_has_a_variance_of_exactly_zero_whatever_came_before() {
        let mut m = ExactMoments::new(5);
        for x in [0.3, -1.7, 12.25, 0.1, 0.1, 0.1, 0.1, 0.1] {
            m.push(Some(x));
        }
        assert_eq!(m.variance(1), Some(0.0));
        assert_eq!(m.std(0), Some(0.0));
        assert_eq!(m.mean(), Some(quantise(0.1) as f64 * QUANTUM));
    }

    #[test]
    fn the_moments_depend_only_on_the_values_in_the_window() {
        let data: Vec<f64> = (0..500)
            .map(|i| ((i * 7919 % 1013) as f64 / 97.0).sin() * 3.0)
            .collect();
        let window = 37;
        let mut long = ExactMoments::new(window);
        for &x in &data {
            long.push(Some(x));
        }
        let mut short = ExactMoments::new(window);
        for &x in &data[data.len() - window..] {
            short.push(Some(x));
        }
        assert_eq!(
            long.mean().map(f64::to_bits),
            short.mean().map(f64::to_bits)
        );
        assert_eq!(
            long.variance(1).map(f64::to_bits),
            short.variance(1).map(f64::to_bits)
        );
    }

    #[test]
    fn empty_slots_age_out_like_full_ones() {
        let mut m = ExactMoments::new(3);
        m.push(Some(1.0));
        m.push(None);
        m.push(Some(3.0));
        assert_eq!(m.count(), 2);
        assert_eq!(m.mean(), Some(2.0));
        m.push(None);
        assert_eq!(m.count(), 1, "the 1.0 left with its slot");
        assert_eq!(m.variance(1), None);
        assert_eq!(m.variance(0), Some(0.0));
        m.push(Some(f64::NAN));
        assert_eq!(m.count(), 1);
    }

    #[test]
    fn sample_variance_matches_the_textbook_formula() {
        let mut m = ExactMoments::new(10);
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            m.push(Some(x));
        }
        assert_eq!(m.mean(), Some(5.0));
        assert!((m.variance(0).expect("values") - 4.0).abs() < 1e-12);
        assert!((m.variance(1).expect("values") - 32.0 / 7.0).abs() < 1e-12);
    }
}
