//! Queries on the `candles` table.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use rust_decimal::Decimal;
use tokio_postgres::Row;

use super::DbError;
use crate::model::{Candle, Interval, Provider, Symbol};

/// How an incoming candle meets one already stored for the same bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertMode {
    /// The source publishes whole candles (exchange klines, history): the newer one wins.
    Replace,
    /// The source publishes quotes: keep the stored open, widen high and low, take the close.
    MergeQuote,
}

/// What one upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// Rows inserted or changed. Re-sending identical candles changes nothing and counts zero.
    pub written: u64,
    /// Candles dropped before the write because a later one in the same batch had the same key.
    pub duplicates: u64,
}

/// Upserts `candles` in one statement (one round trip) inside the caller's transaction or
/// as its own implicit one: the batch is stored whole or not at all.
///
/// Rows are de-duplicated (the last one for a key wins) and sorted by key first: PostgreSQL
/// refuses to touch one row twice in a statement, and a fixed order keeps two concurrent
/// collectors from deadlocking on each other's rows.
pub async fn upsert(
    client: &impl GenericClient,
    candles: &[Candle],
    mode: UpsertMode,
) -> Result<UpsertOutcome, DbError> {
    if candles.is_empty() {
        return Ok(UpsertOutcome::default());
    }
    let mut rows: Vec<&Candle> = candles.iter().collect();
    // Stable sort keeps arrival order within a key, so `dedup_by` can keep the last arrival.
    rows.sort_by(|a, b| {
        (a.symbol.as_str(), a.interval, a.open_time).cmp(&(
            b.symbol.as_str(),
            b.interval,
            b.open_time,
        ))
    });
    let before = rows.len();
    rows.reverse();
    rows.dedup_by(|later, earlier| {
        later.symbol == earlier.symbol
            && later.interval == earlier.interval
            && later.open_time == earlier.open_time
    });
    rows.reverse();
    let duplicates = (before - rows.len()) as u64;

    let symbols: Vec<&str> = rows.iter().map(|c| c.symbol.as_str()).collect();
    let intervals: Vec<&str> = rows.iter().map(|c| c.interval.as_str()).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|c| c.open_time).collect();
    let opens: Vec<Decimal> = rows.iter().map(|c| c.open).collect();
    let highs: Vec<Decimal> = rows.iter().map(|c| c.high).collect();
    let lows: Vec<Decimal> = rows.iter().map(|c| c.low).collect();
    let closes: Vec<Decimal> = rows.iter().map(|c| c.close).collect();
    let volumes: Vec<Option<Decimal>> = rows.iter().map(|c| c.volume).collect();
    let sources: Vec<&str> = rows.iter().map(|c| c.source.as_str()).collect();

    let on_conflict = match mode {
        UpsertMode::Replace => {
            "open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
             close = EXCLUDED.close, volume = EXCLUDED.volume, source = EXCLUDED.source,
             ingested_at = now()
             WHERE (candles.open, candles.high, candles.low, candles.close, candles.volume, candles.source)
                IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume, EXCLUDED.source)"
        }
        UpsertMode::MergeQuote => {
            "high = GREATEST(candles.high, EXCLUDED.high), low = LEAST(candles.low, EXCLUDED.low),
             close = EXCLUDED.close, volume = COALESCE(EXCLUDED.volume, candles.volume),
             ingested_at = now()
             WHERE (candles.high < EXCLUDED.high OR candles.low > EXCLUDED.low
                OR candles.close IS DISTINCT FROM EXCLUDED.close
                OR (EXCLUDED.volume IS NOT NULL AND candles.volume IS DISTINCT FROM EXCLUDED.volume))"
        }
    };
    let sql = format!(
        "INSERT INTO candles (symbol, interval, open_time, open, high, low, close, volume, source)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::numeric[],
                              $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::text[])
         ON CONFLICT (symbol, interval, open_time) DO UPDATE SET {on_conflict}"
    );
    let statement = client.prepare_cached(&sql).await?;
    let written = client
        .execute(
            &statement,
            &[
                &symbols, &intervals, &times, &opens, &highs, &lows, &closes, &volumes, &sources,
            ],
        )
        .await?;
    Ok(UpsertOutcome {
        written,
        duplicates,
    })
}

const COLUMNS: &str = "symbol, interval, open_time, open, high, low, close, volume, source";

pub(crate) fn from_row(row: &Row) -> Result<Candle, DbError> {
    let corrupt = |e: &dyn std::fmt::Display| DbError::CorruptRow(format!("candles: {e}"));
    Ok(Candle {
        symbol: Symbol::parse(row.try_get("symbol")?).map_err(|e| corrupt(&e))?,
        interval: Interval::parse(row.try_get("interval")?).map_err(|e| corrupt(&e))?,
        open_time: row.try_get("open_time")?,
        open: row.try_get("open")?,
        high: row.try_get("high")?,
        low: row.try_get("low")?,
        close: row.try_get("close")?,
        volume: row.try_get("volume")?,
        source: Provider::parse(row.try_get("source")?).map_err(|e| corrupt(&e))?,
    })
}

/// The newest candle of a series.
pub async fn latest(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
) -> Result<Option<Candle>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM candles WHERE symbol = $1 AND interval = $2
         ORDER BY open_time DESC LIMIT 1"
    );
    let statement = client.prepare_cached(&sql).await?;
    client
        .query_opt(&statement, &[&symbol.as_str(), &interval.as_str()])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Candles with `from <= open_time < to`, oldest first, at most `limit`.
pub async fn range_ascending(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Candle>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM candles
         WHERE symbol = $1 AND interval = $2 AND open_time >= $3 AND open_time < $4
         ORDER BY open_time ASC LIMIT $5"
    );
    let statement = client.prepare_cached(&sql).await?;
    client
        .query(
            &statement,
            &[&symbol.as_str(), &interval.as_str(), &from, &to, &limit],
        )
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The newest candle time of every enabled series on the watch list (`None`: none stored yet).
/// One index probe per series, so it stays cheap however long the history is.
pub async fn newest_per_watched_series(
    client: &impl GenericClient,
) -> Result<Vec<(Symbol, Interval, Option<DateTime<Utc>>)>, DbError> {
    let statement = client
        .prepare_cached(
            "SELECT s.symbol, s.interval, c.open_time
             FROM symbols s
             LEFT JOIN LATERAL (
                 SELECT open_time FROM candles
                 WHERE candles.symbol = s.symbol AND candles.interval = s.interval
                 ORDER BY open_time DESC LIMIT 1
             ) c ON true
             WHERE s.enabled
             ORDER BY s.symbol",
        )
        .await?;
    let corrupt = |e: &dyn std::fmt::Display| DbError::CorruptRow(format!("symbols: {e}"));
    client
        .query(&statement, &[])
        .await?
        .iter()
        .map(|row| {
            Ok((
                Symbol::parse(row.try_get("symbol")?).map_err(|e| corrupt(&e))?,
                Interval::parse(row.try_get("interval")?).map_err(|e| corrupt(&e))?,
                row.try_get("open_time")?,
            ))
        })
        .collect()
}
