//! The detector's queries: a per-series lock, the candles after a watermark and the history
//! before them, and clearing a range before a rescan writes it again.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::DbError;
use super::candles::from_row;
use crate::model::{Anomaly, Candle, Interval, Method, Symbol};

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

/// Candles with `after < open_time <= until` (no lower bound when `after` is `None`), oldest
/// first, at most `limit`.
pub async fn candles_after(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    after: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Candle>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM candles
         WHERE symbol = $1 AND interval = $2 AND ($3::timestamptz IS NULL OR open_time > $3)
           AND open_time <= $4
         ORDER BY open_time ASC LIMIT $5"
    );
    let statement = client.prepare_cached(&sql).await?;
    client
        .query(
            &statement,
            &[&symbol.as_str(), &interval.as_str(), &after, &until, &limit],
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

/// Deletes the findings of `methods` on one series with `from <= open_time <= to` that are not
/// in `keep`, so after a rescan exactly what the detectors find now remains, and rows that are
/// found again keep their identity. Returns the rows deleted.
pub async fn delete_stale_anomalies(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    methods: &[Method],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    keep: &[Anomaly],
) -> Result<u64, DbError> {
    let methods: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    let times: Vec<DateTime<Utc>> = keep.iter().map(|a| a.open_time).collect();
    let kept_methods: Vec<&str> = keep.iter().map(|a| a.method.as_str()).collect();
    let kinds: Vec<&str> = keep.iter().map(|a| a.kind.as_str()).collect();
    let statement = client
        .prepare_cached(
            "DELETE FROM anomalies
             WHERE symbol = $1 AND interval = $2 AND method = ANY($3)
               AND open_time >= $4 AND open_time <= $5
               AND (open_time, method, kind) NOT IN (
                   SELECT * FROM UNNEST($6::timestamptz[], $7::text[], $8::text[]))",
        )
        .await?;
    Ok(client
        .execute(
            &statement,
            &[
                &symbol.as_str(),
                &interval.as_str(),
                &methods,
                &from,
                &to,
                &times,
                &kept_methods,
                &kinds,
            ],
        )
        .await?)
}
