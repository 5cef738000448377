//! The synthetic [`PriceSource`]: the seeded generator of [`super::synthetic`] served as if it
//! were a market, with no network.
//!
//! Repeated polls must never invent contradicting history, so every candle is a pure function
//! of (seed, symbol, interval, bucket). Time is cut into blocks of [`BLOCK`] buckets counted
//! from [`ANCHOR`]. Each block's opening price comes from a slow, mean-reverting walk over
//! block indices (cheap: one draw per block); inside a block the GARCH generator runs from that
//! price, and its path is bent by a smooth exponential drift so that the block closes exactly
//! where the next block opens. Any bucket can therefore be computed alone, and neighbouring
//! candles always join up (each opens at the previous close).

use chrono::{DateTime, TimeZone, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use super::synthetic::{SyntheticParams, generate};
use super::{Fetched, Page, PriceSource, SeriesRequest, SeriesResult, Shape, SourceError};
use crate::model::{Candle, CandleInput, Interval, Provider, Symbol};

/// Buckets per block.
pub const BLOCK: i64 = 1_000;
/// Candles exist from here on; earlier requests get nothing.
pub const ANCHOR: i64 = 946_684_800; // 2000-01-01T00:00:00Z

/// Deterministic prices for any symbol, the default source for local runs.
#[derive(Debug, Clone)]
pub struct SyntheticSource {
    params: SyntheticParams,
}

impl SyntheticSource {
    pub fn new(seed: u64) -> Self {
        Self {
            params: SyntheticParams {
                seed,
                ..SyntheticParams::default()
            },
        }
    }

    /// The first candle time this source has for `interval`.
    pub fn anchor() -> DateTime<Utc> {
        Utc.timestamp_opt(ANCHOR, 0).single().unwrap_or_default()
    }

    fn series_seed(&self, symbol: &Symbol, interval: Interval) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in symbol
            .as_str()
            .bytes()
            .chain(interval.as_str().bytes())
            .chain(self.params.seed.to_le_bytes())
        {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }

    /// Opening prices of blocks `block` and `block + 1`, from a mean-reverting log walk whose
    /// level depends on the symbol (so BTC and a penny coin do not sit at the same price).
    fn block_prices(&self, series_seed: u64, block: i64) -> (f64, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(series_seed);
        let magnitude = (series_seed % 5) as i32; // 1 .. 10,000
        let base = 10f64.powi(magnitude) * (1.0 + ((series_seed >> 8) % 9) as f64);
        let step = self.params.volatility * (BLOCK as f64).sqrt() * 0.5;
        let reversion = 0.05;
        let mut level = 0.0_f64;
        let draw = |level: f64, rng: &mut ChaCha8Rng| {
            let z: f64 = StandardNormal.sample(rng);
            level * (1.0 - reversion) + step * z
        };
        for _ in 0..block {
            level = draw(level, &mut rng);
        }
        let next = draw(level, &mut rng);
        (base * level.exp(), base * next.exp())
    }

    /// Every candle of one block.
    fn block(&self, symbol: &Symbol, interval: Interval, block: i64) -> Vec<Candle> {
        let series_seed = self.series_seed(symbol, interval);
        let (open_price, next_open) = self.block_prices(series_seed, block);
        let start = Utc
            .timestamp_opt(ANCHOR + block * BLOCK * interval.seconds(), 0)
            .single()
            .unwrap_or_default();
        let params = SyntheticParams {
            seed: series_seed ^ (block as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            start_price: open_price,
            ..self.params.clone()
        };
        let mut candles = generate(symbol, interval, start, BLOCK as usize, &params).candles;
        let Some(end) = candles.last().and_then(|c| c.close.to_f64()) else {
            return candles;
        };
        let drift = (next_open / end).ln();
        let factor = |i: usize| {
            Decimal::from_f64((drift * i as f64 / BLOCK as f64).exp()).unwrap_or(Decimal::ONE)
        };
        let scale = |value: Decimal, by: Decimal| {
            (value * by)
                .round_sf(10)
                .map(|d| d.normalize())
                .unwrap_or(value)
        };
        for (i, candle) in candles.iter_mut().enumerate() {
            let (f0, f1) = (factor(i), factor(i + 1));
            let open = scale(candle.open, f0);
            let close = scale(candle.close, f1);
            candle.high = scale(candle.high, f0.max(f1)).max(open).max(close);
            candle.low = scale(candle.low, f0.min(f1)).min(open).min(close);
            candle.open = open;
            candle.close = close;
        }
        candles
    }

    /// Candles with `from <= open_time < to`.
    pub fn candles(
        &self,
        symbol: &Symbol,
        interval: Interval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Candle> {
        let step = interval.seconds();
        let first = ((from.timestamp().max(ANCHOR) - ANCHOR) / step) / BLOCK;
        let last = (to.timestamp() - 1 - ANCHOR)
            .div_euclid(step)
            .div_euclid(BLOCK);
        let mut out = Vec::new();
        for block in first..=last {
            out.extend(
                self.block(symbol, interval, block)
                    .into_iter()
                    .filter(|c| c.open_time >= from && c.open_time < to),
            );
        }
        out
    }

    fn fetched(candles: Vec<Candle>) -> Fetched {
        Fetched {
            items: candles
                .into_iter()
                .map(|c| {
                    Ok(CandleInput {
                        symbol: c.symbol,
                        interval: c.interval,
                        open_time: c.open_time,
                        open: c.open,
                        high: c.high,
                        low: c.low,
                        close: c.close,
                        volume: c.volume,
                        source: Provider::Synthetic,
                    })
                })
                .collect(),
            shape: Shape::WholeCandles,
        }
    }
}

impl PriceSource for SyntheticSource {
    fn provider(&self) -> Provider {
        Provider::Synthetic
    }

    /// The previous and the current bucket of every series.
    fn latest<'a>(
        &'a self,
        series: &'a [SeriesRequest],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<SeriesResult>> {
        async move {
            series
                .iter()
                .map(|s| {
                    let current = s.interval.bucket_start(now);
                    Ok(Self::fetched(self.candles(
                        &s.symbol,
                        s.interval,
                        current - s.interval.duration(),
                        current + s.interval.duration(),
                    )))
                })
                .collect()
        }
        .boxed()
    }

    /// One block's worth of candles per page.
    fn history<'a>(
        &'a self,
        series: &'a SeriesRequest,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Page, SourceError>> {
        async move {
            let from = from.max(Self::anchor());
            let step = series.interval.seconds();
            let block = (from.timestamp() - ANCHOR) / step / BLOCK;
            let block_end = Utc
                .timestamp_opt(ANCHOR + (block + 1) * BLOCK * step, 0)
                .single()
                .unwrap_or(to);
            let page_end = block_end.min(to);
            let candles = if from < page_end {
                self.candles(&series.symbol, series.interval, from, page_end)
            } else {
                Vec::new()
            };
            Ok(Page {
                fetched: Self::fetched(candles),
                next: (page_end < to).then_some(page_end),
            })
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn btc() -> Symbol {
        Symbol::parse("BTC").expect("valid")
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn any_bucket_is_the_same_whichever_range_asked_for_it() {
        let source = SyntheticSource::new(7);
        let wide = source.candles(&btc(), Interval::OneHour, at(2026, 1, 1), at(2026, 3, 1));
        let narrow = source.candles(
            &btc(),
            Interval::OneHour,
            at(2026, 2, 1),
            at(2026, 2, 1) + TimeDelta::hours(3),
        );
        let offset = wide
            .iter()
            .position(|c| c.open_time == narrow[0].open_time)
            .expect("overlap");
        assert_eq!(&wide[offset..offset + 3], &narrow[..]);
    }

    #[test]
    fn candles_join_up_across_block_boundaries_and_stay_valid() {
        let source = SyntheticSource::new(1);
        let candles = source.candles(&btc(), Interval::OneMinute, at(2026, 5, 1), at(2026, 5, 3));
        assert_eq!(candles.len(), 2 * 1440);
        for pair in candles.windows(2) {
            assert_eq!(pair[1].open, pair[0].close, "at {}", pair[1].open_time);
            assert_eq!(pair[1].open_time - pair[0].open_time, TimeDelta::minutes(1));
        }
        for c in &candles {
            assert!(c.low <= c.open.min(c.close) && c.high >= c.open.max(c.close));
            assert!(c.low > Decimal::ZERO);
        }
    }

    #[tokio::test]
    async fn history_pages_cover_the_range_exactly_once() {
        let source = SyntheticSource::new(3);
        let series = SeriesRequest {
            symbol: btc(),
            provider_id: "btc".into(),
            interval: Interval::OneHour,
        };
        let (from, to) = (at(2026, 1, 1), at(2026, 4, 1));
        let mut cursor = Some(from);
        let mut seen = Vec::new();
        while let Some(start) = cursor {
            let page = source.history(&series, start, to).await.expect("page");
            seen.extend(
                page.fetched
                    .items
                    .into_iter()
                    .map(|i| i.expect("ok").open_time),
            );
            cursor = page.next;
        }
        let expected = (to - from).num_hours() as usize;
        assert_eq!(seen.len(), expected);
        assert!(seen.windows(2).all(|w| w[1] - w[0] == TimeDelta::hours(1)));
    }
}
