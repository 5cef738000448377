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
    /// Open time of the first missing bucket (inclusive).
    pub start: DateTime<Utc>,
    /// Open time just past the last missing bucket (exclusive).
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
    let statement = client
        .prepare_cached(&format!(
            "WITH {HOLES} SELECT gap_start, gap_end FROM holes ORDER BY gap_start"
        ))
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

/// The common table expressions that end in `holes (gap_start, gap_end)`: the holes of series
/// (`$1` symbol, `$2` interval) within `$3 <= open_time < $4`, for buckets of `$5` seconds.
///
/// Two sentinels bound the window: one bucket before its start (so a hole at the very start
/// is found) and its end (so the tail after the newest candle is found). The window starts at
/// the first stored candle when that is later than `$3`.
///
/// Every scan of `candles` is bounded by parameters, never by a value computed in the query:
/// a prepared statement's generic plan, made while the table was nearly empty, once filtered a
/// bound computed by a CTE row by row instead of seeking to it, so each call read the whole
/// series and a backfill's cost grew with the square of its length.
const HOLES: &str = "first AS (
         SELECT open_time AS first FROM candles WHERE symbol = $1 AND interval = $2
         ORDER BY open_time LIMIT 1
     ), window_start AS (
         SELECT GREATEST($3::timestamptz, first) AS start FROM first
     ), present AS (
         -- Every row at or after $3 is at or after the first one: no need to bound by it.
         SELECT c.open_time FROM candles c
         WHERE c.symbol = $1 AND c.interval = $2 AND c.open_time >= $3 AND c.open_time < $4
         UNION ALL SELECT w.start - $5::bigint * interval '1 second' FROM window_start w
         UNION ALL SELECT $4::timestamptz FROM window_start WHERE start < $4
     ), runs AS (
         SELECT open_time, lead(open_time) OVER (ORDER BY open_time) AS next FROM present
     ), holes AS (
         SELECT open_time + $5::bigint * interval '1 second' AS gap_start, next AS gap_end
         FROM runs
         WHERE next > open_time + $5::bigint * interval '1 second'
     )";

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
/// still missing. One statement: finding the holes and recording them is one round trip.
pub async fn record_attempt(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<u64, DbError> {
    let statement = client.prepare_cached(&RECORD_ATTEMPT).await?;
    let missing: i64 = client
        .query_one(
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
        .try_get(0)?;
    Ok(u64::try_from(missing).unwrap_or(0))
}

/// [`record_attempt`]'s statement. Its two writes touch different rows (a hole still open is
/// never deleted), so they may share the statement's snapshot.
static RECORD_ATTEMPT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH {HOLES}, forgotten AS (
             DELETE FROM collection_gaps g
             WHERE g.symbol = $1 AND g.interval = $2 AND g.gap_start >= $3 AND g.gap_start < $4
               AND NOT EXISTS (SELECT 1 FROM holes h WHERE h.gap_start = g.gap_start)
         ), recorded AS (
             INSERT INTO collection_gaps (symbol, interval, gap_start, gap_end)
             SELECT $1, $2, gap_start, gap_end FROM holes ORDER BY gap_start
             ON CONFLICT (symbol, interval, gap_start) DO UPDATE
                 SET attempts = collection_gaps.attempts + 1, gap_end = EXCLUDED.gap_end,
                     last_attempt_at = now()
         )
         SELECT coalesce(sum(extract(epoch FROM gap_end - gap_start)::bigint / $5::bigint), 0)::bigint
         FROM holes"
    )
});
