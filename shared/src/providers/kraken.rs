//! Kraken OHLC (`GET /0/public/OHLC`): keyless, whole candles with a per-candle volume, served
//! to US regions.
//!
//! The answer is `{"error": [], "result": {"<PAIR>": [[time, "open", "high", "low", "close",
//! "vwap", "volume", count], ...], "last": <time>}}`: `time` in epoch seconds, prices as
//! strings, oldest first, and only the 720 newest candles of an interval — older history is
//! gone from the source, which is what gap repair counts as lost. The last row is the candle
//! still forming. Kraken reports failures in `error` with HTTP 200 (`EQuery:Unknown asset
//! pair`, `EAPI:Rate limit exceeded`, `EService:Unavailable`), so the body decides, not the
//! status.

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use serde::Deserialize;

use super::http::{HttpClient, Pacer, Request};
use super::{
    Fetched, Page, PriceSource, SeriesRequest, SeriesResult, Shape, SourceError, parse_json,
    price_from_str,
};
use crate::config::SourceSettings;
use crate::model::{CandleError, CandleInput, Provider};

/// Candles Kraken keeps per interval: the newest 720.
pub const DEPTH: i64 = 720;
/// Candles per latest poll.
pub const LATEST_BUCKETS: i64 = 5;

#[derive(Debug)]
pub struct Kraken {
    http: HttpClient,
    base_url: String,
    pacer: Pacer,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    error: Vec<String>,
    result: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Kraken {
    pub fn new(http: HttpClient, settings: &SourceSettings) -> Self {
        Self {
            http,
            base_url: settings.base_url.clone(),
            pacer: Pacer::per_minute(settings.rate_per_minute),
        }
    }

    /// Candles with `from <= open_time < to` (Kraken returns everything since `from` it still
    /// has; the rest is cut here).
    async fn ohlc(
        &self,
        series: &SeriesRequest,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Result<CandleInput, CandleError>>, SourceError> {
        // `since` is exclusive: ask from one second before the first bucket we want.
        let request = Request::new(format!("{}/0/public/OHLC", self.base_url))
            .query("pair", series.provider_id.clone())
            .query("interval", (series.interval.seconds() / 60).to_string())
            .query("since", (from.timestamp() - 1).to_string());
        let body = self
            .http
            .get(Provider::Kraken, &self.pacer, &request)
            .await?;
        let envelope: Envelope = parse_json(Provider::Kraken, &body)?;
        if let Some(first) = envelope.error.first() {
            return Err(classify(series, first));
        }
        let result = envelope.result.ok_or_else(|| SourceError::Malformed {
            source_name: Provider::Kraken,
            reason: "neither \"error\" nor \"result\"".to_owned(),
        })?;
        let rows = result
            .iter()
            .find(|(key, _)| key.as_str() != "last")
            .and_then(|(_, rows)| rows.as_array())
            .ok_or_else(|| SourceError::Malformed {
                source_name: Provider::Kraken,
                reason: "\"result\" holds no candle array".to_owned(),
            })?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let row = row.as_array().ok_or_else(|| SourceError::Malformed {
                source_name: Provider::Kraken,
                reason: "a candle is not an array".to_owned(),
            })?;
            let item = candle(series, row)?;
            if let Ok(c) = &item
                && (c.open_time < from || c.open_time >= to)
            {
                continue;
            }
            items.push(item);
        }
        Ok(items)
    }
}

/// Kraken's error strings are `<severity><category>:<message>`.
fn classify(series: &SeriesRequest, error: &str) -> SourceError {
    let message = error.to_owned();
    if error.contains("Unknown asset pair") {
        SourceError::UnknownInstrument {
            source_name: Provider::Kraken,
            provider_id: series.provider_id.clone(),
        }
    } else if error.contains("Rate limit") || error.contains("Too many requests") {
        SourceError::Pacing {
            source_name: Provider::Kraken,
            message,
        }
    } else if error.starts_with("EService")
        || error.contains("Unavailable")
        || error.contains("Busy")
    {
        SourceError::ServerError {
            source_name: Provider::Kraken,
            status: 200,
            attempts: 1,
            snippet: message,
        }
    } else {
        SourceError::BadRequest {
            source_name: Provider::Kraken,
            message,
        }
    }
}

fn candle(
    series: &SeriesRequest,
    row: &[serde_json::Value],
) -> Result<Result<CandleInput, CandleError>, SourceError> {
    let malformed = |what: String| SourceError::Malformed {
        source_name: Provider::Kraken,
        reason: format!("candle {what}"),
    };
    if row.len() < 7 {
        return Err(malformed(format!(
            "has {} fields, expected 8 ([time, open, high, low, close, vwap, volume, count])",
            row.len()
        )));
    }
    let open_time = row[0]
        .as_i64()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or_else(|| malformed("time is not epoch seconds".to_owned()))?;
    let text = |i: usize| {
        row[i]
            .as_str()
            .ok_or_else(|| malformed(format!("field {i} is not a string")))
    };
    let (open, high, low, close, volume) = (text(1)?, text(2)?, text(3)?, text(4)?, text(6)?);
    Ok((|| {
        Ok(CandleInput {
            symbol: series.symbol.clone(),
            interval: series.interval,
            open_time,
            open: price_from_str(open)?,
            high: price_from_str(high)?,
            low: price_from_str(low)?,
            close: price_from_str(close)?,
            volume: Some(price_from_str(volume)?),
            source: Provider::Kraken,
        })
    })())
}

impl PriceSource for Kraken {
    fn provider(&self) -> Provider {
        Provider::Kraken
    }

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
                    items: self.ohlc(s, from, current + s.interval.duration()).await?,
                    shape: Shape::WholeCandles,
                })
            }))
            .await
        }
        .boxed()
    }

    /// One call returns all Kraken still has from `from` on, so one page covers the range.
    fn history<'a>(
        &'a self,
        series: &'a SeriesRequest,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Page, SourceError>> {
        async move {
            Ok(Page {
                fetched: Fetched {
                    items: self.ohlc(series, from, to).await?,
                    shape: Shape::WholeCandles,
                },
                next: None,
            })
        }
        .boxed()
    }
}
