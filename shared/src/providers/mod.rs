//! Price sources. Each source is one module behind the [`PriceSource`] trait; the shared HTTP
//! client (timeout, retry, backoff, pacing) lives in [`http`]. The synthetic source needs no
//! network and is the default for local runs, tests and benchmarks.
//!
//! A source only fetches and translates: it turns a provider's payload into [`CandleInput`]s
//! (or a per-item [`CandleError`] where a value cannot even be read), and leaves validation
//! against the model's rules and storage to `collect`.

pub mod alphavantage;
pub mod binance;
pub mod coinbase;
pub mod coingecko;
pub mod http;
pub mod kraken;
pub mod synthetic;
pub mod synthetic_source;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::BoxFuture;

use crate::model::{CandleError, CandleInput, Interval, Provider, Symbol};

pub use synthetic_source::SyntheticSource;

/// One series a source is asked for: our symbol, the source's own name for it, the width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRequest {
    pub symbol: Symbol,
    pub provider_id: String,
    pub interval: Interval,
}

/// What a source delivered for one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// One entry per item in the payload, in payload order. An item whose values could not be
    /// read at all (a `NaN` price string) is an error here and is counted as a rejection.
    pub items: Vec<Result<CandleInput, CandleError>>,
    /// What the items are; the store decides from it how they meet candles already stored.
    pub shape: Shape,
}

/// What a source publishes, which is all the store needs to know to write it: a whole candle
/// is final for its bucket, a quote is one more observation inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Whole candles (exchange klines, history).
    WholeCandles,
    /// Spot quotes, folded into the bucket's candle as they come.
    Quotes,
}

/// One page of history, and where the next page starts (`None`: the range is done).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub fetched: Fetched,
    pub next: Option<DateTime<Utc>>,
}

/// The result for one series of a batched call.
pub type SeriesResult = Result<Fetched, SourceError>;

/// A place prices come from.
///
/// Futures are boxed so that sources can be chosen at run time from the watch list
/// (`&dyn PriceSource`).
pub trait PriceSource: Send + Sync + std::fmt::Debug {
    /// Which provider this is; candles it delivers carry it as their source.
    fn provider(&self) -> Provider;

    /// The most recent candles (or a quote for the current bucket) of every series, in as few
    /// calls as the provider allows. Returns one result per request, in request order, so one
    /// unknown id never costs the others their data.
    fn latest<'a>(
        &'a self,
        series: &'a [SeriesRequest],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<SeriesResult>>;

    /// One page of history with `from <= open_time < to`. `from` is aligned to the interval.
    fn history<'a>(
        &'a self,
        series: &'a SeriesRequest,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Page, SourceError>>;
}

/// Why a source could not deliver. [`SourceError::is_retryable`] says whether trying again
/// later can help; [`SourceError::code`] is a stable, low-cardinality name for reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("{source_name} did not answer within the timeout ({attempts} attempts)")]
    Timeout {
        source_name: Provider,
        attempts: u32,
    },
    #[error("{source_name} could not be reached ({attempts} attempts): {reason}")]
    Transport {
        source_name: Provider,
        attempts: u32,
        reason: String,
    },
    #[error("{source_name} answered HTTP {status} ({attempts} attempts): {snippet}")]
    ServerError {
        source_name: Provider,
        status: u16,
        attempts: u32,
        snippet: String,
    },
    #[error("{source_name} is rate limiting us (HTTP {status}){}", retry_after_text(*.retry_after))]
    RateLimited {
        source_name: Provider,
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("{source_name} refuses requests from this region (HTTP 451)")]
    RegionBlocked { source_name: Provider },
    #[error("{source_name} rejected the request (HTTP {status}): {snippet}")]
    Rejected {
        source_name: Provider,
        status: u16,
        snippet: String,
    },
    #[error("{source_name} sent a payload that could not be read: {reason}")]
    Malformed {
        source_name: Provider,
        reason: String,
    },
    #[error("{source_name} asks us to slow down: {message}")]
    Pacing {
        source_name: Provider,
        message: String,
    },
    #[error("{source_name} daily quota is used up: {message}")]
    QuotaExhausted {
        source_name: Provider,
        message: String,
    },
    #[error("{source_name} says the request is invalid: {message}")]
    BadRequest {
        source_name: Provider,
        message: String,
    },
    #[error("{source_name} does not know {provider_id:?}")]
    UnknownInstrument {
        source_name: Provider,
        provider_id: String,
    },
    #[error("{source_name} has no {interval} data")]
    UnsupportedInterval {
        source_name: Provider,
        interval: Interval,
    },
    #[error("{source_name} needs an API key: {hint}")]
    MissingKey {
        source_name: Provider,
        hint: &'static str,
    },
}

fn retry_after_text(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!("; retry after {} s", d.as_secs()))
        .unwrap_or_default()
}

impl SourceError {
    /// Whether the same request can succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. }
                | Self::Transport { .. }
                | Self::ServerError { .. }
                | Self::RateLimited { .. }
                | Self::Pacing { .. }
                | Self::QuotaExhausted { .. }
        )
    }

    /// A stable code for reports and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "timeout",
            Self::Transport { .. } => "transport",
            Self::ServerError { .. } => "server_error",
            Self::RateLimited { .. } => "rate_limited",
            Self::RegionBlocked { .. } => "region_blocked",
            Self::Rejected { .. } => "rejected",
            Self::Malformed { .. } => "malformed",
            Self::Pacing { .. } => "pacing",
            Self::QuotaExhausted { .. } => "quota_exhausted",
            Self::BadRequest { .. } => "bad_request",
            Self::UnknownInstrument { .. } => "unknown_instrument",
            Self::UnsupportedInterval { .. } => "unsupported_interval",
            Self::MissingKey { .. } => "missing_key",
        }
    }

    /// How long the source asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Reads a JSON payload, saying what it looked like when it is not JSON (an HTML error page
/// from a proxy is the usual suspect) without echoing more than a short snippet.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    source_name: Provider,
    body: &str,
) -> Result<T, SourceError> {
    serde_json::from_str(body).map_err(|e| {
        let trimmed = body.trim_start();
        let reason = if trimmed.starts_with('<') {
            format!("an HTML page instead of JSON: {}", snippet(trimmed))
        } else if trimmed.is_empty() {
            "an empty body".to_owned()
        } else {
            format!("invalid JSON ({e}): {}", snippet(trimmed))
        };
        SourceError::Malformed {
            source_name,
            reason,
        }
    })
}

/// The first 120 characters of a body, on one line, for error messages.
pub(crate) fn snippet(body: &str) -> String {
    let one_line: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    one_line.trim().to_owned()
}

/// Parses a decimal price sent as a string ("64250.12000000"), refusing NaN and infinities.
pub(crate) fn price_from_str(text: &str) -> Result<rust_decimal::Decimal, CandleError> {
    use std::str::FromStr;
    rust_decimal::Decimal::from_str(text.trim())
        .or_else(|_| rust_decimal::Decimal::from_scientific(text.trim()))
        .map(|d| d.normalize())
        .map_err(|_| CandleError::NonFinitePrice)
}

/// What a source can give back of a series' past: how far back it serves candles of an
/// interval, and how many buckets one history call covers. Gap repair plans with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryReach {
    /// Buckets older than this are gone from the source (`None`: it keeps everything).
    pub depth: Option<TimeDelta>,
    /// Buckets one history call returns at most.
    pub buckets_per_call: i64,
}

/// The history `provider` serves for `interval`; `None` when gap repair must not ask it at
/// all (Alpha Vantage: markets close at night and at weekends, so a missing bucket is usually
/// no hole, and its free tier allows 25 calls a day).
pub fn history_reach(provider: Provider, interval: Interval) -> Option<HistoryReach> {
    let buckets = |span: TimeDelta| (span.num_seconds() / interval.seconds()).max(1);
    match provider {
        Provider::AlphaVantage => None,
        Provider::Binance => Some(HistoryReach {
            depth: None,
            buckets_per_call: binance::PAGE_LIMIT as i64,
        }),
        Provider::Coinbase => Some(HistoryReach {
            depth: None,
            buckets_per_call: coinbase::PAGE_LIMIT,
        }),
        // Kraken answers with the 720 newest candles of an interval and nothing older.
        Provider::Kraken => Some(HistoryReach {
            depth: Some(interval.duration() * kraken::DEPTH as i32),
            buckets_per_call: kraken::DEPTH,
        }),
        // CoinGecko's granularity falls with age: five-minute points for the last day, hourly
        // ones for 90 days, daily ones for a year on the public tier.
        Provider::CoinGecko => {
            let depth = match interval {
                Interval::OneMinute | Interval::FiveMinutes | Interval::FifteenMinutes => {
                    TimeDelta::days(1)
                }
                Interval::OneHour | Interval::FourHours => TimeDelta::days(90),
                Interval::OneDay => TimeDelta::days(365),
            };
            Some(HistoryReach {
                depth: Some(depth),
                buckets_per_call: buckets(coingecko::CoinGecko::window(interval)),
            })
        }
        Provider::Synthetic => Some(HistoryReach {
            depth: None,
            buckets_per_call: synthetic_source::BLOCK,
        }),
    }
}

/// Milliseconds since the epoch to a UTC time.
pub(crate) fn from_millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_html_page_is_named_as_such() {
        let err = parse_json::<serde_json::Value>(
            Provider::Binance,
            "<html><body>502 Bad Gateway</body></html>",
        )
        .expect_err("not json");
        assert!(err.to_string().contains("HTML page"), "{err}");
        assert_eq!(err.code(), "malformed");
        assert!(!err.is_retryable());
    }

    #[test]
    fn price_strings_parse_exactly_and_nan_is_refused() {
        assert_eq!(
            price_from_str("0.00001234").map(|d| d.to_string()),
            Ok("0.00001234".to_owned())
        );
        assert_eq!(
            price_from_str("64250.12000000").map(|d| d.to_string()),
            Ok("64250.12".to_owned())
        );
        assert_eq!(price_from_str("NaN"), Err(CandleError::NonFinitePrice));
        assert_eq!(price_from_str("inf"), Err(CandleError::NonFinitePrice));
    }
}
