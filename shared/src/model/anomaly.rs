//! Anomalies: events where a series' consensus score ran high — when, how rare, and why.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::watch::named_enum;
use super::{Interval, Symbol};

named_enum!(
    /// The detection method that fired. One module per method in `detect`.
    Method, "method" {
        /// Percentage change of the close from the previous close.
        PctChange => "pct_change",
        /// Rolling z-score of log returns against the window before the candle.
        ZScore => "zscore",
        /// Distance of the log return from the median, in interquartile ranges.
        Iqr => "iqr",
        /// A return in units of the series' current (RiskMetrics) volatility.
        ConditionalZ => "conditional_z",
        /// A move spread over a few candles that no single return shows.
        MultiHorizon => "multi_horizon",
        /// A burst of volatility: recent realised variance against the usual.
        VarianceRatio => "variance_ratio",
        /// Isolation forest over return, range and volume features: an unusual mix.
        IsolationForest => "isolation_forest",
        /// Distance of the log close from its moving average: a level that left its range.
        MovingAverage => "moving_average",
        /// Log volume far above the median of the window before it.
        VolumeSpike => "volume_spike",
        /// The close against its Bollinger bands.
        Technical => "technical",
        /// A run of untraded candles (close unchanged, no range) longer than the series makes likely.
        StaleFeed => "stale_feed",
    }
);

named_enum!(
    /// What the anomaly looks like to a person watching the market.
    AnomalyKind, "kind" {
        /// A price jump up.
        Spike => "spike",
        /// A price fall.
        Drop => "drop",
        /// Volume far above the usual, whatever the price did.
        VolumeSpike => "volume_spike",
        /// Many candles moving far more than usual, none of them extreme alone.
        VolatilityBurst => "volatility_burst",
        /// An unusual combination of features (isolation forest) with no single clear reading.
        Outlier => "outlier",
        /// The feed stopped moving: prices flat for longer than the series makes likely.
        StaleFeed => "stale_feed",
    }
);

named_enum!(
    /// How rare an anomaly is: `low` rarer than weekly, `medium` monthly, `high` yearly,
    /// `critical` once a decade (see `detect::recurrence`).
    Severity, "severity" {
        /// Expected to recur about weekly or more rarely.
        Low => "low",
        /// About monthly or more rarely.
        Medium => "medium",
        /// About yearly or more rarely.
        High => "high",
        /// About once a decade or more rarely.
        Critical => "critical",
    }
);

/// A consensus score in the closed range 0–1: the candle's recurrence time on a log scale from
/// a day (0) to a century (1).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Score(f64);

/// Why an anomaly could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnomalyError {
    /// The score was NaN, infinite or outside 0–1; the detector that made it is at fault.
    #[error("score {0} is not a finite number in 0..=1")]
    ScoreOutOfRange(f64),
    /// `details` was JSON but not an object; the detector that built it is at fault.
    #[error("details must be a JSON object")]
    DetailsNotAnObject,
}

impl Score {
    /// A score exactly as given; fails with [`AnomalyError::ScoreOutOfRange`] unless it is a
    /// finite number in 0–1 (use [`Score::saturating`] to clamp instead).
    pub fn new(value: f64) -> Result<Self, AnomalyError> {
        if value.is_finite() && (0.0..=1.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(AnomalyError::ScoreOutOfRange(value))
        }
    }

    /// Squashes any non-negative strength (a z-score, a ratio over a threshold) into 0–1;
    /// NaN becomes 0 so a degenerate window can never raise an alarm by accident.
    pub fn saturating(value: f64) -> Self {
        if value.is_nan() {
            Self(0.0)
        } else {
            Self(value.clamp(0.0, 1.0))
        }
    }

    /// The score as a plain number in 0–1.
    pub fn value(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Score {
    type Error = AnomalyError;
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Score> for f64 {
    fn from(score: Score) -> Self {
        score.0
    }
}

/// One anomaly: a run of candles of one series whose consensus score passed the threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Anomaly {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "BTC"))]
    /// Ticker of the series, e.g. `BTC`.
    pub symbol: Symbol,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1h"))]
    /// Candle width of the series the anomaly was found in.
    pub interval: Interval,
    /// Open time of the first candle of the run.
    pub start_time: DateTime<Utc>,
    /// Open time of the last candle of the run.
    pub end_time: DateTime<Utc>,
    /// Open time of the candle with the highest score.
    pub peak_time: DateTime<Utc>,
    /// Candles from start to end.
    pub candles: i32,
    /// The peak's consensus score.
    #[cfg_attr(feature = "openapi", schema(value_type = f64, minimum = 0.0, maximum = 1.0))]
    pub score: Score,
    /// How rare the peak is, derived from `score`; a rise announces the anomaly again.
    pub severity: Severity,
    /// What the peak looks like: a spike, a drop, a volume spike, a stale feed, an outlier.
    pub kind: AnomalyKind,
    /// The methods that contributed.
    pub methods: Vec<Method>,
    /// The peak's readings and facts, and each contributing method's strongest reading.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
}

impl Anomaly {
    /// Checks that details are a JSON object.
    pub fn validate(self) -> Result<Self, AnomalyError> {
        if !self.details.is_object() {
            return Err(AnomalyError::DetailsNotAnObject);
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_outside_zero_to_one_or_not_finite_are_rejected() {
        for bad in [-0.01, 1.01, f64::NAN, f64::INFINITY] {
            assert!(Score::new(bad).is_err(), "{bad}");
        }
        assert_eq!(Score::new(0.0).map(Score::value), Ok(0.0));
        assert_eq!(Score::new(1.0).map(Score::value), Ok(1.0));
    }

    #[test]
    fn saturating_scores_clamp_and_treat_nan_as_nothing() {
        assert_eq!(Score::saturating(7.0).value(), 1.0);
        assert_eq!(Score::saturating(-3.0).value(), 0.0);
        assert_eq!(Score::saturating(f64::NAN).value(), 0.0);
    }

    #[test]
    fn details_must_be_an_object() {
        let at = Utc::now();
        let anomaly = Anomaly {
            symbol: Symbol::parse("BTC").expect("valid symbol"),
            interval: Interval::OneHour,
            start_time: at,
            end_time: at,
            peak_time: at,
            candles: 1,
            score: Score::saturating(0.5),
            severity: Severity::Medium,
            kind: AnomalyKind::Spike,
            methods: vec![Method::ZScore],
            details: serde_json::json!([1, 2]),
        };
        assert_eq!(anomaly.validate(), Err(AnomalyError::DetailsNotAnObject));
    }

    #[test]
    fn method_names_are_stable() {
        let names: Vec<_> = Method::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(
            names,
            [
                "pct_change",
                "zscore",
                "iqr",
                "conditional_z",
                "multi_horizon",
                "variance_ratio",
                "isolation_forest",
                "moving_average",
                "volume_spike",
                "technical",
                "stale_feed"
            ]
        );
    }
}
