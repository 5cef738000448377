//! The store stage: validate a batch's candles again and upsert the ones that pass, in
//! statements of at most `batch_size` rows; then, for a batch that answers a span of history,
//! record which holes the source left unfilled.
//!
//! The same code runs in the writer function (behind SQS) and in-process (`make run`, the
//! API's collect-once locally, tests).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio_postgres::error::SqlState;

use super::batch::CandleBatch;
use crate::db::{Db, DbError, candles, gaps};
use crate::model::{Candle, CandleError, CandleInput};

/// What storing one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// Rows inserted or changed.
    pub stored: u64,
    /// Accepted candles the database already held unchanged.
    pub unchanged: u64,
    /// Candles refused, by reason; a repeat of a bucket in the batch is one of them
    /// (`duplicate_open_time`).
    pub rejected: BTreeMap<String, u64>,
    /// Buckets of the batch's span still missing afterwards (`None`: the batch covers no span).
    pub still_missing: Option<u64>,
}

/// The database failed part-way: what was stored before it did, and why it stopped.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct StoreError {
    /// Statements committed before the failure (each is stored whole or not at all).
    pub partial: Stored,
    /// The failure that stopped it; its `is_unavailable` decides the retry.
    #[source]
    pub error: DbError,
}

/// Stores `batch` as of `now`. Fails only when the database fails; a symbol that left the
/// watch list meanwhile is no failure: its candles are refused as `unknown_symbol`.
pub async fn store_batch(
    db: &Db,
    batch: CandleBatch,
    now: DateTime<Utc>,
    batch_size: usize,
) -> Result<Stored, StoreError> {
    let mut result = Stored::default();
    match store_into(db, batch, now, batch_size, &mut result).await {
        Ok(()) => Ok(result),
        Err(error) => Err(StoreError {
            partial: result,
            error,
        }),
    }
}

async fn store_into(
    db: &Db,
    batch: CandleBatch,
    now: DateTime<Utc>,
    batch_size: usize,
    result: &mut Stored,
) -> Result<(), DbError> {
    let mut accepted = Vec::with_capacity(batch.candles.len());
    for candle in batch.candles {
        match CandleInput::try_from(candle).and_then(|input| Candle::validate(input, now)) {
            Ok(candle) => accepted.push(candle),
            Err(error) => reject(&mut result.rejected, &error),
        }
    }
    // One candle per open time in what the source sent, checked across the whole batch (not
    // per write), so a repeat is counted however the writes fall.
    let deduplicated = crate::model::reject_duplicates(accepted);
    for refused in &deduplicated.rejected {
        reject(&mut result.rejected, &refused.error);
    }
    let accepted = deduplicated.kept;
    let client = db.client().await?;
    for chunk in accepted.chunks(batch_size.max(1)) {
        match candles::upsert_unique(&client, chunk, batch.merge.into()).await {
            Ok(written) => {
                result.stored += written;
                result.unchanged += (chunk.len() as u64).saturating_sub(written);
            }
            Err(DbError::Query(e)) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                tracing::warn!(symbol = %batch.symbol, candles = chunk.len(), "the symbol left the watch list; its candles are refused");
                *result
                    .rejected
                    .entry("unknown_symbol".to_owned())
                    .or_default() += chunk.len() as u64;
            }
            Err(other) => return Err(other),
        }
    }
    if let Some(span) = batch.covers {
        match gaps::record_attempt(&client, &batch.symbol, batch.interval, span.from, span.to).await
        {
            Ok(left) => result.still_missing = Some(left),
            Err(DbError::Query(e)) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

fn reject(rejected: &mut BTreeMap<String, u64>, error: &CandleError) {
    tracing::warn!(reason = error.reason(), %error, "candle rejected");
    *rejected.entry(error.reason().to_owned()).or_default() += 1;
}
