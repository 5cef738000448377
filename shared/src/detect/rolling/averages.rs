//! Simple and exponential moving averages of prices, as charting tools draw them: the API's
//! `/v1/prices/{symbol}/ma` is built on these, so the library holds the one implementation.
//!
//! The detector's own averages (see `detect::moving_average`) work on log prices through
//! [`super::ExactMoments`], whose fixed-point grid is sized for logs, not for prices, so prices
//! are averaged here in `f64`: an average is a derived view, and float arithmetic cannot
//! overflow on extreme prices the way fixed-point sums can.

use std::collections::VecDeque;

/// The simple moving average of the last `window` values; `None` until the window is full.
///
/// Each value is summed afresh from the window (windows are small: the API caps them at 200),
/// so an average depends on the values in its window alone, never on the rounding of values
/// that have left it.
#[derive(Debug, Clone)]
pub struct Sma {
    window: usize,
    values: VecDeque<f64>,
}

impl Sma {
    /// `window` values; 0 is treated as 1.
    pub fn new(window: usize) -> Self {
        let window = window.max(1);
        Self {
            window,
            values: VecDeque::with_capacity(window + 1),
        }
    }

    /// Adds `x` and returns the average once `window` values are in; a non-finite value makes
    /// the averages of the windows holding it `None`.
    pub fn push(&mut self, x: f64) -> Option<f64> {
        if self.values.len() == self.window {
            self.values.pop_front();
        }
        self.values.push_back(x);
        self.value()
    }

    /// The average of the window as it stands, without pushing; `None` until it is full or
    /// while it holds a non-finite value.
    pub fn value(&self) -> Option<f64> {
        if self.values.len() < self.window {
            return None;
        }
        let mean = self.values.iter().sum::<f64>() / self.window as f64;
        mean.is_finite().then_some(mean)
    }
}

/// The exponential moving average with `alpha = 2 / (period + 1)`, seeded with the simple
/// average of the first `period` values (the convention of TA-Lib and most charting tools), so
/// it has a value from the `period`-th input on.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    alpha: f64,
    seen: usize,
    seed_sum: f64,
    value: Option<f64>,
}

impl Ema {
    /// `period` must be at least 1 (0 is treated as 1).
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Self {
            period,
            alpha: 2.0 / (period as f64 + 1.0),
            seen: 0,
            seed_sum: 0.0,
            value: None,
        }
    }

    /// Adds `x` (non-finite values are ignored) and returns the average once it exists.
    pub fn push(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return self.value;
        }
        match self.value {
            Some(previous) => self.value = Some(previous + self.alpha * (x - previous)),
            None => {
                self.seen += 1;
                self.seed_sum += x;
                if self.seen == self.period {
                    self.value = Some(self.seed_sum / self.period as f64);
                }
            }
        }
        self.value
    }

    /// The average after the last push; `None` until `period` finite values have seeded it.
    pub fn value(&self) -> Option<f64> {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_wait_for_their_window() {
        let mut sma = Sma::new(3);
        let mut ema = Ema::new(3);
        assert_eq!((sma.push(1.0), ema.push(1.0)), (None, None));
        assert_eq!((sma.push(2.0), ema.push(2.0)), (None, None));
        assert_eq!((sma.push(3.0), ema.push(3.0)), (Some(2.0), Some(2.0)));
        assert_eq!(sma.push(7.0), Some(4.0));
        assert_eq!(ema.push(4.0), Some(3.0));
    }

    #[test]
    fn a_simple_average_forgets_what_left_its_window() {
        let mut sma = Sma::new(2);
        sma.push(1e17);
        sma.push(1.0);
        assert_eq!(sma.push(2.0), Some(1.5));
        sma.push(f64::NAN);
        assert_eq!(sma.value(), None);
        sma.push(4.0);
        assert_eq!(sma.push(6.0), Some(5.0));
    }
}
