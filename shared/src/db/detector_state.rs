//! Queries on `detector_state`: how far the detector has read each series, and from where a
//! changed candle asks it to recompute.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::DbError;
use crate::model::{Interval, Symbol};

/// A series' progress. The row exists from the first candle written to the series (the
/// trigger on `candles` creates it), so a write during the first scan is recorded too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    /// The open time of the newest candle already scanned; `None` before the first scan.
    pub watermark: Option<DateTime<Utc>>,
    /// The earliest candle written since the detector last looked (kept by a trigger on
    /// `candles`); at or before the watermark it means "recompute from here".
    pub rescan_from: Option<DateTime<Utc>>,
    /// How many statements have written the series' candles: a scan that finds it changed
    /// since it read the state knows something was written meanwhile.
    pub writes: i64,
}

/// The state of a series, if a candle was ever written to it or it was ever scanned.
pub async fn get(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
) -> Result<Option<State>, DbError> {
    let statement = client
        .prepare_cached(
            "SELECT watermark, rescan_from, writes FROM detector_state
             WHERE symbol = $1 AND interval = $2",
        )
        .await?;
    let row = client
        .query_opt(&statement, &[&symbol.as_str(), &interval.as_str()])
        .await?;
    row.map(|r| {
        Ok(State {
            watermark: r.try_get("watermark")?,
            rescan_from: r.try_get("rescan_from")?,
            writes: r.try_get("writes")?,
        })
    })
    .transpose()
}

/// The open time of the newest candle already scanned, if the series was ever scanned.
pub async fn watermark(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
) -> Result<Option<DateTime<Utc>>, DbError> {
    Ok(get(client, symbol, interval)
        .await?
        .and_then(|s| s.watermark))
}

/// Moves the watermark forward (never back: a slower concurrent run cannot undo a faster one)
/// and replaces `rescan_from` with `next` — unless a statement wrote the series' candles since
/// the scan read the state (`seen_writes`, `None` when there was no row), in which case the
/// earlier of the two is kept: the write may lie behind the page even when it is later than
/// the `rescan_from` the scan read, and the count cannot say where it went, so the next page
/// starts again where this one did (work repeated, never a candle missed). The comparison is made on the row as it is when this
/// statement gets it, so a trigger that fired in a transaction committing meanwhile is never
/// lost.
pub async fn finish_page(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    watermark: Option<DateTime<Utc>>,
    seen_writes: Option<i64>,
    next: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO detector_state (symbol, interval, watermark, rescan_from)
             VALUES ($1, $2, $3, $5)
             ON CONFLICT (symbol, interval) DO UPDATE
             SET watermark = GREATEST(detector_state.watermark, EXCLUDED.watermark),
                 rescan_from = CASE
                     WHEN detector_state.writes = $4::bigint THEN $5
                     ELSE LEAST(detector_state.rescan_from, $5) END,
                 updated_at = now()",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &symbol.as_str(),
                &interval.as_str(),
                &watermark,
                &seen_writes,
                &next,
            ],
        )
        .await?;
    Ok(())
}

/// Moves the watermark forward and leaves `rescan_from` alone (an explicit rescan of a range).
pub async fn advance(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    to: DateTime<Utc>,
) -> Result<(), DbError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO detector_state (symbol, interval, watermark) VALUES ($1, $2, $3)
             ON CONFLICT (symbol, interval) DO UPDATE
             SET watermark = GREATEST(detector_state.watermark, EXCLUDED.watermark), updated_at = now()",
        )
        .await?;
    client
        .execute(&statement, &[&symbol.as_str(), &interval.as_str(), &to])
        .await?;
    Ok(())
}
