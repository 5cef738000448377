//! A series prepared for the detectors: candle prices as `f64` columns, and log returns that
//! are only defined between adjacent candles.

use crate::model::Candle;
use rust_decimal::prelude::ToPrimitive;

/// One symbol's candles at one interval, oldest first, with the columns every method reads.
///
/// Prices are exact decimals in the database; detection is statistics, so they are converted
/// to `f64` once here. A return across a gap (a missing candle) is not a one-candle return and
/// is left undefined, so a gap never looks like a spike.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    pub candles: &'a [Candle],
    pub close: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    /// `None` where the source gave no volume.
    pub volume: Vec<Option<f64>>,
    /// `ln(close[i] / close[i-1])`, `None` for the first candle and after a gap.
    pub log_return: Vec<Option<f64>>,
}

impl<'a> Series<'a> {
    /// Prepares `candles`, which must be one series in ascending open time (as the queries
    /// return them); out-of-order or duplicate times count as gaps.
    pub fn new(candles: &'a [Candle]) -> Self {
        let f = |d: rust_decimal::Decimal| d.to_f64().unwrap_or(f64::NAN);
        let close: Vec<f64> = candles.iter().map(|c| f(c.close)).collect();
        let high = candles.iter().map(|c| f(c.high)).collect();
        let low = candles.iter().map(|c| f(c.low)).collect();
        let volume = candles
            .iter()
            .map(|c| c.volume.and_then(|v| v.to_f64()).filter(|v| v.is_finite()))
            .collect();
        let mut log_return = Vec::with_capacity(candles.len());
        for (i, candle) in candles.iter().enumerate() {
            let value = (i > 0)
                .then(|| &candles[i - 1])
                .filter(|prev| candle.open_time - prev.open_time == candle.interval.duration())
                .map(|_| (close[i] / close[i - 1]).ln())
                .filter(|r| r.is_finite());
            log_return.push(value);
        }
        Self {
            candles,
            close,
            high,
            low,
            volume,
            log_return,
        }
    }

    pub fn len(&self) -> usize {
        self.candles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.candles.is_empty()
    }
}
