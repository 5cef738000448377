//! Binance spot klines (`GET /api/v3/klines`): keyless, whole OHLCV candles with a
//! per-candle volume, aligned to the same UTC buckets as ours.
//!
//! Binance answers 451 from restricted regions (not retryable from here), 429 when over its
//! request weight and 418 once an address keeps going after a 429 (a temporary ban); both carry
//! `Retry-After`, which the shared client honours. Each kline is
//! `[openTime, "open", "high", "low", "close", "volume", closeTime, ...]`.

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use serde::Deserialize;

use super::http::{HttpClient, Pacer, Request};
use super::{
    Fetched, Page, PriceSource, SeriesRequest, SeriesResult, Shape, SourceError, from_millis,
    parse_json, price_from_str,
};
use crate::config::SourceSettings;
use crate::model::{CandleError, CandleInput, Interval, Provider};

/// Klines per history page: the endpoint's maximum.
pub const PAGE_LIMIT: usize = 1_000;
/// Klines per latest poll: the current candle and the few before it, so a missed run or two
/// heals by itself.
pub const LATEST_LIMIT: usize = 5;

#[derive(Debug)]
pub struct Binance {
    http: HttpClient,
    base_url: String,
    pacer: Pacer,
}

/// Binance's error body: `{"code": -1121, "msg": "Invalid symbol."}`.
#[derive(Debug, Deserialize)]
struct ApiError {
    code: i64,
    msg: String,
}

impl Binance {
    pub fn new(http: HttpClient, settings: &SourceSettings) -> Self {
        Self {
            http,
            base_url: settings.base_url.clone(),
            pacer: Pacer::per_minute(settings.rate_per_minute),
        }
    }

    async fn klines(
        &self,
        series: &SeriesRequest,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<Result<CandleInput, CandleError>>, SourceError> {
        let mut request = Request::new(format!("{}/api/v3/klines", self.base_url))
            .query("symbol", series.provider_id.clone())
            .query("interval", series.interval.as_str())
            .query("limit", limit.to_string());
        if let Some(from) = from {
            request = request.query("startTime", from.timestamp_millis().to_string());
        }
        if let Some(to) = to {
            request = request.query("endTime", (to.timestamp_millis() - 1).to_string());
        }
        let body = match self
            .http
            .get(Provider::Binance, &self.pacer, &request)
            .await
        {
            Ok(body) => body,
            Err(SourceError::Rejected {
                status, snippet, ..
            }) => {
                return Err(self.classify_rejection(series, status, &snippet));
            }
            Err(other) => return Err(other),
        };
        let rows: Vec<Vec<serde_json::Value>> = parse_json(Provider::Binance, &body)?;
        rows.iter()
            .map(|row| kline(series, row))
            .collect::<Result<Vec<_>, _>>()
    }

    fn classify_rejection(
        &self,
        series: &SeriesRequest,
        status: u16,
        snippet: &str,
    ) -> SourceError {
        match serde_json::from_str::<ApiError>(snippet) {
            Ok(e) if e.code == -1121 => SourceError::UnknownInstrument {
                source_name: Provider::Binance,
                provider_id: series.provider_id.clone(),
            },
            Ok(e) => SourceError::BadRequest {
                source_name: Provider::Binance,
                message: format!("code {}: {}", e.code, e.msg),
            },
            Err(_) => SourceError::Rejected {
                source_name: Provider::Binance,
                status,
                snippet: snippet.to_owned(),
            },
        }
    }
}

/// Reads one kline. A row of the wrong shape fails the whole payload (the source changed its
/// format: nothing in it can be trusted); a value that is not a number fails only its candle.
fn kline(
    series: &SeriesRequest,
    row: &[serde_json::Value],
) -> Result<Result<CandleInput, CandleError>, SourceError> {
    let malformed = |what: &str| SourceError::Malformed {
        source_name: Provider::Binance,
        reason: format!("kline {what}"),
    };
    if row.len() < 6 {
        return Err(malformed(&format!(
            "has {} fields, expected at least 6",
            row.len()
        )));
    }
    let open_time = row[0]
        .as_i64()
        .and_then(from_millis)
        .ok_or_else(|| malformed("open time is not epoch milliseconds"))?;
    let text = |i: usize| {
        row[i]
            .as_str()
            .ok_or_else(|| malformed(&format!("field {i} is not a string")))
    };
    let (open, high, low, close, volume) = (text(1)?, text(2)?, text(3)?, text(4)?, text(5)?);
    let parsed = (|| {
        Ok(CandleInput {
            symbol: series.symbol.clone(),
            interval: series.interval,
            open_time,
            open: price_from_str(open)?,
            high: price_from_str(high)?,
            low: price_from_str(low)?,
            close: price_from_str(close)?,
            volume: Some(price_from_str(volume)?),
            source: Provider::Binance,
        })
    })();
    Ok(parsed)
}

fn interval_supported(interval: Interval) -> bool {
    // Binance names its intervals exactly as we do.
    Interval::ALL.contains(&interval)
}

impl PriceSource for Binance {
    fn provider(&self) -> Provider {
        Provider::Binance
    }

    /// One klines call per series (Binance has no multi-symbol klines), paced.
    fn latest<'a>(
        &'a self,
        series: &'a [SeriesRequest],
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<SeriesResult>> {
        async move {
            join_all(series.iter().map(|s| async move {
                if !interval_supported(s.interval) {
                    return Err(SourceError::UnsupportedInterval {
                        source_name: Provider::Binance,
                        interval: s.interval,
                    });
                }
                Ok(Fetched {
                    items: self.klines(s, None, None, LATEST_LIMIT).await?,
                    shape: Shape::WholeCandles,
                })
            }))
            .await
        }
        .boxed()
    }

    fn history<'a>(
        &'a self,
        series: &'a SeriesRequest,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Page, SourceError>> {
        async move {
            let items = self
                .klines(series, Some(from), Some(to), PAGE_LIMIT)
                .await?;
            let last = items
                .iter()
                .filter_map(|i| i.as_ref().ok().map(|c| c.open_time))
                .max();
            let next = match last {
                Some(last) if items.len() >= PAGE_LIMIT => {
                    Some(last + series.interval.duration()).filter(|n| *n < to && *n > from)
                }
                _ => None,
            };
            Ok(Page {
                fetched: Fetched {
                    items,
                    shape: Shape::WholeCandles,
                },
                next,
            })
        }
        .boxed()
    }
}
