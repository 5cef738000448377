//! Parsing query and path values into domain types, with the status the API promises:
//! 400 when a value cannot be read at all, 422 when it reads fine but asks for the impossible.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use tickwatch::db::candles::{EARLIEST, LATEST};
use tickwatch::model::{Interval, Symbol};

use crate::error::ApiError;

/// A symbol from a path or query: 400 with the reason when it is not one.
pub fn symbol(raw: &str) -> Result<Symbol, ApiError> {
    Symbol::parse(raw).map_err(|e| ApiError::bad_request("invalid_symbol", e.to_string()))
}

/// An optional `interval` parameter.
pub fn interval(raw: Option<&str>) -> Result<Option<Interval>, ApiError> {
    raw.map(|v| {
        Interval::parse(v)
            .map_err(|e| ApiError::bad_request("invalid_parameter", format!("interval: {e}")))
    })
    .transpose()
}

/// An RFC 3339 instant, e.g. `2026-11-01T12:00:00Z`.
pub fn instant(name: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.to_utc())
        .map_err(|e| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("{name}: not an RFC 3339 time such as 2026-11-01T12:00:00Z ({e})"),
            )
        })
}

/// An integer parameter in `min..=max`: 400 when not an integer, 422 when out of range.
pub fn integer(
    name: &str,
    raw: Option<&str>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ApiError> {
    let Some(raw) = raw else { return Ok(default) };
    let value = raw.parse::<i64>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
            ApiError::unprocessable(
                "out_of_range",
                format!("{name} must be between {min} and {max}"),
            )
        }
        _ => ApiError::bad_request(
            "invalid_parameter",
            format!("{name}: {raw:?} is not a whole number"),
        ),
    })?;
    if !(min..=max).contains(&value) {
        return Err(ApiError::unprocessable(
            "out_of_range",
            format!("{name} must be between {min} and {max}, got {value}"),
        ));
    }
    Ok(value)
}

/// A half-open time range `from <= t < to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The most days a `days` parameter may reach back.
pub const MAX_DAYS: i64 = 36_500;

impl TimeRange {
    /// From `from`/`to` (RFC 3339) or `days` (counting back from `to`, default now). Open ends
    /// reach the earliest/latest instant stored; `from` with `days`, or `from` not before `to`,
    /// is a 422.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        days: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, ApiError> {
        let from_time = from.map(|v| instant("from", v)).transpose()?;
        let to_time = to.map(|v| instant("to", v)).transpose()?;
        let days = days
            .map(|v| integer("days", Some(v), 1, 1, MAX_DAYS))
            .transpose()?;
        let (from, to) = match (from_time, days) {
            (Some(_), Some(_)) => {
                return Err(ApiError::unprocessable(
                    "conflicting_parameters",
                    "give either from or days, not both",
                ));
            }
            (Some(from), None) => (from, to_time.unwrap_or(LATEST)),
            (None, Some(days)) => {
                let to = to_time.unwrap_or(now);
                (to - TimeDelta::days(days), to)
            }
            (None, None) => (EARLIEST, to_time.unwrap_or(LATEST)),
        };
        let range = Self {
            from: from.clamp(EARLIEST, LATEST),
            to: to.clamp(EARLIEST, LATEST),
        };
        if range.from >= range.to {
            return Err(ApiError::unprocessable(
                "empty_range",
                "from must be before to",
            ));
        }
        Ok(range)
    }
}

/// Opaque page cursors: base64url of a versioned position, so clients cannot depend on the
/// inside and a tampered or truncated cursor is a clean 400.
pub mod cursor {
    use super::*;

    fn invalid() -> ApiError {
        ApiError::bad_request("invalid_cursor", "the cursor is not one this API issued")
    }

    fn time_from_micros(micros: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_micros(micros)
    }

    /// The cursor after a candle page ending at `open_time`.
    pub fn encode_candle(open_time: DateTime<Utc>) -> String {
        URL_SAFE_NO_PAD.encode(format!("c1:{}", open_time.timestamp_micros()))
    }

    pub fn decode_candle(raw: &str) -> Result<DateTime<Utc>, ApiError> {
        let text = decode(raw)?;
        text.strip_prefix("c1:")
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(time_from_micros)
            .ok_or_else(invalid)
    }

    /// The cursor after an anomaly page ending at `(open_time, id)`.
    pub fn encode_anomaly(open_time: DateTime<Utc>, id: i64) -> String {
        URL_SAFE_NO_PAD.encode(format!("a1:{}:{id}", open_time.timestamp_micros()))
    }

    pub fn decode_anomaly(raw: &str) -> Result<(DateTime<Utc>, i64), ApiError> {
        let text = decode(raw)?;
        let (micros, id) = text
            .strip_prefix("a1:")
            .and_then(|v| v.split_once(':'))
            .ok_or_else(invalid)?;
        let time = micros
            .parse::<i64>()
            .ok()
            .and_then(time_from_micros)
            .ok_or_else(invalid)?;
        let id = id.parse::<i64>().map_err(|_| invalid())?;
        Ok((time, id))
    }

    fn decode(raw: &str) -> Result<String, ApiError> {
        if raw.len() > 128 {
            return Err(invalid());
        }
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn now() -> DateTime<Utc> {
        instant("now", "2026-11-01T12:00:00Z").expect("valid")
    }

    #[test]
    fn limits_outside_the_range_are_422_and_non_numbers_400() {
        let status = |raw: &str| {
            integer("limit", Some(raw), 50, 1, 1000)
                .expect_err("refused")
                .status()
        };
        assert_eq!(status("0"), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status("1001"), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            status("99999999999999999999999"),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(status("ten"), StatusCode::BAD_REQUEST);
        assert_eq!(status("1.5"), StatusCode::BAD_REQUEST);
        assert_eq!(integer("limit", None, 50, 1, 1000).ok(), Some(50));
    }

    #[test]
    fn ranges_from_days_count_back_from_to_or_now() {
        let range = TimeRange::parse(None, None, Some("2"), now()).expect("valid");
        assert_eq!(range.to, now());
        assert_eq!(range.from, now() - TimeDelta::days(2));
        let range =
            TimeRange::parse(None, Some("2026-10-01T00:00:00Z"), Some("1"), now()).expect("valid");
        assert_eq!(
            range.from,
            instant("t", "2026-09-30T00:00:00Z").expect("valid")
        );
    }

    #[test]
    fn impossible_ranges_are_422() {
        let err = TimeRange::parse(
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-01T00:00:00Z"),
            None,
            now(),
        )
        .expect_err("from after to");
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let err = TimeRange::parse(Some("2026-11-02T00:00:00Z"), None, Some("3"), now())
            .expect_err("both");
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let err = TimeRange::parse(Some("yesterday"), None, None, now()).expect_err("not a time");
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn cursors_round_trip_and_tampered_ones_are_refused() {
        let at = now();
        assert_eq!(
            cursor::decode_candle(&cursor::encode_candle(at)).ok(),
            Some(at)
        );
        assert_eq!(
            cursor::decode_anomaly(&cursor::encode_anomaly(at, 42)).ok(),
            Some((at, 42))
        );
        for bad in ["", "!!!", "YTE6eDp5", &cursor::encode_anomaly(at, 1)] {
            assert!(cursor::decode_candle(bad).is_err(), "{bad:?}");
        }
    }
}
