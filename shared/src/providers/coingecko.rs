//! CoinGecko: keyless public API with an optional key header.
//!
//! Latest prices for every coin come from ONE `simple/price` call. They are quotes, not
//! candles: each fills the bucket of its own `last_updated_at` time, merged into what is stored
//! (open kept, high and low widened, close replaced), so polling builds real OHLC. CoinGecko's
//! `usd_24h_vol` is a rolling 24-hour figure and is never asked for, let alone stored as a
//! candle volume. History comes from `coins/{id}/market_chart/range`, whose price points are
//! folded into buckets the same way; its `total_volumes` are rolling 24-hour figures too and
//! are ignored.
//!
//! CoinGecko picks the granularity of history by age, not by the range asked for: 5-minutely
//! only within the last day, hourly up to 90 days back, daily beyond. Points coarser than the
//! series' interval would be folded into one candle per hour in a 5-minute series — a gap after
//! every candle, each of which the detector would judge as a return across a gap. Such a page is
//! refused (`unsupported_interval`), so a 5-minute series is backfilled for the last day only
//! and longer history belongs in an hourly series.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::http::{HttpClient, Pacer, Request};
use super::{
    Fetched, Page, PriceSource, SeriesRequest, SeriesResult, Shape, SourceError, from_millis,
    parse_json,
};
use crate::config::SourceSettings;
use crate::model::{CandleError, CandleInput, Interval, Provider, price_from_f64};

/// Ids per `simple/price` call; CoinGecko accepts long lists, but URLs have limits.
const IDS_PER_CALL: usize = 250;
/// The header a CoinGecko demo key travels in.
const KEY_HEADER: &str = "x-cg-demo-api-key";

#[derive(Debug)]
pub struct CoinGecko {
    http: HttpClient,
    base_url: String,
    key: Option<secrecy::SecretString>,
    pacer: Pacer,
}

#[derive(Debug, Deserialize)]
struct Quote {
    usd: Option<serde_json::Value>,
    last_updated_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct MarketChart {
    prices: Vec<(i64, Option<f64>)>,
}

impl CoinGecko {
    pub fn new(http: HttpClient, settings: &SourceSettings) -> Self {
        Self {
            http,
            base_url: settings.base_url.clone(),
            key: settings.api_key.secret().cloned(),
            pacer: Pacer::per_minute(settings.rate_per_minute),
        }
    }

    fn request(&self, path: &str) -> Request {
        let request = Request::new(format!("{}{path}", self.base_url));
        match &self.key {
            Some(key) => request.header(KEY_HEADER, key.clone()),
            None => request,
        }
    }

    async fn quotes(&self, ids: &[&str]) -> Result<HashMap<String, Quote>, SourceError> {
        let request = self
            .request("/simple/price")
            .query("ids", ids.join(","))
            .query("vs_currencies", "usd")
            .query("include_last_updated_at", "true")
            .query("precision", "full");
        let body = self
            .http
            .get(Provider::CoinGecko, &self.pacer, &request)
            .await?;
        parse_json(Provider::CoinGecko, &body)
    }

    /// How much history one `market_chart/range` call may cover and still return points
    /// fine enough for `interval` (CoinGecko picks the granularity from the range: 5-minutely
    /// within a day, hourly within 90 days, daily beyond).
    pub(crate) fn window(interval: Interval) -> TimeDelta {
        match interval {
            Interval::OneMinute | Interval::FiveMinutes | Interval::FifteenMinutes => {
                TimeDelta::days(1)
            }
            Interval::OneHour | Interval::FourHours => TimeDelta::days(90),
            Interval::OneDay => TimeDelta::days(365),
        }
    }
}

/// Whether the typical spacing of `points` is wider than `interval` (with room for jitter),
/// i.e. CoinGecko answered with hourly or daily points for a finer series.
fn coarser_than(points: &[(i64, Option<f64>)], interval: Interval) -> bool {
    let mut steps: Vec<i64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
    if steps.len() < 3 {
        return false;
    }
    steps.sort_unstable();
    let median_ms = steps[steps.len() / 2];
    median_ms > interval.seconds() * 1_000 * 3 / 2
}

/// A quote's price: a JSON number, refused when null, a string or otherwise unreadable.
fn quote_price(value: Option<&serde_json::Value>) -> Result<Decimal, CandleError> {
    value
        .and_then(serde_json::Value::as_f64)
        .ok_or(CandleError::NonFinitePrice)
        .and_then(price_from_f64)
}

/// Folds price points into candles of `interval` with `from <= open_time < to`.
pub(crate) fn fold_points(
    series: &SeriesRequest,
    points: &[(DateTime<Utc>, Result<Decimal, CandleError>)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    source: Provider,
) -> Vec<Result<CandleInput, CandleError>> {
    let mut buckets: BTreeMap<DateTime<Utc>, CandleInput> = BTreeMap::new();
    let mut rejected = Vec::new();
    for (at, price) in points {
        let bucket = series.interval.bucket_start(*at);
        if bucket < from || bucket >= to {
            continue;
        }
        let price = match price {
            Ok(p) => *p,
            Err(e) => {
                rejected.push(Err(e.clone()));
                continue;
            }
        };
        buckets
            .entry(bucket)
            .and_modify(|c| {
                c.high = c.high.max(price);
                c.low = c.low.min(price);
                c.close = price;
            })
            .or_insert_with(|| CandleInput {
                symbol: series.symbol.clone(),
                interval: series.interval,
                open_time: bucket,
                open: price,
                high: price,
                low: price,
                close: price,
                volume: None,
                source,
            });
    }
    buckets.into_values().map(Ok).chain(rejected).collect()
}

impl PriceSource for CoinGecko {
    fn provider(&self) -> Provider {
        Provider::CoinGecko
    }

    fn latest<'a>(
        &'a self,
        series: &'a [SeriesRequest],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<SeriesResult>> {
        async move {
            let mut ids: Vec<&str> = series.iter().map(|s| s.provider_id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut quotes: HashMap<String, Result<&Quote, SourceError>> = HashMap::new();
            let mut answers = Vec::new();
            for chunk in ids.chunks(IDS_PER_CALL) {
                answers.push((chunk, self.quotes(chunk).await));
            }
            for (chunk, answer) in &answers {
                for id in *chunk {
                    let entry = match answer {
                        Ok(map) => map.get(*id).ok_or(SourceError::UnknownInstrument {
                            source_name: Provider::CoinGecko,
                            provider_id: (*id).to_owned(),
                        }),
                        Err(e) => Err(e.clone()),
                    };
                    quotes.insert((*id).to_owned(), entry);
                }
            }
            series
                .iter()
                .map(|s| {
                    let quote = quotes.get(&s.provider_id).cloned().unwrap_or(Err(
                        SourceError::UnknownInstrument {
                            source_name: Provider::CoinGecko,
                            provider_id: s.provider_id.clone(),
                        },
                    ))?;
                    let at = quote
                        .last_updated_at
                        .and_then(|secs| DateTime::from_timestamp(secs, 0))
                        .unwrap_or(now);
                    let item = quote_price(quote.usd.as_ref()).map(|price| CandleInput {
                        symbol: s.symbol.clone(),
                        interval: s.interval,
                        open_time: s.interval.bucket_start(at),
                        open: price,
                        high: price,
                        low: price,
                        close: price,
                        volume: None,
                        source: Provider::CoinGecko,
                    });
                    Ok(Fetched {
                        items: vec![item],
                        shape: Shape::Quotes,
                    })
                })
                .collect()
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
            let page_end = (from + Self::window(series.interval)).min(to);
            let request = self
                .request(&format!("/coins/{}/market_chart/range", series.provider_id))
                .query("vs_currency", "usd")
                .query("from", from.timestamp().to_string())
                .query("to", page_end.timestamp().to_string())
                .query("precision", "full");
            let body = match self
                .http
                .get(Provider::CoinGecko, &self.pacer, &request)
                .await
            {
                Err(SourceError::Rejected { status: 404, .. }) => {
                    return Err(SourceError::UnknownInstrument {
                        source_name: Provider::CoinGecko,
                        provider_id: series.provider_id.clone(),
                    });
                }
                other => other?,
            };
            let chart: MarketChart = parse_json(Provider::CoinGecko, &body)?;
            if coarser_than(&chart.prices, series.interval) {
                return Err(SourceError::UnsupportedInterval {
                    source_name: Provider::CoinGecko,
                    interval: series.interval,
                });
            }
            let points: Vec<_> = chart
                .prices
                .iter()
                .filter_map(|(ms, price)| {
                    let price = price
                        .ok_or(CandleError::NonFinitePrice)
                        .and_then(price_from_f64);
                    from_millis(*ms).map(|at| (at, price))
                })
                .collect();
            Ok(Page {
                fetched: Fetched {
                    items: fold_points(series, &points, from, page_end, Provider::CoinGecko),
                    shape: Shape::WholeCandles,
                },
                next: (page_end < to).then_some(page_end),
            })
        }
        .boxed()
    }
}
