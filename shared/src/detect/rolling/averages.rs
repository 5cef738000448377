//! Simple and exponential moving averages.

use super::RollingMoments;

/// The simple moving average of the last `window` values; `None` until the window is full.
#[derive(Debug, Clone)]
pub struct Sma {
    moments: RollingMoments,
}

impl Sma {
    pub fn new(window: usize) -> Self {
        Self {
            moments: RollingMoments::new(window),
        }
    }

    /// Adds `x` and returns the average once `window` values are in.
    pub fn push(&mut self, x: f64) -> Option<f64> {
        self.moments.push(x);
        self.value()
    }

    pub fn value(&self) -> Option<f64> {
        if self.moments.is_full() {
            self.moments.mean()
        } else {
            None
        }
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
}
