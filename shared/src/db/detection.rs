//! The detector's queries: a per-series lock, the candles from a point on and the history
//! before them.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::DbError;
use super::candles::from_row;
use crate::model::{Candle, Interval, Symbol};

const COLUMNS: &str = "symbol, interval, open_time, open, high, low, close, volume, source";

/// Takes a transaction-scoped advisory lock on one series, waiting while another run holds it.
/// Two detector runs on the same series therefore take turns: the second reads the watermark
/// the first committed and finds nothing new. Released at commit or rollback.
pub async fn lock_series(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
) -> Result<(), DbError> {
    let statement = client
        .prepare_cached(
            "SELECT pg_advisory_xact_lock(hashtext('tickwatch.detector'), hashtext($1 || '/' || $2))",
        )
        .await?;
    client
        .execute(&statement, &[&symbol.as_str(), &interval.as_str()])
        .await?;
    Ok(())
}

/// Candles with `from <= open_time <= until` (no lower bound when `from` is `None`), oldest
/// first, at most `limit`.
pub async fn candles_from(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    from: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Candle>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM candles
         WHERE symbol = $1 AND interval = $2 AND ($3::timestamptz IS NULL OR open_time >= $3)
           AND open_time <= $4
         ORDER BY open_time ASC LIMIT $5"
    );
    let statement = client.prepare_cached(&sql).await?;
    client
        .query(
            &statement,
            &[&symbol.as_str(), &interval.as_str(), &from, &until, &limit],
        )
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The `limit` candles just before `before` (exclusive), oldest first: a detector's history.
pub async fn candles_before(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Candle>, DbError> {
    let sql = format!(
        "SELECT * FROM (
             SELECT {COLUMNS} FROM candles
             WHERE symbol = $1 AND interval = $2 AND open_time < $3
             ORDER BY open_time DESC LIMIT $4
         ) AS history ORDER BY open_time ASC"
    );
    let statement = client.prepare_cached(&sql).await?;
    client
        .query(
            &statement,
            &[&symbol.as_str(), &interval.as_str(), &before, &limit],
        )
        .await?
        .iter()
        .map(from_row)
        .collect()
}
