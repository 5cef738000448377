//! Coinbase Exchange candles (`GET /products/{id}/candles`): keyless, whole OHLCV candles with
//! a per-candle volume, served to US regions (where Binance answers 451).
//!
//! Each candle is `[time, low, high, open, close, volume]` — note the order — with `time` in
//! epoch seconds and the values as JSON numbers, newest first, at most 300 a call. Buckets with
//! no trade are simply absent. Granularities are 1m, 5m, 15m, 1h, 6h and 1d, so a 4h series
//! cannot be served. Errors come as `{"message": "..."}`: 404 `NotFound` for an unknown product.

use chrono::{DateTime, TimeDelta, Utc};
use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use serde::Deserialize;

use super::http::{HttpClient, Pacer, Request};
use super::{
    Fetched, Page, PriceSource, SeriesRequest, SeriesResult, Shape, SourceError, parse_json,
};
use crate::config::SourceSettings;
use crate::model::{CandleError, CandleInput, Interval, Provider, price_from_f64};

/// Candles per call: the endpoint refuses ranges longer than this.
pub const PAGE_LIMIT: i64 = 300;
/// Candles per latest poll: the current one and a few before it, so a missed run heals.
pub const LATEST_BUCKETS: i64 = 5;

#[derive(Debug)]
pub struct Coinbase {
    http: HttpClient,
    base_url: String,
    pacer: Pacer,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    message: String,
}

/// The granularity in seconds Coinbase serves for `interval`, if any.
fn granularity(interval: Interval) -> Option<i64> {
    match interval {
        Interval::FourHours => None,
        other => Some(other.seconds()),
    }
}

impl Coinbase {
    pub fn new(http: HttpClient, settings: &SourceSettings) -> Self {
        Self {
            http,
            base_url: settings.base_url.clone(),
            pacer: Pacer::per_minute(settings.rate_per_minute),
        }
    }

    /// Candles with `from <= open_time < to`; the range must be at most [`PAGE_LIMIT`] buckets.
    async fn candles(
        &self,
        series: &SeriesRequest,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Result<CandleInput, CandleError>>, SourceError> {
        let granularity = granularity(series.interval).ok_or(SourceError::UnsupportedInterval {
            source_name: Provider::Coinbase,
            interval: series.interval,
        })?;
        // `end` is inclusive on Coinbase's side: ask up to the last bucket we want.
        let last = to - series.interval.duration();
        let request = Request::new(format!(
            "{}/products/{}/candles",
            self.base_url, series.provider_id
        ))
        .query("granularity", granularity.to_string())
        .query("start", from.to_rfc3339())
        .query("end", last.max(from).to_rfc3339());
        let body = match self
            .http
            .get(Provider::Coinbase, &self.pacer, &request)
            .await
        {
            Ok(body) => body,
            Err(SourceError::Rejected {
                status, snippet, ..
            }) => return Err(classify_rejection(series, status, &snippet)),
            Err(other) => return Err(other),
        };
        let rows: Vec<Vec<serde_json::Value>> = parse_json(Provider::Coinbase, &body)?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let item = candle(series, row)?;
            // Coinbase may add candles before `start`; keep the range we asked for.
            if let Ok(c) = &item
                && (c.open_time < from || c.open_time >= to)
            {
                continue;
            }
            items.push(item);
        }
        // Oldest first, as every other source delivers them.
        items.reverse();
        Ok(items)
    }
}

fn classify_rejection(series: &SeriesRequest, status: u16, snippet: &str) -> SourceError {
    let message = serde_json::from_str::<ApiError>(snippet).map(|e| e.message);
    match (status, message) {
        (404, _) => SourceError::UnknownInstrument {
            source_name: Provider::Coinbase,
            provider_id: series.provider_id.clone(),
        },
        (_, Ok(message)) => SourceError::BadRequest {
            source_name: Provider::Coinbase,
            message,
        },
        (status, Err(_)) => SourceError::Rejected {
            source_name: Provider::Coinbase,
            status,
            snippet: snippet.to_owned(),
        },
    }
}

/// Reads one candle. A row of the wrong shape fails the payload (the format changed); a value
/// that is not a finite number fails only its candle.
fn candle(
    series: &SeriesRequest,
    row: &[serde_json::Value],
) -> Result<Result<CandleInput, CandleError>, SourceError> {
    let malformed = |what: String| SourceError::Malformed {
        source_name: Provider::Coinbase,
        reason: format!("candle {what}"),
    };
    if row.len() < 6 {
        return Err(malformed(format!(
            "has {} fields, expected 6 ([time, low, high, open, close, volume])",
            row.len()
        )));
    }
    let open_time = row[0]
        .as_i64()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or_else(|| malformed("time is not epoch seconds".to_owned()))?;
    let number = |i: usize| {
        row[i]
            .as_f64()
            .ok_or(CandleError::NonFinitePrice)
            .and_then(price_from_f64)
    };
    Ok((|| {
        Ok(CandleInput {
            symbol: series.symbol.clone(),
            interval: series.interval,
            open_time,
            low: number(1)?,
            high: number(2)?,
            open: number(3)?,
            close: number(4)?,
            volume: Some(number(5)?),
            source: Provider::Coinbase,
        })
    })())
}

impl PriceSource for Coinbase {
    fn provider(&self) -> Provider {
        Provider::Coinbase
    }

    /// One candles call per series (Coinbase has no multi-product candles), paced.
    fn latest<'a>(
        &'a self,
        series: &'a [SeriesRequest],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<SeriesResult>> {
        async move {
            join_all(series.iter().map(|s| async move {
                let current = s.interval.bucket_start(now);
                let from = current - s.interval.duration() * (LATEST_BUCKETS as i32 - 1);
                Ok(Fetched {
                    items: self
                        .candles(s, from, current + s.interval.duration())
                        .await?,
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
            let page_end =
                (from + TimeDelta::seconds(series.interval.seconds() * PAGE_LIMIT)).min(to);
            let items = self.candles(series, from, page_end).await?;
            Ok(Page {
                fetched: Fetched {
                    items,
                    shape: Shape::WholeCandles,
                },
                next: (page_end < to).then_some(page_end),
            })
        }
        .boxed()
    }
}
