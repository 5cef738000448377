//! Holes in stored series, and the record of holes gap repair asked a source for in vain.
//!
//! A hole is a run of buckets with no candle between the series' first stored candle and the
//! end of the window: history before the first candle was never asked for, so it is no hole.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::DbError;
use crate::model::{Interval, Symbol};

/// Buckets `start <= open_time < end` with no candle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hole {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Hole {
    /// How many buckets of `interval` the hole spans.
    pub fn buckets(&self, interval: Interval) -> u64 {
        ((self.end - self.start).num_seconds() / interval.seconds()).max(0) as u64
    }
}

/// The holes of one series within `from <= open_time < to`, oldest first. A series with no
/// candle at all has none. One index range scan: the window is bounded by the caller.
pub async fn holes(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Hole>, DbError> {
    // Two sentinels bound the window: one bucket before its start (so a hole at the very
    // start is found) and its end (so the tail after the newest candle is found). The window
    // starts at the first stored candle when that is later than `from`.
    let statement = client
        .prepare_cached(
            "WITH first AS (
                 SELECT min(open_time) AS first FROM candles WHERE symbol = $1 AND interval = $2
             ), window_start AS (
                 SELECT GREATEST($3::timestamptz, first) AS start FROM first WHERE first IS NOT NULL
             ), present AS (
                 SELECT c.open_time FROM candles c, window_start w
                 WHERE c.symbol = $1 AND c.interval = $2 AND c.open_time >= w.start AND c.open_time < $4
                 UNION ALL SELECT w.start - $5::bigint * interval '1 second' FROM window_start w
                 UNION ALL SELECT $4::timestamptz FROM window_start WHERE start < $4
             ), runs AS (
                 SELECT open_time, lead(open_time) OVER (ORDER BY open_time) AS next FROM present
             )
             SELECT open_time + $5::bigint * interval '1 second' AS gap_start, next AS gap_end
             FROM runs
             WHERE next > open_time + $5::bigint * interval '1 second'
             ORDER BY gap_start",
        )
        .await?;
    client
        .query(
            &statement,
            &[
                &symbol.as_str(),
                &interval.as_str(),
                &from,
                &to,
                &interval.seconds(),
            ],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(Hole {
                start: row.try_get("gap_start")?,
                end: row.try_get("gap_end")?,
            })
        })
        .collect()
}

/// Starts of the holes of a series that were asked for at least `attempts` times in vain.
pub async fn given_up(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    attempts: i32,
) -> Result<Vec<DateTime<Utc>>, DbError> {
    let statement = client
        .prepare_cached(
            "SELECT gap_start FROM collection_gaps
             WHERE symbol = $1 AND interval = $2 AND attempts >= $3",
        )
        .await?;
    client
        .query(
            &statement,
            &[&symbol.as_str(), &interval.as_str(), &attempts],
        )
        .await?
        .iter()
        .map(|row| Ok(row.try_get("gap_start")?))
        .collect()
}

/// After a source was asked for `from <= open_time < to`: counts one more attempt for every
/// hole still left in that span, and forgets the holes that were filled. Returns the buckets
/// still missing.
pub async fn record_attempt(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<u64, DbError> {
    let left = holes(client, symbol, interval, from, to).await?;
    let starts: Vec<DateTime<Utc>> = left.iter().map(|h| h.start).collect();
    let ends: Vec<DateTime<Utc>> = left.iter().map(|h| h.end).collect();
    let statement = client
        .prepare_cached(
            "WITH forgotten AS (
                 DELETE FROM collection_gaps
                 WHERE symbol = $1 AND interval = $2 AND gap_start >= $3 AND gap_start < $4
                   AND NOT (gap_start = ANY($5::timestamptz[]))
             )
             INSERT INTO collection_gaps (symbol, interval, gap_start, gap_end)
             SELECT $1, $2, s, e FROM UNNEST($5::timestamptz[], $6::timestamptz[]) AS t(s, e)
             ON CONFLICT (symbol, interval, gap_start) DO UPDATE
                 SET attempts = collection_gaps.attempts + 1, gap_end = EXCLUDED.gap_end,
                     last_attempt_at = now()",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &symbol.as_str(),
                &interval.as_str(),
                &from,
                &to,
                &starts,
                &ends,
            ],
        )
        .await?;
    Ok(left.iter().map(|h| h.buckets(interval)).sum())
}
