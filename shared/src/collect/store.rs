//! Validating a source's items and upserting the ones that pass, in batches.

use chrono::{DateTime, Utc};

use super::SymbolOutcome;
use crate::db::{Db, DbError, candles};
use crate::model::{Candle, CandleError};
use crate::providers::Fetched;

/// Validates every item of `fetched` as of `now` and upserts the accepted candles in batches
/// of `batch_size`, one statement (one round trip, one implicit transaction) per batch, so a
/// batch is stored whole or not at all. Counts go into `outcome`; a rejected item is logged
/// with its reason and never stops the others.
///
/// Fails on the first batch the database refuses; batches before it stay stored.
pub(crate) async fn store(
    db: &Db,
    outcome: &mut SymbolOutcome,
    fetched: Fetched,
    now: DateTime<Utc>,
    batch_size: usize,
) -> Result<(), DbError> {
    outcome.fetched += fetched.items.len() as u64;
    let mut accepted = Vec::with_capacity(fetched.items.len());
    for item in fetched.items {
        let checked = item.and_then(|input| Candle::validate(input, now));
        match checked {
            Ok(candle) if candle.symbol == outcome.symbol => accepted.push(candle),
            Ok(candle) => {
                // A source bug, never a provider's: count it rather than store it elsewhere.
                tracing::error!(expected = %outcome.symbol, got = %candle.symbol, "a source returned another symbol's candle");
                *outcome
                    .rejected
                    .entry("wrong_symbol".to_owned())
                    .or_default() += 1;
            }
            Err(error) => reject(outcome, &error),
        }
    }
    // One candle per open time in what the source sent, checked across the whole response
    // (not per write batch), so a repeat is counted however the batches fall.
    let deduplicated = crate::model::reject_duplicates(accepted);
    for refused in &deduplicated.rejected {
        reject(outcome, &refused.error);
    }
    let accepted = deduplicated.kept;
    for batch in accepted.chunks(batch_size.max(1)) {
        let client = db.client().await?;
        let result = candles::upsert(&client, batch, fetched.mode).await?;
        outcome.stored += result.written;
        outcome.duplicates += result.duplicates;
        outcome.unchanged += (batch.len() as u64)
            .saturating_sub(result.duplicates)
            .saturating_sub(result.written);
        let newest = batch.iter().map(|c| c.open_time).max();
        outcome.newest = outcome.newest.max(newest);
    }
    Ok(())
}

fn reject(outcome: &mut SymbolOutcome, error: &CandleError) {
    tracing::warn!(symbol = %outcome.symbol, reason = error.reason(), %error, "candle rejected");
    *outcome
        .rejected
        .entry(error.reason().to_owned())
        .or_default() += 1;
}
