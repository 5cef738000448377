//! A series prepared for the detectors: candle prices as `f64` columns, their logarithms, and
//! returns against the previous *stored* candle with the time that passed since it.

use crate::model::{Candle, Interval};
use rust_decimal::prelude::ToPrimitive;
use std::sync::OnceLock;

use super::volatility::Conditional;

/// One symbol's candles at one interval, oldest first, with the columns every method reads.
///
/// Prices are exact decimals in the database; detection is statistics, so they are converted
/// to `f64` once here. Every method works on logarithms of prices, so a coin at 1e-8 and an
/// index at 1e7 look alike to it.
///
/// A return is taken against the previous stored candle however long ago it opened: the first
/// candle after a weekend, an overnight close or a missing candle is judged like any other,
/// and `elapsed` says how many intervals the return spans so the methods can judge it against
/// returns that spanned a gap too.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// The candles as read from the store; every column below has one entry per candle.
    pub candles: &'a [Candle],
    /// The first candle's interval; `None` only for an empty series.
    pub interval: Option<Interval>,
    /// Closes as `f64`; NaN where the decimal does not convert.
    pub close: Vec<f64>,
    /// Highs as `f64`; NaN where the decimal does not convert.
    pub high: Vec<f64>,
    /// Lows as `f64`; NaN where the decimal does not convert.
    pub low: Vec<f64>,
    /// `ln(close)`; NaN where the close is unusable.
    pub log_close: Vec<f64>,
    /// `None` where the source gave no volume.
    pub volume: Vec<Option<f64>>,
    /// `ln(close[i] / close[i-1])` against the previous stored candle; `None` for the first.
    pub log_return: Vec<Option<f64>>,
    /// Intervals between a candle's open and the previous stored candle's (1 when adjacent).
    pub elapsed: Vec<f64>,
    /// Open times in seconds since the epoch.
    pub open_seconds: Vec<i64>,
    /// The conditional-volatility filter, run once when a method first asks for it.
    conditional: OnceLock<Conditional>,
}

impl<'a> Series<'a> {
    /// Prepares `candles`, which must be one series in ascending open time (as the queries
    /// return them).
    pub fn new(candles: &'a [Candle]) -> Self {
        let f = |d: rust_decimal::Decimal| d.to_f64().unwrap_or(f64::NAN);
        let close: Vec<f64> = candles.iter().map(|c| f(c.close)).collect();
        let high = candles.iter().map(|c| f(c.high)).collect();
        let low = candles.iter().map(|c| f(c.low)).collect();
        let log_close: Vec<f64> = close
            .iter()
            .map(|c| if *c > 0.0 { c.ln() } else { f64::NAN })
            .collect();
        let volume = candles
            .iter()
            .map(|c| c.volume.and_then(|v| v.to_f64()).filter(|v| v.is_finite()))
            .collect();
        let interval = candles.first().map(|c| c.interval);
        let open_seconds: Vec<i64> = candles.iter().map(|c| c.open_time.timestamp()).collect();
        let step = interval.map_or(1, |i| i.seconds()) as f64;
        let mut log_return = Vec::with_capacity(candles.len());
        let mut elapsed = Vec::with_capacity(candles.len());
        for i in 0..candles.len() {
            if i == 0 {
                log_return.push(None);
                elapsed.push(1.0);
                continue;
            }
            let r = log_close[i] - log_close[i - 1];
            log_return.push(r.is_finite().then_some(r));
            elapsed.push(((open_seconds[i] - open_seconds[i - 1]) as f64 / step).max(1.0));
        }
        Self {
            candles,
            interval,
            close,
            high,
            low,
            log_close,
            volume,
            log_return,
            elapsed,
            open_seconds,
            conditional: OnceLock::new(),
        }
    }

    /// Returns standardised by the current volatility (see [`super::volatility`]), shared by
    /// the methods that read them.
    pub fn conditional(&self) -> &Conditional {
        self.conditional.get_or_init(|| {
            let after_gap: Vec<bool> = (0..self.len()).map(|i| self.after_gap(i)).collect();
            Conditional::new(&self.log_return, &after_gap, &self.elapsed)
        })
    }

    /// Candles in the series.
    pub fn len(&self) -> usize {
        self.candles.len()
    }

    /// True for a series without candles (every method then returns no readings).
    pub fn is_empty(&self) -> bool {
        self.candles.is_empty()
    }

    /// The calendar time candle `i` stands for: the time the `window` candles before it span,
    /// per candle (one interval at the start of a series, and never less). A 24/7 series'
    /// candles stand for one interval each; a stock's, closed at night and at weekends, for
    /// more. Depends only on candles `i - window ..= i`.
    pub fn seconds_per_candle(&self, i: usize, window: usize) -> f64 {
        let step = self.interval.map_or(1, |i| i.seconds()) as f64;
        let w = window.min(i);
        if w == 0 {
            return step;
        }
        ((self.open_seconds[i] - self.open_seconds[i - w]) as f64 / w as f64).max(step)
    }

    /// Whether candle `i` follows a gap (a weekend, a night, a missing candle).
    pub fn after_gap(&self, i: usize) -> bool {
        self.elapsed.get(i).is_some_and(|e| *e > 1.0)
    }
}

/// How much wider the spread of a return across `elapsed` intervals is assumed to be when a
/// series has too few such returns of its own to measure it: `sqrt(1 + ln(elapsed))`. A random
/// walk would say `sqrt(elapsed)`, but markets move far less while closed than while trading
/// (a weekend is not three trading days), and `sqrt(elapsed)` would hide a 6σ Monday move.
pub fn gap_scale(elapsed: f64) -> f64 {
    (1.0 + elapsed.max(1.0).ln()).sqrt()
}
