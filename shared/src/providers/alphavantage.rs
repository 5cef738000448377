//! Alpha Vantage (stocks): `TIME_SERIES_DAILY` and `TIME_SERIES_INTRADAY`, with an API key.
//!
//! Its timestamps are US/Eastern wall-clock times (the payload names the zone) and are turned
//! into UTC here, daylight saving included. A daily bar is the trading day's candle and opens
//! at 00:00 UTC of that date, as every other source's day candles do.
//!
//! Alpha Vantage reports throttling and errors as HTTP 200 with a one-key JSON body. Each is
//! recognised before any parsing and classified, never mistaken for an empty series:
//! - `Note` (the historical per-minute throttle), or `Information` about calls per minute or
//!   second: pacing — retry in a minute;
//! - `Information` about requests per day: the daily quota — retry tomorrow;
//! - `Error Message`, or any other `Information` (invalid key, premium-only endpoint): a bad
//!   request that no retry will fix.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use futures::FutureExt;
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};

use super::http::{HttpClient, Pacer, Request};
use super::{
    Fetched, Page, PriceSource, SeriesRequest, SeriesResult, Shape, SourceError, parse_json,
    price_from_str, snippet,
};
use crate::config::SourceSettings;
use crate::model::{CandleError, CandleInput, Interval, Provider};

/// The Alpha Vantage source (stocks); needs a key (`ALPHAVANTAGE_API_KEY` or its secret) and
/// allows five calls a minute on a free key.
#[derive(Debug)]
pub struct AlphaVantage {
    http: HttpClient,
    base_url: String,
    key: Option<SecretString>,
    pacer: Pacer,
}

/// The throttle or error message in a 200 body, classified.
pub fn classify_message(body: &serde_json::Map<String, serde_json::Value>) -> Option<SourceError> {
    let text = |key: &str| body.get(key).and_then(|v| v.as_str()).map(snippet);
    let source_name = Provider::AlphaVantage;
    if let Some(message) = text("Error Message") {
        return Some(SourceError::BadRequest {
            source_name,
            message,
        });
    }
    // `Note` has always been the per-minute throttle, even when it also mentions a daily cap.
    if let Some(message) = text("Note") {
        return Some(SourceError::Pacing {
            source_name,
            message,
        });
    }
    let message = text("Information")?;
    let lower = message.to_ascii_lowercase();
    let daily = ["per day", "daily", "requests per day"]
        .iter()
        .any(|p| lower.contains(p));
    let per_minute = ["per minute", "per second", "frequency", "spreading out"]
        .iter()
        .any(|p| lower.contains(p));
    Some(if daily {
        SourceError::QuotaExhausted {
            source_name,
            message,
        }
    } else if per_minute {
        SourceError::Pacing {
            source_name,
            message,
        }
    } else {
        SourceError::BadRequest {
            source_name,
            message,
        }
    })
}

impl AlphaVantage {
    /// Builds the source; without a key every fetch fails with `MissingKey`, not this call.
    pub fn new(http: HttpClient, settings: &SourceSettings) -> Self {
        Self {
            http,
            base_url: settings.base_url.clone(),
            key: settings.api_key.secret().cloned(),
            pacer: Pacer::per_minute(settings.rate_per_minute),
        }
    }

    async fn series(
        &self,
        series: &SeriesRequest,
        full: bool,
    ) -> Result<Vec<Result<CandleInput, CandleError>>, SourceError> {
        let key = self.key.as_ref().ok_or(SourceError::MissingKey {
            source_name: Provider::AlphaVantage,
            hint: "set ALPHAVANTAGE_API_KEY or ALPHAVANTAGE_SECRET_ARN",
        })?;
        let mut request = Request::new(format!("{}/query", self.base_url))
            .query("symbol", series.provider_id.clone())
            .query("outputsize", if full { "full" } else { "compact" });
        request = match series.interval {
            Interval::OneDay => request.query("function", "TIME_SERIES_DAILY"),
            Interval::FourHours => {
                return Err(SourceError::UnsupportedInterval {
                    source_name: Provider::AlphaVantage,
                    interval: series.interval,
                });
            }
            other => request
                .query("function", "TIME_SERIES_INTRADAY")
                .query("interval", intraday_name(other)),
        };
        let request = request.query("apikey", key.expose_secret().to_owned());
        let body = self
            .http
            .get(Provider::AlphaVantage, &self.pacer, &request)
            .await?;
        parse_series(series, &body)
    }
}

fn intraday_name(interval: Interval) -> &'static str {
    match interval {
        Interval::OneMinute => "1min",
        Interval::FiveMinutes => "5min",
        Interval::FifteenMinutes => "15min",
        _ => "60min",
    }
}

/// Reads a `TIME_SERIES_*` payload (after checking for a message body).
pub fn parse_series(
    series: &SeriesRequest,
    body: &str,
) -> Result<Vec<Result<CandleInput, CandleError>>, SourceError> {
    let malformed = |reason: String| SourceError::Malformed {
        source_name: Provider::AlphaVantage,
        reason,
    };
    let value: serde_json::Value = parse_json(Provider::AlphaVantage, body)?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("the body is not a JSON object".to_owned()))?;
    if let Some(error) = classify_message(object) {
        return Err(error);
    }
    let meta = object.get("Meta Data").and_then(|m| m.as_object());
    let zone_name = meta
        .and_then(|m| m.iter().find(|(k, _)| k.ends_with("Time Zone")))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("US/Eastern");
    let zone = Tz::from_str(zone_name)
        .map_err(|_| malformed(format!("unknown time zone {zone_name:?}")))?;
    let (_, points) = object
        .iter()
        .find(|(k, _)| k.starts_with("Time Series"))
        .ok_or_else(|| {
            malformed(format!(
                "no \"Time Series\" member (keys: {})",
                snippet(&object.keys().cloned().collect::<Vec<_>>().join(", "))
            ))
        })?;
    let points = points
        .as_object()
        .ok_or_else(|| malformed("\"Time Series\" is not an object".to_owned()))?;
    let mut items = Vec::with_capacity(points.len());
    for (stamp, fields) in points {
        let open_time = if series.interval == Interval::OneDay {
            NaiveDate::parse_from_str(stamp, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| Utc.from_utc_datetime(&d))
        } else {
            NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S")
                .ok()
                .and_then(|local| zone.from_local_datetime(&local).earliest())
                .map(|t| t.with_timezone(&Utc))
        }
        .ok_or_else(|| malformed(format!("timestamp {:?} is not readable", snippet(stamp))))?;
        let field = |name: &str| -> Result<&str, SourceError> {
            fields
                .get(name)
                .and_then(|v| v.as_str())
                .ok_or_else(|| malformed(format!("{stamp}: no {name:?}")))
        };
        let (open, high, low, close, volume) = (
            field("1. open")?,
            field("2. high")?,
            field("3. low")?,
            field("4. close")?,
            field("5. volume")?,
        );
        items.push((|| {
            Ok(CandleInput {
                symbol: series.symbol.clone(),
                interval: series.interval,
                open_time,
                open: price_from_str(open)?,
                high: price_from_str(high)?,
                low: price_from_str(low)?,
                close: price_from_str(close)?,
                volume: Some(price_from_str(volume)?),
                source: Provider::AlphaVantage,
            })
        })());
    }
    items.sort_by_key(|i| i.as_ref().map(|c| c.open_time).ok());
    Ok(items)
}

impl PriceSource for AlphaVantage {
    fn provider(&self) -> Provider {
        Provider::AlphaVantage
    }

    /// One call per series (the API has no batch time series), paced to the free tier.
    fn latest<'a>(
        &'a self,
        series: &'a [SeriesRequest],
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<SeriesResult>> {
        async move {
            let mut results = Vec::with_capacity(series.len());
            for s in series {
                results.push(self.series(s, false).await.map(|items| Fetched {
                    items,
                    shape: Shape::WholeCandles,
                }));
            }
            results
        }
        .boxed()
    }

    /// The full series in one call, cut to the range.
    fn history<'a>(
        &'a self,
        series: &'a SeriesRequest,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Page, SourceError>> {
        async move {
            let items = self
                .series(series, true)
                .await?
                .into_iter()
                .filter(|i| {
                    i.as_ref()
                        .map(|c| c.open_time >= from && c.open_time < to)
                        .unwrap_or(true)
                })
                .collect();
            Ok(Page {
                fetched: Fetched {
                    items,
                    shape: Shape::WholeCandles,
                },
                next: None,
            })
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Symbol;

    fn request(interval: Interval) -> SeriesRequest {
        SeriesRequest {
            symbol: Symbol::parse("IBM").expect("valid"),
            provider_id: "IBM".into(),
            interval,
        }
    }

    #[test]
    fn eastern_times_become_utc_across_daylight_saving() {
        let body = r#"{"Meta Data": {"1. Information": "Intraday (5min)", "2. Symbol": "IBM",
            "6. Time Zone": "US/Eastern"},
          "Time Series (5min)": {
            "2026-07-01 09:30:00": {"1. open": "10", "2. high": "11", "3. low": "9", "4. close": "10.5", "5. volume": "100"},
            "2026-01-05 09:30:00": {"1. open": "10", "2. high": "11", "3. low": "9", "4. close": "10.5", "5. volume": "100"}}}"#;
        let items = parse_series(&request(Interval::FiveMinutes), body).expect("parses");
        let times: Vec<String> = items
            .iter()
            .map(|i| i.as_ref().expect("ok").open_time.to_rfc3339())
            .collect();
        // EST is UTC-5 in January, EDT is UTC-4 in July.
        assert_eq!(
            times,
            ["2026-01-05T14:30:00+00:00", "2026-07-01T13:30:00+00:00"]
        );
    }

    fn series_in_zone(zone: &str) -> String {
        format!(
            r#"{{"Meta Data": {{"2. Symbol": "IBM", "6. Time Zone": "{zone}"}},
              "Time Series (5min)": {{
                "2026-01-05 09:30:00": {{"1. open": "10", "2. high": "11", "3. low": "9", "4. close": "10.5", "5. volume": "100"}}}}}}"#
        )
    }

    /// The binary carries only the zones the build's `CHRONO_TZ_TIMEZONE_FILTER` keeps: the ones
    /// Alpha Vantage names parse, any other is the payload's clear error, not a panic.
    #[test]
    fn the_zones_alpha_vantage_names_are_compiled_in_and_others_are_refused() {
        for (zone, expected) in [
            ("US/Eastern", "2026-01-05T14:30:00+00:00"),
            ("America/New_York", "2026-01-05T14:30:00+00:00"),
            ("UTC", "2026-01-05T09:30:00+00:00"),
        ] {
            let items =
                parse_series(&request(Interval::FiveMinutes), &series_in_zone(zone)).expect(zone);
            let open = items[0].as_ref().expect("ok").open_time.to_rfc3339();
            assert_eq!(open, expected, "{zone}");
        }
        let err = parse_series(
            &request(Interval::FiveMinutes),
            &series_in_zone("Europe/London"),
        )
        .expect_err("a zone outside the build's filter");
        assert_eq!(err.code(), "malformed");
        assert!(
            err.to_string()
                .contains("unknown time zone \"Europe/London\""),
            "{err}"
        );
    }

    #[test]
    fn each_message_body_is_classified() {
        let cases = [
            (
                r#"{"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day."}"#,
                "pacing",
            ),
            (
                r#"{"Information": "We have detected your API key as X and our standard API rate limit is 25 requests per day."}"#,
                "quota_exhausted",
            ),
            (
                r#"{"Information": "Please consider spreading out your free API requests more sparingly (1 request per second)."}"#,
                "pacing",
            ),
            (
                r#"{"Error Message": "Invalid API call. Please retry or visit the documentation for TIME_SERIES_DAILY."}"#,
                "bad_request",
            ),
            (
                r#"{"Information": "The **demo** API key is for demo purposes only."}"#,
                "bad_request",
            ),
        ];
        for (body, code) in cases {
            let err = parse_series(&request(Interval::OneDay), body).expect_err(body);
            assert_eq!(err.code(), code, "{body}");
        }
    }
}
