//! Candle intervals and the bucket arithmetic that maps a moment to the candle it belongs to.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The width of a candle. Only the widths the sources and detectors support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Interval {
    /// `1m`: the finest width supported.
    OneMinute,
    /// `5m`.
    FiveMinutes,
    /// `15m`.
    FifteenMinutes,
    /// `1h`.
    OneHour,
    /// `4h`: Coinbase has no such width and answers `UnsupportedInterval`.
    FourHours,
    /// `1d`: a UTC day, 00:00 to 24:00; Alpha Vantage's trading day lands on its date.
    OneDay,
}

/// A width no source or detector supports. It keeps what was given (cut to 32 characters),
/// not a sentence about it: the message is made when it is shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown interval {given:?}; expected one of 1m, 5m, 15m, 1h, 4h, 1d")]
pub struct IntervalError {
    /// The text given, cut to 32 characters so a hostile input cannot flood a log line.
    pub given: String,
}

impl Interval {
    /// Every width, finest first.
    pub const ALL: [Interval; 6] = [
        Interval::OneMinute,
        Interval::FiveMinutes,
        Interval::FifteenMinutes,
        Interval::OneHour,
        Interval::FourHours,
        Interval::OneDay,
    ];

    /// Reads the short name used in the API, the watch list and SQL (`1m` … `1d`).
    pub fn parse(input: &str) -> Result<Self, IntervalError> {
        Ok(match input {
            "1m" => Self::OneMinute,
            "5m" => Self::FiveMinutes,
            "15m" => Self::FifteenMinutes,
            "1h" => Self::OneHour,
            "4h" => Self::FourHours,
            "1d" => Self::OneDay,
            other => {
                return Err(IntervalError {
                    given: other.chars().take(32).collect(),
                });
            }
        })
    }

    /// The short name, e.g. `1h`; what `parse` reads back.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneMinute => "1m",
            Self::FiveMinutes => "5m",
            Self::FifteenMinutes => "15m",
            Self::OneHour => "1h",
            Self::FourHours => "4h",
            Self::OneDay => "1d",
        }
    }

    /// The width in seconds; buckets are multiples of it since the epoch.
    pub fn seconds(self) -> i64 {
        match self {
            Self::OneMinute => 60,
            Self::FiveMinutes => 300,
            Self::FifteenMinutes => 900,
            Self::OneHour => 3_600,
            Self::FourHours => 14_400,
            Self::OneDay => 86_400,
        }
    }

    /// The width as a `chrono` duration, for time arithmetic.
    pub fn duration(self) -> TimeDelta {
        TimeDelta::seconds(self.seconds())
    }

    /// The open time of the candle that contains `at`. Buckets are aligned to the Unix epoch
    /// in UTC, as exchanges align theirs, so a day candle opens at 00:00 UTC.
    pub fn bucket_start(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let step = self.seconds();
        let floored = at.timestamp().div_euclid(step) * step;
        DateTime::from_timestamp(floored, 0).unwrap_or(at)
    }

    /// Whether `at` is exactly a bucket boundary.
    pub fn is_aligned(self, at: DateTime<Utc>) -> bool {
        at.timestamp_subsec_nanos() == 0 && at.timestamp().rem_euclid(self.seconds()) == 0
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Interval {
    type Err = IntervalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Interval {
    type Error = IntervalError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Interval> for &'static str {
    fn from(interval: Interval) -> Self {
        interval.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_interval_round_trips_through_its_name() {
        for interval in Interval::ALL {
            assert_eq!(Interval::parse(interval.as_str()), Ok(interval));
        }
    }

    #[test]
    fn unknown_names_are_rejected() {
        for bad in ["", "1M", "2m", "1 h", "1d ", "60", "1w"] {
            assert!(Interval::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn buckets_floor_to_the_interval_in_utc() {
        let at = Utc
            .with_ymd_and_hms(2026, 3, 14, 15, 9, 26)
            .single()
            .expect("valid time");
        let expect = |h, m| {
            Utc.with_ymd_and_hms(2026, 3, 14, h, m, 0)
                .single()
                .expect("valid")
        };
        assert_eq!(Interval::OneMinute.bucket_start(at), expect(15, 9));
        assert_eq!(Interval::FiveMinutes.bucket_start(at), expect(15, 5));
        assert_eq!(Interval::FifteenMinutes.bucket_start(at), expect(15, 0));
        assert_eq!(Interval::FourHours.bucket_start(at), expect(12, 0));
        assert_eq!(Interval::OneDay.bucket_start(at), expect(0, 0));
        assert!(Interval::OneHour.is_aligned(expect(15, 0)));
        assert!(!Interval::OneHour.is_aligned(at));
    }

    #[test]
    fn times_before_the_epoch_floor_downwards() {
        let at = Utc
            .with_ymd_and_hms(1969, 12, 31, 23, 59, 30)
            .single()
            .expect("valid time");
        let bucket = Interval::OneMinute.bucket_start(at);
        assert_eq!(bucket.timestamp(), -60);
    }
}
