//! Anomaly detection: one calibrated score per candle, and events where it runs high.
//!
//! # The model
//!
//! 1. **Statistics.** Every enabled method ([`Detector`]) turns the candles into one continuous
//!    statistic per candle it can judge (a magnitude: larger is more unusual), computed only
//!    from the candles at or before it within a fixed lookback, on logarithms of prices:
//!
//!    | method | statistic | group |
//!    |---|---|---|
//!    | `pct_change` | \|close / previous close − 1\| | price |
//!    | `zscore` | \|z\| of the log return against the trailing returns of its regime | price |
//!    | `iqr` | \|return − median\| / IQR of the trailing returns of its regime | price |
//!    | `conditional_z` | \|return\| / conditional σ (RiskMetrics EWMA, [`volatility`]) | price |
//!    | `multi_horizon` | \|sum of the last 2, 3, 6 returns less their largest\| / (σ √kept) | price |
//!    | `variance_ratio` | last 6 squared returns less the largest / (5 σ² before them) | volatility |
//!    | `moving_average` | \|log close − trailing average\| in spreads of that deviation | level |
//!    | `technical` | \|Bollinger z\| of the log close (RSI as evidence) | level |
//!    | `volume_spike` | robust z of log volume (median, 1.4826 · MAD) | volume |
//!    | `isolation_forest` | isolation score, forest fitted on trailing history only | multivariate |
//!    | `stale_feed` | a run of unchanged flat candles, as a probability | feed |
//!
//!    Returns are taken against the previous *stored* candle; a return across a gap (a night,
//!    a weekend, a missing candle) is judged against the series' own trailing gap returns when
//!    it has enough of them, otherwise against its ordinary returns widened by
//!    [`series::gap_scale`]. Nothing is skipped after a gap.
//!
//! 2. **Calibration** ([`calibrate`]). Each statistic becomes a tail probability `p` against
//!    that method's own trailing distribution for the series (the last
//!    `DETECTOR_CALIBRATION_WINDOW` candles): the empirical rank below the largest 10 % of
//!    them, and beyond it a generalised Pareto tail fitted to quantiles of those largest values
//!    (peaks over threshold), which is what lets a once-a-decade move be told from a
//!    once-a-month one, and which a few earlier anomalies in the window cannot distort.
//!
//! 3. **Consensus** ([`consensus`]). Methods that look at the same thing are not independent
//!    witnesses, so they are grouped (price, level, volume, volatility, multivariate, feed) and
//!    a group speaks with its smallest `p`. The groups are combined by the weighted Simes rule
//!    `p = min over r of p₍r₎ / (w₍₁₎ + … + w₍r₎)` (groups ordered by `p / w`, weights
//!    renormalised over the groups present): a weighted union bound for "some group this
//!    extreme", tightened when several groups agree, and valid when groups move together.
//!
//! 4. **Score** ([`recurrence`]). `p` per candle becomes a recurrence time `t / p`, with `t`
//!    the calendar time one candle stands for over the calibration window (an interval for a
//!    24/7 market, more for a stock that closes at night and at weekends), and the score maps
//!    it to [0, 1] on a log scale: 0 for once a day or more often, 1 for once a century. Severity follows the recurrence: `low` rarer than weekly, `medium` monthly,
//!    `high` yearly, `critical` once a decade.
//!
//! 5. **Events** ([`events`]). An anomaly is a run of candles whose score passes the threshold
//!    (runs a few candles apart merge), stored once with its peak, severity and the evidence
//!    of the methods that contributed.
//!
//! Every step is a deterministic function of the stored candles within a fixed lookback: the
//! rolling sums are exact integers ([`rolling::ExactMoments`]), order statistics select stored
//! values, the forest is refitted on an absolute-time schedule. So an incremental run with any
//! page size and a full rescan give bit-identical scores.

pub mod calibrate;
mod conditional_z;
pub mod config;
pub mod consensus;
pub mod eval;
pub mod events;
mod iqr;
mod isolation_forest;
mod moving_average;
mod multi_horizon;
mod pct_change;
pub mod recurrence;
pub mod rolling;
pub mod run;
pub mod score;
pub mod series;
mod stale_feed;
mod technical;
mod variance_ratio;
pub mod volatility;
mod volume_spike;
mod zscore;

pub use conditional_z::{ConditionalZ, ConditionalZParams};
pub use config::{DetectorConfig, InvalidParams};
pub use iqr::{Iqr, IqrParams};
pub use isolation_forest::{IsolationForest, IsolationForestParams};
pub use moving_average::{AverageKind, MovingAverage, MovingAverageParams};
pub use multi_horizon::{MultiHorizon, MultiHorizonParams};
pub use pct_change::{PctChange, PctChangeParams};
pub use score::{CandleScore, MethodReading, Scorer};
pub use series::Series;
pub use stale_feed::{StaleFeed, StaleFeedParams};
pub use technical::{Technical, TechnicalParams};
pub use variance_ratio::{VarianceRatio, VarianceRatioParams};
pub use volume_spike::{VolumeSpike, VolumeSpikeParams};
pub use zscore::{ZScore, ZScoreParams};

use crate::model::Method;

/// What a method said about one candle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The statistic, a magnitude: larger is more unusual.
    pub statistic: f64,
    /// +1 for an upward move, −1 for a downward one, 0 where there is no direction.
    pub direction: i8,
    /// A method that knows its own null distribution (the stale-feed run probability) gives
    /// its tail probability here; the others are calibrated against their trailing values.
    pub p: Option<f64>,
}

impl Reading {
    pub(crate) fn signed(value: f64) -> Option<Self> {
        value.is_finite().then(|| Self {
            statistic: value.abs(),
            direction: if value > 0.0 {
                1
            } else if value < 0.0 {
                -1
            } else {
                0
            },
            p: None,
        })
    }
}

/// Which kind of evidence a method weighs; methods of one group are not independent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// Single-candle and short multi-candle returns (pct change, z-scores, IQR, horizons).
    Price,
    /// Where the close lies against its own recent levels (moving average, Bollinger).
    Level,
    /// Traded volume.
    Volume,
    /// Bursts in the size of returns rather than any one return.
    Volatility,
    /// Several features at once (isolation forest).
    Multivariate,
    /// The health of the source itself (stale feed), not the market.
    Feed,
}

impl Group {
    /// Lower-case name (`price`, `level`, …), for logs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Price => "price",
            Self::Level => "level",
            Self::Volume => "volume",
            Self::Volatility => "volatility",
            Self::Multivariate => "multivariate",
            Self::Feed => "feed",
        }
    }
}

/// The group each method belongs to.
pub fn group_of(method: Method) -> Group {
    match method {
        Method::PctChange
        | Method::ZScore
        | Method::Iqr
        | Method::ConditionalZ
        | Method::MultiHorizon => Group::Price,
        Method::MovingAverage | Method::Technical => Group::Level,
        Method::VolumeSpike => Group::Volume,
        Method::VarianceRatio => Group::Volatility,
        Method::IsolationForest => Group::Multivariate,
        Method::StaleFeed => Group::Feed,
    }
}

/// One detection method with validated parameters.
pub trait Detector: std::fmt::Debug + Send + Sync {
    /// The method this detector implements.
    fn method(&self) -> Method;

    /// The kind of evidence it weighs.
    fn group(&self) -> Group;

    /// How many stored candles before a candle its reading depends on. The scan reads this
    /// much history (plus the calibration window) before the first candle it judges.
    fn lookback(&self) -> usize;

    /// One reading per candle of `series` (`None` where the method cannot judge: too little
    /// history, no volume, a window without spread). The reading of candle `i` depends only on
    /// candles `i - lookback ..= i`. Never panics.
    fn readings(&self, series: &Series<'_>) -> Vec<Option<Reading>>;

    /// Extra facts a person would check for candle `index` (e.g. the RSI); `Null` by default.
    fn evidence(&self, _series: &Series<'_>, _index: usize) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// Rounds a value shown in `details` to 10 significant digits, so the stored JSON is readable.
pub(crate) fn round(value: f64) -> f64 {
    if !value.is_finite() || value == 0.0 {
        return value;
    }
    let digits = 9 - value.abs().log10().floor() as i32;
    let factor = 10f64.powi(digits.clamp(-300, 300));
    (value * factor).round() / factor
}

#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod tests;
