//! Anomaly detection: a [`Detector`] trait, one module per method, the rolling statistics they
//! share, their configuration, and the run that feeds them from the database.
//!
//! A detector sees one series (one symbol at one interval) as a [`Series`] and the index of the
//! first candle it should judge; the candles before it are only history for its windows. So
//! the same code serves an incremental run (a little history plus the new candles) and a rescan
//! (a range recomputed whole).

pub mod config;
mod iqr;
mod isolation_forest;
mod moving_average;
mod pct_change;
pub mod rolling;
pub mod run;
mod series;
mod technical;
mod volume_spike;
mod zscore;

pub use config::{DetectorConfig, InvalidParams};
pub use iqr::{Iqr, IqrParams};
pub use isolation_forest::{IsolationForest, IsolationForestParams};
pub use moving_average::{AverageKind, MovingAverage, MovingAverageParams};
pub use pct_change::{PctChange, PctChangeParams};
pub use series::Series;
pub use technical::{Technical, TechnicalParams};
pub use volume_spike::{VolumeSpike, VolumeSpikeParams};
pub use zscore::{ZScore, ZScoreParams};

use crate::model::{Anomaly, AnomalyKind, Method, Score};

/// One detection method with validated parameters.
pub trait Detector: std::fmt::Debug + Send + Sync {
    /// The method this detector implements; every anomaly it returns carries it.
    fn method(&self) -> Method;

    /// How many candles before the first one to judge the method needs to have full windows.
    fn lookback(&self) -> usize;

    /// Judges the candles of `series` from index `from` on and returns what it finds. Earlier
    /// candles only fill windows. Never panics: short series, gaps and missing volumes give
    /// fewer findings, not wrong ones.
    fn detect(&self, series: &Series<'_>, from: usize) -> Vec<Anomaly>;
}

/// Maps how far a statistic went past its threshold (`ratio` = statistic / threshold, at least
/// 1 when it fired) onto a 0–1 score: 0 at the threshold, 0.5 at twice it, 0.9 at ten times.
/// Rounded to six decimals, so a rescan that differs only in rounding rewrites no row.
pub(crate) fn ratio_score(ratio: f64) -> Score {
    if ratio.is_nan() || ratio <= 0.0 {
        return Score::saturating(0.0);
    }
    Score::saturating(((1.0 - 1.0 / ratio) * 1e6).round() / 1e6)
}

/// Builds an anomaly on candle `index` of `series`. Details are always a JSON object here, so
/// the only failure `Anomaly::new` knows cannot occur; it is dropped rather than unwrapped.
pub(crate) fn finding(
    series: &Series<'_>,
    index: usize,
    method: Method,
    kind: AnomalyKind,
    score: Score,
    details: serde_json::Value,
) -> Option<Anomaly> {
    let candle = series.candles.get(index)?;
    Anomaly::new(
        candle.symbol.clone(),
        candle.interval,
        candle.open_time,
        method,
        kind,
        score,
        details,
    )
    .ok()
}

/// Rounds a value shown in `details` to 10 significant digits, so the stored JSON is readable
/// and a re-run that differs only in the last bits of a float does not count as a change.
pub(crate) fn round(value: f64) -> f64 {
    if !value.is_finite() || value == 0.0 {
        return value;
    }
    let digits = 9 - value.abs().log10().floor() as i32;
    let factor = 10f64.powi(digits.clamp(-300, 300));
    (value * factor).round() / factor
}

#[cfg(test)]
mod tests;
