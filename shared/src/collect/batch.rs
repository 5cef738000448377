//! The store stage's input: candles of one series, as the fetcher hands them to the writer.
//!
//! In the cloud a batch travels as one SQS message body (JSON, prices as exact decimal
//! strings), so it is kept under [`MAX_MESSAGE_BYTES`]: SQS bills every 64 KiB of a message as
//! one request and refuses messages over 256 KiB. Locally the same value goes straight to the
//! store stage. The writer trusts nothing in it: every candle is validated again.

use serde::{Deserialize, Serialize};

use super::plan::TimeRange;
use crate::db::candles::UpsertMode;
use crate::model::{Candle, Interval, Symbol};
use crate::providers::Shape;

/// The largest message body a batch is cut to: one SQS billing unit with room to spare.
pub const MAX_MESSAGE_BYTES: usize = 60 * 1024;

/// How stored candles meet these: the store's decision from the source's [`Shape`], named
/// on the wire so the writer makes the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Merge {
    /// Whole candles: the incoming candle replaces the stored one.
    Replace,
    /// Quotes: keep the stored open, widen high and low, take the incoming close.
    MergeQuote,
}

impl From<Shape> for Merge {
    fn from(shape: Shape) -> Self {
        match shape {
            Shape::WholeCandles => Self::Replace,
            Shape::Quotes => Self::MergeQuote,
        }
    }
}

impl From<Merge> for UpsertMode {
    fn from(merge: Merge) -> Self {
        match merge {
            Merge::Replace => Self::Replace,
            Merge::MergeQuote => Self::MergeQuote,
        }
    }
}

/// Candles of one series, and the span of history they answer (for gap repair's record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandleBatch {
    /// The series every candle of the batch belongs to ([`CandleBatch::decode`] checks).
    pub symbol: Symbol,
    /// The interval of every candle of the batch.
    pub interval: Interval,
    /// How the writer meets stored candles.
    pub merge: Merge,
    /// The history span the source was asked for, when this batch answers one (a gap repair
    /// or a backfill page); `None` for a latest poll. A batch may be empty: "the source had
    /// nothing there" is an answer gap repair records.
    #[serde(default)]
    pub covers: Option<TimeRange>,
    /// The fetched candles, already validated by the fetcher; may be empty.
    pub candles: Vec<Candle>,
}

/// Why a message body is not a batch.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Not the JSON of a batch; the parser's error is the source.
    #[error("not a candle batch: {0}")]
    Json(#[source] serde_json::Error),
    /// A candle of another series than the batch names.
    #[error(
        "not a candle batch: a {} {} candle in a batch of {} {}",
        .stray.0, .stray.1, .batch.0, .batch.1
    )]
    StrayCandle {
        /// The series of the candle that does not belong.
        stray: (Symbol, Interval),
        /// The series the batch names.
        batch: (Symbol, Interval),
    },
}

impl CandleBatch {
    /// Reads a message body.
    pub fn decode(body: &str) -> Result<Self, BatchError> {
        let batch: Self = serde_json::from_str(body).map_err(BatchError::Json)?;
        if let Some(stray) = batch
            .candles
            .iter()
            .find(|c| c.symbol != batch.symbol || c.interval != batch.interval)
        {
            return Err(BatchError::StrayCandle {
                stray: (stray.symbol.clone(), stray.interval),
                batch: (batch.symbol.clone(), batch.interval),
            });
        }
        Ok(batch)
    }

    /// This batch as message bodies of at most [`MAX_MESSAGE_BYTES`] each. Only the last body
    /// carries `covers`, so the span is recorded after all its candles are stored… by a writer
    /// that takes messages in order; one that does not records a hole once too often, which
    /// only costs one more request later.
    pub fn encode(&self) -> Vec<String> {
        let whole = self.to_json();
        if whole.len() <= MAX_MESSAGE_BYTES || self.candles.len() <= 1 {
            return vec![whole];
        }
        let per_candle = whole.len() / self.candles.len() + 1;
        let per_body = (MAX_MESSAGE_BYTES * 9 / 10 / per_candle).max(1);
        let chunks: Vec<&[Candle]> = self.candles.chunks(per_body).collect();
        let last = chunks.len() - 1;
        chunks
            .into_iter()
            .enumerate()
            .flat_map(|(i, candles)| {
                Self {
                    symbol: self.symbol.clone(),
                    interval: self.interval,
                    merge: self.merge,
                    covers: if i == last { self.covers } else { None },
                    candles: candles.to_vec(),
                }
                .encode()
            })
            .collect()
    }

    fn to_json(&self) -> String {
        // A batch is plain data: serialising it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone, Utc};
    use rust_decimal::Decimal;

    use super::*;
    use crate::model::Provider;

    fn batch(n: usize) -> CandleBatch {
        let symbol = Symbol::parse("BTC").expect("valid");
        let start = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid");
        CandleBatch {
            symbol: symbol.clone(),
            interval: Interval::OneMinute,
            merge: Merge::Replace,
            covers: Some(TimeRange {
                from: start,
                to: start + TimeDelta::minutes(n as i64),
            }),
            candles: (0..n)
                .map(|i| Candle {
                    symbol: symbol.clone(),
                    interval: Interval::OneMinute,
                    open_time: start + TimeDelta::minutes(i as i64),
                    open: Decimal::new(6_425_012_345, 5),
                    high: Decimal::new(6_430_000_000, 5),
                    low: Decimal::new(6_420_000_001, 5),
                    close: Decimal::new(6_428_000_000, 5),
                    volume: Some(Decimal::new(125, 1)),
                    source: Provider::Binance.into(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_large_batch_is_cut_into_bodies_under_the_limit_that_decode_to_the_same_candles() {
        let original = batch(3_000);
        let bodies = original.encode();
        assert!(bodies.len() > 1);
        let decoded: Vec<CandleBatch> = bodies
            .iter()
            .map(|b| {
                assert!(b.len() <= MAX_MESSAGE_BYTES, "{} bytes", b.len());
                CandleBatch::decode(b).expect("decodes")
            })
            .collect();
        let candles: Vec<Candle> = decoded.iter().flat_map(|b| b.candles.clone()).collect();
        assert_eq!(candles, original.candles, "exact decimals, same order");
        let covered: Vec<_> = decoded.iter().filter_map(|b| b.covers).collect();
        assert_eq!(
            covered,
            vec![original.covers.expect("set")],
            "only the last"
        );
    }

    #[test]
    fn bodies_that_are_not_batches_are_refused_with_a_reason() {
        let mut stray = batch(2);
        stray.candles[1].symbol = Symbol::parse("ETH").expect("valid");
        for (body, expected) in [
            ("", "EOF"),
            ("{}", "missing field"),
            (&stray.to_json(), "ETH 1m candle in a batch of BTC"),
            (
                r#"{"symbol":"BTC","interval":"1m","merge":"replace","candles":[],"extra":1}"#,
                "unknown field",
            ),
        ] {
            let err = CandleBatch::decode(body).expect_err("refused");
            assert!(err.to_string().contains(expected), "{body}: {err}");
        }
    }
}
