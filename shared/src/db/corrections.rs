//! Corrections: candles a person writes or removes through the API.
//!
//! Each request is one statement, so one round trip: it checks the symbol is on the watch
//! list, resolves an omitted interval to the symbol's own, refuses what cannot be stored, and
//! writes, all at once. A correction is stored with `source = 'correction'`, which the
//! collector's upsert never overwrites (see [`super::candles::upsert`]); deleting it lets the
//! feed write that bucket again.
//!
//! Whether a row was created comes from the write itself (`xmax = 0` on the returned row), not
//! from a read before it, so of any number of requests racing to create one candle exactly one
//! is told it created it.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use rust_decimal::Decimal;

use super::DbError;
use crate::model::{CandleSource, Interval, Symbol};

/// A corrected candle that passed validation, whose interval may still be the symbol's own.
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    /// `None`: the symbol's own interval, which only the database knows.
    pub interval: Option<Interval>,
    /// Start of the bucket, UTC; must be aligned to the resolved interval.
    pub open_time: DateTime<Utc>,
    /// Corrected prices, in the quote currency of the symbol.
    pub open: Decimal,
    /// Highest price of the bucket.
    pub high: Decimal,
    /// Lowest price of the bucket.
    pub low: Decimal,
    /// Last price of the bucket.
    pub close: Decimal,
    /// Traded volume; `None` where the market reports none.
    pub volume: Option<Decimal>,
}

/// A row the statement inserted or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The interval of the stored row (the correction's, resolved).
    pub interval: Interval,
    /// Open time of the stored row.
    pub open_time: DateTime<Utc>,
    /// True when the row is new, false when it replaced a different one.
    pub created: bool,
}

/// What a write did. Corrections absent from `written` were either identical to the stored
/// row, or refused by the statement because their open time is not aligned to the resolved
/// interval or another correction of the request resolves to the same key; the caller tells
/// these apart with [`Correction::resolved_interval`] and [`Interval::is_aligned`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The symbol's own interval: what `interval: None` meant.
    pub symbol_interval: Interval,
    /// Rows inserted or changed, in statement order.
    pub written: Vec<Written>,
}

impl Correction {
    /// The interval this correction writes to: its own, else the symbol's.
    pub fn resolved_interval(&self, symbol_interval: Interval) -> Interval {
        self.interval.unwrap_or(symbol_interval)
    }
}

/// `CASE interval WHEN '1m' THEN 60 … END`, from [`Interval::ALL`], so the statement's
/// alignment rule is the model's.
fn interval_seconds_sql(column: &str) -> String {
    let arms: String = Interval::ALL
        .iter()
        .map(|i| format!(" WHEN '{}' THEN {}", i.as_str(), i.seconds()))
        .collect();
    format!("CASE {column}{arms} END")
}

static WRITE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH target AS (
             SELECT symbol, interval FROM symbols WHERE symbol = $1
         ), incoming AS (
             SELECT t.symbol, COALESCE(r.interval, t.interval) AS interval, r.open_time,
                    r.open, r.high, r.low, r.close, r.volume
             FROM target t
             CROSS JOIN UNNEST($2::text[], $3::timestamptz[], $4::numeric[], $5::numeric[],
                               $6::numeric[], $7::numeric[], $8::numeric[])
                 AS r(interval, open_time, open, high, low, close, volume)
         ), storable AS (
             SELECT * FROM (
                 SELECT i.*, count(*) OVER (PARTITION BY i.interval, i.open_time) AS copies
                 FROM incoming i
             ) counted
             WHERE copies = 1 AND mod(extract(epoch FROM open_time), {seconds}) = 0
         ), written AS (
             INSERT INTO candles (symbol, interval, open_time, open, high, low, close, volume, source)
             SELECT symbol, interval, open_time, open, high, low, close, volume, '{correction}'
             FROM storable ORDER BY interval, open_time
             ON CONFLICT (symbol, interval, open_time) DO UPDATE SET
                 open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
                 close = EXCLUDED.close, volume = EXCLUDED.volume, source = EXCLUDED.source,
                 ingested_at = now()
             WHERE (candles.open, candles.high, candles.low, candles.close, candles.volume, candles.source)
                IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume, EXCLUDED.source)
             RETURNING interval, open_time, (xmax = 0) AS created
         )
         SELECT t.interval AS symbol_interval, w.interval, w.open_time, w.created
         FROM target t LEFT JOIN written w ON true",
        seconds = interval_seconds_sql("interval"),
        correction = CandleSource::CORRECTION,
    )
});

/// Stores `corrections` for `symbol` in one statement. `Ok(None)`: the symbol is not on the
/// watch list (nothing was written).
pub async fn write(
    client: &impl GenericClient,
    symbol: &Symbol,
    corrections: &[Correction],
) -> Result<Option<WriteOutcome>, DbError> {
    let intervals: Vec<Option<&str>> = corrections
        .iter()
        .map(|c| c.interval.map(Interval::as_str))
        .collect();
    let times: Vec<DateTime<Utc>> = corrections.iter().map(|c| c.open_time).collect();
    let opens: Vec<Decimal> = corrections.iter().map(|c| c.open).collect();
    let highs: Vec<Decimal> = corrections.iter().map(|c| c.high).collect();
    let lows: Vec<Decimal> = corrections.iter().map(|c| c.low).collect();
    let closes: Vec<Decimal> = corrections.iter().map(|c| c.close).collect();
    let volumes: Vec<Option<Decimal>> = corrections.iter().map(|c| c.volume).collect();
    let statement = client.prepare_cached(&WRITE_SQL).await?;
    let rows = client
        .query(
            &statement,
            &[
                &symbol.as_str(),
                &intervals,
                &times,
                &opens,
                &highs,
                &lows,
                &closes,
                &volumes,
            ],
        )
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let symbol_interval = parse_interval(first.try_get("symbol_interval")?)?;
    let mut written = Vec::new();
    for row in &rows {
        // A LEFT JOIN row of NULLs when nothing was written.
        let Some(open_time) = row.try_get::<_, Option<DateTime<Utc>>>("open_time")? else {
            continue;
        };
        written.push(Written {
            interval: parse_interval(row.try_get("interval")?)?,
            open_time,
            created: row.try_get("created")?,
        });
    }
    Ok(Some(WriteOutcome {
        symbol_interval,
        written,
    }))
}

/// What [`delete`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    /// The interval that was looked in (the one asked for, or the symbol's own).
    pub interval: Interval,
    /// The source of the removed candle; `None` when there was no such candle.
    pub removed: Option<CandleSource>,
}

/// Removes one candle of a watched symbol, whatever its source, in one statement. `Ok(None)`:
/// the symbol is not on the watch list. A removed feed candle comes back if its source still
/// sends it; a removed correction lets the feed write the bucket again.
pub async fn delete(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Option<Interval>,
    open_time: DateTime<Utc>,
) -> Result<Option<Deleted>, DbError> {
    let statement = client
        .prepare_cached(
            "WITH target AS (
                 SELECT symbol, COALESCE($2::text, interval) AS interval
                 FROM symbols WHERE symbol = $1
             ), removed AS (
                 DELETE FROM candles c USING target t
                 WHERE c.symbol = t.symbol AND c.interval = t.interval AND c.open_time = $3
                 RETURNING c.source
             )
             SELECT t.interval, (SELECT source FROM removed) AS removed FROM target t",
        )
        .await?;
    let Some(row) = client
        .query_opt(
            &statement,
            &[
                &symbol.as_str(),
                &interval.map(Interval::as_str),
                &open_time,
            ],
        )
        .await?
    else {
        return Ok(None);
    };
    let removed = row
        .try_get::<_, Option<&str>>("removed")?
        .map(|name| CandleSource::parse(name).map_err(|e| DbError::corrupt("candles", e)))
        .transpose()?;
    Ok(Some(Deleted {
        interval: parse_interval(row.try_get("interval")?)?,
        removed,
    }))
}

fn parse_interval(name: &str) -> Result<Interval, DbError> {
    Interval::parse(name).map_err(|e| DbError::corrupt("symbols", e))
}
