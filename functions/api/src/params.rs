//! The API's parameters, parsed once at the edge into domain types, with the status the API
//! promises: 400 when a value cannot be read at all, 422 when it reads fine but asks for the
//! impossible.
//!
//! Each parameter is one type with one definition: an axum extractor (handlers receive a
//! [`Symbol`], an [`Interval`], a [`Page`] or a [`TimeRange`], never a string) that also
//! describes itself in the OpenAPI document (`IntoParams`), so a route lists
//! `params(SymbolPath, IntervalParam, …)` instead of repeating the annotations. Their
//! rejections are [`ApiError`]s, turned into the envelope in `error.rs`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use tickwatch::detect::AverageKind;
use tickwatch::model::{EARLIEST, Interval, LATEST, Symbol};
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use crate::error::ApiError;
use crate::extract::{QueryPairs, path_param};

/// Default and largest page sizes.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 1000;

// ---- Path parameters ----------------------------------------------------------------------

/// `{symbol}` in a path: a valid ticker, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, IntoParams)]
#[into_params(names("symbol"), parameter_in = Path)]
pub struct SymbolPath(
    /// Ticker: letters and digits with `.` or `-` between them, e.g. BTC or BRK.B.
    #[param(value_type = String, max_length = 20, pattern = "^[A-Za-z0-9]([.-]?[A-Za-z0-9])*$", example = "BTC")]
    pub Symbol,
);

impl<S: Send + Sync> FromRequestParts<S> for SymbolPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = path_param(parts, state, "symbol").await?;
        symbol(&raw).map(Self)
    }
}

/// `{symbol}/candles/{open_time}`: one candle of a symbol.
#[derive(Debug, Clone, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CandlePath {
    /// Ticker, e.g. BTC.
    #[param(value_type = String, max_length = 20, pattern = "^[A-Za-z0-9]([.-]?[A-Za-z0-9])*$", example = "BTC")]
    pub symbol: Symbol,
    /// The candle's open time, RFC 3339.
    #[param(value_type = DateTime<Utc>, example = "2026-01-01T05:00:00Z")]
    pub open_time: DateTime<Utc>,
}

impl<S: Send + Sync> FromRequestParts<S> for CandlePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw_symbol = path_param(parts, state, "symbol").await?;
        let raw_time = path_param(parts, state, "open_time").await?;
        Ok(Self {
            symbol: symbol(&raw_symbol)?,
            open_time: instant("open_time", &raw_time)?,
        })
    }
}

// ---- Query parameters ---------------------------------------------------------------------

/// `interval`: which candle width to read; absent means the symbol's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IntervalParam {
    /// Candle width; defaults to the symbol's own.
    #[param(value_type = Option<String>, pattern = "^(1m|5m|15m|1h|4h|1d)$", example = "1h")]
    pub interval: Option<Interval>,
}

impl<S: Send + Sync> FromRequestParts<S> for IntervalParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = QueryPairs::of(parts);
        Ok(Self {
            interval: interval(query.get("interval")?)?,
        })
    }
}

/// `symbol` in a query: narrows a listing to one watched symbol; absent means all.
#[derive(Debug, Clone, Default, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SymbolFilter {
    /// Only this symbol.
    #[param(value_type = Option<String>, max_length = 20, pattern = "^[A-Za-z0-9]([.-]?[A-Za-z0-9])*$", example = "BTC")]
    pub symbol: Option<Symbol>,
}

impl<S: Send + Sync> FromRequestParts<S> for SymbolFilter {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = QueryPairs::of(parts);
        Ok(Self {
            symbol: query.get("symbol")?.map(symbol).transpose()?,
        })
    }
}

/// `limit`: how many items, 1–1000 (default 50).
#[derive(Debug, Clone, Copy, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Limit {
    /// How many items, 1–1000 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: i64,
}

impl Limit {
    fn from_query(query: &QueryPairs) -> Result<Self, ApiError> {
        Ok(Self {
            limit: integer("limit", query.get("limit")?, DEFAULT_LIMIT, 1, MAX_LIMIT)?,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Limit {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Self::from_query(&QueryPairs::of(parts))
    }
}

/// A position in a keyset-paged listing, opaque to clients (see [`cursor`]).
pub trait Cursor: Sized {
    fn decode(raw: &str) -> Result<Self, ApiError>;
    fn encode(&self) -> String;
}

/// After the candle that opens at this time (pages run newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandleCursor(pub DateTime<Utc>);

impl Cursor for CandleCursor {
    fn decode(raw: &str) -> Result<Self, ApiError> {
        cursor::decode_candle(raw).map(Self)
    }

    fn encode(&self) -> String {
        cursor::encode_candle(self.0)
    }
}

/// After the anomaly event that starts at this time with this id (pages run newest first;
/// the id breaks ties between events starting together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnomalyCursor {
    pub start_time: DateTime<Utc>,
    pub id: i64,
}

impl Cursor for AnomalyCursor {
    fn decode(raw: &str) -> Result<Self, ApiError> {
        cursor::decode_anomaly(raw).map(|(start_time, id)| Self { start_time, id })
    }

    fn encode(&self) -> String {
        cursor::encode_anomaly(self.start_time, self.id)
    }
}

/// `limit` and `cursor`: one page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page<C> {
    pub limit: i64,
    /// `None`: the first page.
    pub cursor: Option<C>,
}

impl<C: Cursor> Page<C> {
    /// Keeps the first `limit` of `rows` (fetched as `limit + 1`, so one more tells whether
    /// another page follows) and returns the cursor of the next page, if there is one.
    pub fn finish<T>(&self, rows: &mut Vec<T>, position: impl Fn(&T) -> C) -> Option<String> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        more.then(|| rows.last().map(|row| position(row).encode()))
            .flatten()
    }

    /// How many rows to fetch: one more than a page.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

impl<C> IntoParams for Page<C> {
    fn into_params(parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        #[derive(IntoParams)]
        #[into_params(parameter_in = Query)]
        #[allow(dead_code, reason = "only documents the parameter")]
        struct CursorDoc {
            /// `next_cursor` of the previous page.
            cursor: Option<String>,
        }
        let mut params = Limit::into_params(&parameter_in);
        params.extend(CursorDoc::into_params(parameter_in));
        params
    }
}

impl<S: Send + Sync, C: Cursor> FromRequestParts<S> for Page<C> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = QueryPairs::of(parts);
        Ok(Self {
            limit: Limit::from_query(&query)?.limit,
            cursor: query.get("cursor")?.map(C::decode).transpose()?,
        })
    }
}

/// `format`: the representation of a page of candles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatParam {
    /// `json` (default) or `csv`.
    #[param(value_type = Option<String>, pattern = "^(json|csv)$")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Json,
    Csv,
}

impl<S: Send + Sync> FromRequestParts<S> for FormatParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let format = match QueryPairs::of(parts).get("format")? {
            None | Some("json") => Format::Json,
            Some("csv") => Format::Csv,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    "format must be json or csv",
                ));
            }
        };
        Ok(Self { format })
    }
}

/// `window` and `kind`: which moving average, over how many candles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AverageParams {
    /// Candles per average, 2–200 (default 20).
    #[param(value_type = Option<i64>, minimum = 2, maximum = 200)]
    pub window: i64,
    /// `sma` (default) or `ema`.
    #[param(value_type = Option<String>, pattern = "^(sma|ema)$")]
    pub kind: AverageKind,
}

impl<S: Send + Sync> FromRequestParts<S> for AverageParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = QueryPairs::of(parts);
        let window = integer("window", query.get("window")?, 20, 2, 200)?;
        let kind = match query.get("kind")? {
            None | Some("sma") => AverageKind::Sma,
            Some("ema") => AverageKind::Ema,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    "kind must be sma or ema",
                ));
            }
        };
        Ok(Self { window, kind })
    }
}

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

/// How `from`, `to` and `days` are documented: once, here.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "only documents the parameters")]
struct TimeRangeDoc {
    /// Earliest open time, inclusive (RFC 3339). Not with `days`.
    #[param(value_type = Option<DateTime<Utc>>)]
    from: Option<String>,
    /// Latest open time, exclusive (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    to: Option<String>,
    /// Reach back this many days from `to` (default now). Not with `from`.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 36500)]
    days: Option<String>,
}

impl IntoParams for TimeRange {
    fn into_params(parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        TimeRangeDoc::into_params(parameter_in)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TimeRange {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = QueryPairs::of(parts);
        Self::parse(
            query.get("from")?,
            query.get("to")?,
            query.get("days")?,
            Utc::now(),
        )
    }
}

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
