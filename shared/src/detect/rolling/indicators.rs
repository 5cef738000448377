//! Technical indicators: Wilder's RSI and Bollinger bands.

use super::RollingMoments;

/// The relative strength index with Wilder's smoothing: the first average gain and loss are
/// the simple means of the first `period` changes, later ones
/// `avg = (avg * (period - 1) + change) / period` (TA-Lib's definition). Yields a value from
/// the `period + 1`-th price on.
#[derive(Debug, Clone)]
pub struct WilderRsi {
    period: usize,
    previous: Option<f64>,
    changes: usize,
    gain: f64,
    loss: f64,
    ready: bool,
}

impl WilderRsi {
    /// `period` must be at least 1 (0 is treated as 1).
    pub fn new(period: usize) -> Self {
        Self {
            period: period.max(1),
            previous: None,
            changes: 0,
            gain: 0.0,
            loss: 0.0,
            ready: false,
        }
    }

    /// Adds a price (non-finite ones are ignored) and returns the RSI once it exists.
    pub fn push(&mut self, price: f64) -> Option<f64> {
        if !price.is_finite() {
            return self.value();
        }
        let previous = self.previous.replace(price)?;
        let change = price - previous;
        let (gain, loss) = (change.max(0.0), (-change).max(0.0));
        let n = self.period as f64;
        if self.ready {
            self.gain = (self.gain * (n - 1.0) + gain) / n;
            self.loss = (self.loss * (n - 1.0) + loss) / n;
        } else {
            self.changes += 1;
            self.gain += gain;
            self.loss += loss;
            if self.changes == self.period {
                self.gain /= n;
                self.loss /= n;
                self.ready = true;
            }
        }
        self.value()
    }

    /// The current RSI in 0–100; 50 when prices have not moved at all.
    pub fn value(&self) -> Option<f64> {
        if !self.ready {
            return None;
        }
        let total = self.gain + self.loss;
        Some(if total == 0.0 {
            50.0
        } else {
            100.0 * self.gain / total
        })
    }
}

/// One set of Bollinger bands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerBands {
    pub middle: f64,
    pub upper: f64,
    pub lower: f64,
    /// The population standard deviation of the window the bands were drawn from.
    pub std: f64,
}

/// Bollinger bands: the simple average of the last `window` prices (the current one included)
/// plus and minus `k` population standard deviations, as Bollinger and TA-Lib define them.
#[derive(Debug, Clone)]
pub struct Bollinger {
    moments: RollingMoments,
    k: f64,
}

impl Bollinger {
    pub fn new(window: usize, k: f64) -> Self {
        Self {
            moments: RollingMoments::new(window),
            k,
        }
    }

    /// Adds a price and returns the bands once the window is full.
    pub fn push(&mut self, price: f64) -> Option<BollingerBands> {
        self.moments.push(price);
        if !self.moments.is_full() {
            return None;
        }
        let middle = self.moments.mean()?;
        let std = self.moments.std(0)?;
        Some(BollingerBands {
            middle,
            upper: middle + self.k * std,
            lower: middle - self.k * std,
            std,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsi_is_a_hundred_when_prices_only_rise_and_fifty_when_flat() {
        let mut rsi = WilderRsi::new(3);
        let values: Vec<_> = [1.0, 2.0, 3.0, 4.0, 5.0]
            .into_iter()
            .map(|p| rsi.push(p))
            .collect();
        assert_eq!(values, [None, None, None, Some(100.0), Some(100.0)]);
        let mut flat = WilderRsi::new(2);
        for _ in 0..5 {
            flat.push(10.0);
        }
        assert_eq!(flat.value(), Some(50.0));
    }
}
