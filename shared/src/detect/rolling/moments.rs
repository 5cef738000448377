//! Rolling mean and variance with Welford's update and its inverse, so a value can leave the
//! window as cheaply as it entered.

use std::collections::VecDeque;

/// Mean and variance of the last `window` values pushed.
///
/// Welford's recurrences keep the sum of squared deviations (`m2`) directly instead of a sum of
/// squares, which would cancel catastrophically for prices far from zero with a small spread.
#[derive(Debug, Clone)]
pub struct RollingMoments {
    window: usize,
    values: VecDeque<f64>,
    mean: f64,
    m2: f64,
}

impl RollingMoments {
    /// A window of `window` values; `window` must be at least 1 (0 is treated as 1).
    pub fn new(window: usize) -> Self {
        let window = window.max(1);
        Self {
            window,
            values: VecDeque::with_capacity(window + 1),
            mean: 0.0,
            m2: 0.0,
        }
    }

    /// Adds `x`, evicting the oldest value once the window is full. Non-finite values are
    /// ignored: one NaN would otherwise poison the window until it left it.
    pub fn push(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        if self.values.len() == self.window
            && let Some(old) = self.values.pop_front()
        {
            self.remove(old);
        }
        self.values.push_back(x);
        let n = self.values.len() as f64;
        let delta = x - self.mean;
        self.mean += delta / n;
        self.m2 += delta * (x - self.mean);
    }

    fn remove(&mut self, x: f64) {
        let n = self.values.len();
        if n == 0 {
            self.mean = 0.0;
            self.m2 = 0.0;
            return;
        }
        let n = n as f64;
        let delta = x - self.mean;
        self.mean -= delta / n;
        self.m2 -= delta * (x - self.mean);
        if self.m2 < 0.0 {
            // Rounding can leave a tiny negative remainder when the window is constant.
            self.m2 = 0.0;
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// True once `window` values are in.
    pub fn is_full(&self) -> bool {
        self.values.len() == self.window
    }

    /// The mean of the window, `None` while it is empty.
    pub fn mean(&self) -> Option<f64> {
        (!self.values.is_empty()).then_some(self.mean)
    }

    /// The variance with `ddof` delta degrees of freedom (1: sample, as pandas; 0: population,
    /// as Bollinger bands), `None` while fewer than `ddof + 1` values are in.
    pub fn variance(&self, ddof: usize) -> Option<f64> {
        let n = self.values.len();
        (n > ddof).then(|| self.m2 / (n - ddof) as f64)
    }

    /// The standard deviation, see [`RollingMoments::variance`].
    pub fn std(&self, ddof: usize) -> Option<f64> {
        self.variance(ddof).map(f64::sqrt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_window_has_zero_variance_and_never_a_negative_one() {
        let mut m = RollingMoments::new(3);
        for _ in 0..10 {
            m.push(0.1);
        }
        assert_eq!(m.mean(), Some(0.1));
        assert!(m.variance(1).expect("three values") >= 0.0);
    }

    #[test]
    fn nan_is_ignored_and_short_windows_have_no_variance() {
        let mut m = RollingMoments::new(5);
        m.push(f64::NAN);
        assert_eq!(m.mean(), None);
        m.push(2.0);
        assert_eq!(m.variance(1), None);
        assert_eq!(m.variance(0), Some(0.0));
        m.push(4.0);
        assert_eq!(m.mean(), Some(3.0));
        assert_eq!(m.variance(1), Some(2.0));
    }
}
