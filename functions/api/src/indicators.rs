//! Moving averages of closing prices, for `GET /v1/prices/{symbol}/ma`.
//!
//! Computed in `f64`: an average is a derived view, not a stored price, and float arithmetic
//! cannot overflow or panic on extreme values the way fixed-point sums can.

use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use tickwatch::model::Candle;
use utoipa::ToSchema;

/// Which average.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AverageKind {
    /// The mean of the last `window` closes.
    Simple,
    /// Weights `2 / (window + 1)` on the newest close, seeded with the first window's mean.
    Exponential,
}

impl AverageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Simple => "sma",
            Self::Exponential => "ema",
        }
    }
}

/// The average at one candle.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Point {
    pub open_time: DateTime<Utc>,
    /// The candle's close.
    #[schema(value_type = String, example = "64333.90")]
    pub close: rust_decimal::Decimal,
    /// The average up to and including this candle.
    pub value: f64,
}

/// One point per candle of `oldest_first` that has `window` candles up to it, oldest first.
/// Fewer candles than `window` give no points; `window` must be at least 1.
pub fn moving_average(oldest_first: &[Candle], window: usize, kind: AverageKind) -> Vec<Point> {
    let window = window.max(1);
    if oldest_first.len() < window {
        return Vec::new();
    }
    let closes: Vec<f64> = oldest_first
        .iter()
        .map(|c| c.close.to_f64().unwrap_or(f64::NAN))
        .collect();
    let n = window as f64;
    let mut points = Vec::with_capacity(closes.len() + 1 - window);
    let mut sum: f64 = closes[..window].iter().sum();
    let mut ema = sum / n;
    let alpha = 2.0 / (n + 1.0);
    for i in (window - 1)..closes.len() {
        let value = match kind {
            AverageKind::Simple => {
                if i >= window {
                    sum += closes[i] - closes[i - window];
                }
                sum / n
            }
            AverageKind::Exponential => {
                if i >= window {
                    ema = alpha * closes[i] + (1.0 - alpha) * ema;
                }
                ema
            }
        };
        points.push(Point {
            open_time: oldest_first[i].open_time,
            close: oldest_first[i].close,
            value,
        });
    }
    points
}
