//! Anomalies: what a detector found, on which candle, how strongly, and why.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::watch::named_enum;
use super::{Interval, Symbol};

named_enum!(
    /// The detection method that fired. One module per method in `detect`.
    Method, "method" {
        PctChange => "pct_change",
        ZScore => "zscore",
        Iqr => "iqr",
        IsolationForest => "isolation_forest",
        MovingAverage => "moving_average",
        VolumeSpike => "volume_spike",
        Technical => "technical",
    }
);

named_enum!(
    /// What the anomaly looks like to a person watching the market.
    AnomalyKind, "kind" {
        Spike => "spike",
        Drop => "drop",
        VolumeSpike => "volume_spike",
        Overbought => "overbought",
        Oversold => "oversold",
        BandBreach => "band_breach",
        Outlier => "outlier",
    }
);

named_enum!(
    /// How urgent an anomaly is, derived from its score so that every method ranks alike.
    Severity, "severity" {
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
);

impl Severity {
    /// Maps a normalised score onto the four levels.
    pub fn from_score(score: Score) -> Self {
        match score.value() {
            s if s >= 0.9 => Self::Critical,
            s if s >= 0.7 => Self::High,
            s if s >= 0.4 => Self::Medium,
            _ => Self::Low,
        }
    }
}

/// A detector's confidence, normalised to the closed range 0–1 so methods can be compared.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Score(f64);

/// Why an anomaly could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnomalyError {
    #[error("score {0} is not a finite number in 0..=1")]
    ScoreOutOfRange(f64),
    #[error("details must be a JSON object")]
    DetailsNotAnObject,
}

impl Score {
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

/// One finding on one candle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Anomaly {
    #[schema(value_type = String, example = "BTC")]
    pub symbol: Symbol,
    #[schema(value_type = String, example = "1h")]
    pub interval: Interval,
    /// Open time of the candle the anomaly is about.
    pub open_time: DateTime<Utc>,
    pub method: Method,
    pub kind: AnomalyKind,
    #[schema(value_type = f64, minimum = 0.0, maximum = 1.0)]
    pub score: Score,
    pub severity: Severity,
    /// The values that fired it (thresholds, window statistics), for a person to check.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl Anomaly {
    /// Builds an anomaly whose severity follows from its score.
    pub fn new(
        symbol: Symbol,
        interval: Interval,
        open_time: DateTime<Utc>,
        method: Method,
        kind: AnomalyKind,
        score: Score,
        details: serde_json::Value,
    ) -> Result<Self, AnomalyError> {
        if !details.is_object() {
            return Err(AnomalyError::DetailsNotAnObject);
        }
        Ok(Self {
            symbol,
            interval,
            open_time,
            method,
            kind,
            score,
            severity: Severity::from_score(score),
            details,
        })
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
    fn severity_rises_with_the_score() {
        let severity = |s| Severity::from_score(Score::saturating(s));
        assert_eq!(severity(0.1), Severity::Low);
        assert_eq!(severity(0.4), Severity::Medium);
        assert_eq!(severity(0.75), Severity::High);
        assert_eq!(severity(0.95), Severity::Critical);
    }

    #[test]
    fn details_must_be_an_object() {
        let symbol = Symbol::parse("BTC").expect("valid symbol");
        let err = Anomaly::new(
            symbol,
            Interval::OneHour,
            Utc::now(),
            Method::ZScore,
            AnomalyKind::Spike,
            Score::saturating(0.5),
            serde_json::json!([1, 2]),
        );
        assert_eq!(err, Err(AnomalyError::DetailsNotAnObject));
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
                "isolation_forest",
                "moving_average",
                "volume_spike",
                "technical"
            ]
        );
    }
}
