//! Queries on the `candles` table.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use rust_decimal::Decimal;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{CopyInSink, Row, Statement};

use super::{DbError, RowProblem};
use crate::model::{Candle, CandleSource, EARLIEST, Interval, LATEST, Symbol};

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
    /// Rows inserted or changed. Re-sending identical candles changes nothing and counts zero,
    /// and so does a feed candle for a bucket a person corrected.
    pub written: u64,
    /// Candles refused because the batch held another one for the same key (reason
    /// `duplicate_open_time`, see [`crate::model::reject_duplicates`]). Callers that count
    /// rejections by reason apply that rule themselves before the upsert, so this stays zero.
    pub duplicates: u64,
}

/// A connection that can also stream a `COPY`: what [`upsert`] needs for large batches. Both
/// a pooled connection and a transaction on one qualify.
pub trait CopyClient: GenericClient {
    /// Whether statements run inside a transaction the caller owns. A failed statement there
    /// would abort the caller's whole transaction, so a step that may fail and be retried
    /// another way (the append path of [`upsert`]) runs under a savepoint.
    const IN_TRANSACTION: bool;

    /// Starts `COPY … FROM STDIN` for `statement`.
    fn copy_in_sink(
        &self,
        statement: &Statement,
    ) -> impl Future<Output = Result<CopyInSink<Bytes>, tokio_postgres::Error>> + Send;
}

impl CopyClient for deadpool_postgres::Client {
    const IN_TRANSACTION: bool = false;

    fn copy_in_sink(
        &self,
        statement: &Statement,
    ) -> impl Future<Output = Result<CopyInSink<Bytes>, tokio_postgres::Error>> + Send {
        tokio_postgres::Client::copy_in(self, statement)
    }
}

impl CopyClient for deadpool_postgres::Transaction<'_> {
    const IN_TRANSACTION: bool = true;

    fn copy_in_sink(
        &self,
        statement: &Statement,
    ) -> impl Future<Output = Result<CopyInSink<Bytes>, tokio_postgres::Error>> + Send {
        tokio_postgres::Transaction::copy_in(self, statement)
    }
}

/// Batches of at least this many candles go through `COPY`; smaller ones (a poll's few quotes,
/// an API correction) through one `UNNEST` statement, which costs a single round trip.
pub const COPY_FROM: usize = 256;

/// Upserts `candles` in one `INSERT … ON CONFLICT` statement, inside the caller's transaction
/// or as its own implicit one: the batch is stored whole or not at all.
///
/// Two rules hold whatever the mode and path:
/// - a batch holds one candle per key: repeats are refused as
///   [`crate::model::reject_duplicates`] says (PostgreSQL refuses to touch one row twice in a
///   statement, and a silent "last one wins" would hide a source's bug);
/// - a correction sticks: a candle a person corrected (`source = 'correction'`) is never
///   overwritten by a feed candle, only by another correction. Deleting the correction lets
///   the feed write that bucket again.
///
/// Rows are sorted by key: a fixed order keeps two concurrent collectors from deadlocking on
/// each other's rows. A batch of [`COPY_FROM`] or more goes through binary `COPY` (see
/// [`upsert_through_copy`]); a smaller batch travels as arrays.
pub async fn upsert(
    client: &impl CopyClient,
    candles: &[Candle],
    mode: UpsertMode,
) -> Result<UpsertOutcome, DbError> {
    if candles.is_empty() {
        return Ok(UpsertOutcome::default());
    }
    let batch = crate::model::reject_duplicates(candles.to_vec());
    Ok(UpsertOutcome {
        written: upsert_unique(client, &batch.kept, mode).await?,
        duplicates: batch.rejected.len() as u64,
    })
}

/// [`upsert`] for candles the caller has already put through
/// [`crate::model::reject_duplicates`] (the store stage does, to count the repeats with the
/// other rejections): the same statement, without copying the batch to check it again.
/// Returns the rows inserted or changed.
pub async fn upsert_unique(
    client: &impl CopyClient,
    candles: &[Candle],
    mode: UpsertMode,
) -> Result<u64, DbError> {
    if candles.is_empty() {
        return Ok(0);
    }
    let mut rows: Vec<&Candle> = candles.iter().collect();
    fn key(c: &Candle) -> (&str, Interval, DateTime<Utc>) {
        (c.symbol.as_str(), c.interval, c.open_time)
    }
    // History arrives in order: checking costs one pass, sorting it again would cost more.
    if !rows.is_sorted_by(|a, b| key(a) <= key(b)) {
        rows.sort_by(|a, b| key(a).cmp(&key(b)));
    }
    if rows.len() >= COPY_FROM {
        upsert_through_copy(client, &rows, mode).await
    } else {
        upsert_as_arrays(client, &rows, mode).await
    }
}

/// What happens when an incoming candle meets a stored one: the `DO UPDATE` clause. Its
/// `WHERE` skips rows that would not change, so a re-sent batch rewrites nothing, and rows a
/// person corrected, which only another correction may change. It names the target table
/// `candles` (the benchmark merges into a twin table aliased so).
pub fn on_conflict(mode: UpsertMode) -> &'static str {
    match mode {
        UpsertMode::Replace => {
            "ON CONFLICT (symbol, interval, open_time) DO UPDATE SET
             open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
             close = EXCLUDED.close, volume = EXCLUDED.volume, source = EXCLUDED.source,
             ingested_at = now()
             WHERE (candles.open, candles.high, candles.low, candles.close, candles.volume, candles.source)
                IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume, EXCLUDED.source)
               AND (candles.source <> 'correction' OR EXCLUDED.source = 'correction')"
        }
        UpsertMode::MergeQuote => {
            "ON CONFLICT (symbol, interval, open_time) DO UPDATE SET
             high = GREATEST(candles.high, EXCLUDED.high), low = LEAST(candles.low, EXCLUDED.low),
             close = EXCLUDED.close, volume = COALESCE(EXCLUDED.volume, candles.volume),
             ingested_at = now()
             WHERE (candles.high < EXCLUDED.high OR candles.low > EXCLUDED.low
                OR candles.close IS DISTINCT FROM EXCLUDED.close
                OR (EXCLUDED.volume IS NOT NULL AND candles.volume IS DISTINCT FROM EXCLUDED.volume))
               AND candles.source <> 'correction'"
        }
    }
}

/// The columns a write supplies, in the order both paths send them (and a binary `COPY` of
/// candles takes them: see [`write_copy_row`]).
pub const WRITTEN: &str = "symbol, interval, open_time, open, high, low, close, volume, source";

/// The types of the [`WRITTEN`] columns, for a `BinaryCopyInWriter`.
pub const COPY_TYPES: [Type; 9] = [
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::TEXT,
];

/// Writes one candle as a row of a binary `COPY … (`[`WRITTEN`]`)`.
pub async fn write_copy_row(
    writer: Pin<&mut BinaryCopyInWriter>,
    c: &Candle,
) -> Result<(), tokio_postgres::Error> {
    writer
        .write(&[
            &c.symbol.as_str(),
            &c.interval.as_str(),
            &c.open_time,
            &c.open,
            &c.high,
            &c.low,
            &c.close,
            &c.volume,
            &c.source.as_str(),
        ])
        .await
}

/// One statement with every column as an array parameter: one round trip.
async fn upsert_as_arrays(
    client: &impl GenericClient,
    rows: &[&Candle],
    mode: UpsertMode,
) -> Result<u64, DbError> {
    let symbols: Vec<&str> = rows.iter().map(|c| c.symbol.as_str()).collect();
    let intervals: Vec<&str> = rows.iter().map(|c| c.interval.as_str()).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|c| c.open_time).collect();
    let opens: Vec<Decimal> = rows.iter().map(|c| c.open).collect();
    let highs: Vec<Decimal> = rows.iter().map(|c| c.high).collect();
    let lows: Vec<Decimal> = rows.iter().map(|c| c.low).collect();
    let closes: Vec<Decimal> = rows.iter().map(|c| c.close).collect();
    let volumes: Vec<Option<Decimal>> = rows.iter().map(|c| c.volume).collect();
    let sources: Vec<&str> = rows.iter().map(|c| c.source.as_str()).collect();
    let sql = format!(
        "INSERT INTO candles ({WRITTEN})
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::numeric[],
                              $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::text[])
         {}",
        on_conflict(mode)
    );
    let statement = client.prepare_cached(&sql).await?;
    Ok(client
        .execute(
            &statement,
            &[
                &symbols, &intervals, &times, &opens, &highs, &lows, &closes, &volumes, &sources,
            ],
        )
        .await?)
}

/// The session's staging table for [`stage_and_merge`]: created on a connection's first
/// large batch that needs merging, emptied before each one. Temporary tables skip the
/// write-ahead log, so the rows are written durably only once, by the `INSERT` from here.
const STAGE: &str = "CREATE TEMP TABLE IF NOT EXISTS candles_incoming (
         symbol text, interval text, open_time timestamptz, open numeric, high numeric,
         low numeric, close numeric, volume numeric, source text);
     TRUNCATE candles_incoming";

/// A large batch takes one of two routes, both ending in the same rows and bookkeeping:
///
/// - **append**: when no stored candle lies inside the batch's span of any of its series
///   (a backfill of new history, a gap being filled, a fresh import), the rows have nothing to
///   meet, so they are streamed with binary `COPY` straight into `candles`. That skips the
///   staging copy and the per-row conflict check of `INSERT … ON CONFLICT`: it costs what a
///   plain `COPY` costs, plus the statement triggers;
/// - **merge**: otherwise, and whenever the append meets a row after all (a concurrent writer
///   stored one in the span after the check: the unique key refuses the whole `COPY`, which
///   rolls back with everything its triggers did), the rows are staged and merged with the
///   `ON CONFLICT` rules of [`on_conflict`].
///
/// Either way the batch is one statement on `candles`, so its triggers (series counts, the
/// detector's rescan request, the `candles.stored` outbox) run once for it.
async fn upsert_through_copy(
    client: &impl CopyClient,
    rows: &[&Candle],
    mode: UpsertMode,
) -> Result<u64, DbError> {
    if spans_are_free(client, rows).await? {
        match append(client, rows).await {
            Ok(written) => return Ok(written),
            Err(DbError::Query(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                tracing::debug!(
                    candles = rows.len(),
                    "another writer stored candles in the batch's span meanwhile; merging instead"
                );
            }
            Err(other) => return Err(other),
        }
    }
    stage_and_merge(client, rows, mode).await
}

/// True when no stored candle lies between the first and the last open time of any series
/// in `rows` (sorted by key): one index range probe per series, in one round trip.
async fn spans_are_free(client: &impl GenericClient, rows: &[&Candle]) -> Result<bool, DbError> {
    let spans = series_spans(rows);
    let symbols: Vec<&str> = spans.iter().map(|s| s.0).collect();
    let intervals: Vec<&str> = spans.iter().map(|s| s.1).collect();
    let firsts: Vec<DateTime<Utc>> = spans.iter().map(|s| s.2).collect();
    let lasts: Vec<DateTime<Utc>> = spans.iter().map(|s| s.3).collect();
    let statement = client
        .prepare_cached(
            "SELECT NOT EXISTS (
                 SELECT 1
                 FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
                      AS s(symbol, interval, first, last)
                 WHERE EXISTS (SELECT 1 FROM candles c
                               WHERE c.symbol = s.symbol AND c.interval = s.interval
                                 AND c.open_time BETWEEN s.first AND s.last))",
        )
        .await?;
    Ok(client
        .query_one(&statement, &[&symbols, &intervals, &firsts, &lasts])
        .await?
        .try_get(0)?)
}

/// `(symbol, interval, first open time, last open time)` of each series in `rows`, which are
/// sorted by key.
fn series_spans<'a>(
    rows: &[&'a Candle],
) -> Vec<(&'a str, &'static str, DateTime<Utc>, DateTime<Utc>)> {
    let mut spans: Vec<(&str, &str, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for c in rows {
        match spans.last_mut() {
            Some(span) if span.0 == c.symbol.as_str() && span.1 == c.interval.as_str() => {
                span.3 = c.open_time;
            }
            _ => spans.push((
                c.symbol.as_str(),
                c.interval.as_str(),
                c.open_time,
                c.open_time,
            )),
        }
    }
    spans
}

/// Binary `COPY` of `rows` straight into `candles`. Inside a caller's transaction it runs under
/// a savepoint, so a refused `COPY` leaves that transaction usable for the merge that follows.
async fn append<C: CopyClient>(client: &C, rows: &[&Candle]) -> Result<u64, DbError> {
    if !C::IN_TRANSACTION {
        return copy_rows(client, "candles", rows).await;
    }
    client.batch_execute("SAVEPOINT candles_append").await?;
    match copy_rows(client, "candles", rows).await {
        Ok(written) => {
            client
                .batch_execute("RELEASE SAVEPOINT candles_append")
                .await?;
            Ok(written)
        }
        Err(error) => {
            // The caller sees the COPY's error; if the connection is gone, so is this.
            let _ = client
                .batch_execute(
                    "ROLLBACK TO SAVEPOINT candles_append; RELEASE SAVEPOINT candles_append",
                )
                .await;
            Err(error)
        }
    }
}

/// Streams `rows` into `table` (`candles` or the staging table) with one binary `COPY`;
/// returns how many rows the server took.
async fn copy_rows(
    client: &impl CopyClient,
    table: &str,
    rows: &[&Candle],
) -> Result<u64, DbError> {
    let copy = client
        .prepare_cached(&format!("COPY {table} ({WRITTEN}) FROM STDIN BINARY"))
        .await?;
    let sink = client.copy_in_sink(&copy).await?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &COPY_TYPES));
    for c in rows {
        write_copy_row(writer.as_mut(), c).await?;
    }
    Ok(writer.as_mut().finish().await?)
}

/// Binary `COPY` into the staging table, then one `INSERT … SELECT … ON CONFLICT` from it.
async fn stage_and_merge(
    client: &impl CopyClient,
    rows: &[&Candle],
    mode: UpsertMode,
) -> Result<u64, DbError> {
    client.batch_execute(STAGE).await?;
    copy_rows(client, "candles_incoming", rows).await?;
    // The staged rows are already unique and in key order (the heap returns them as written).
    let insert = client
        .prepare_cached(&format!(
            "INSERT INTO candles ({WRITTEN}) SELECT {WRITTEN} FROM candles_incoming {}",
            on_conflict(mode)
        ))
        .await?;
    Ok(client.execute(&insert, &[]).await?)
}

const COLUMNS: &str = "symbol, interval, open_time, open, high, low, close, volume, source";

pub(crate) fn from_row(row: &Row) -> Result<Candle, DbError> {
    let corrupt = |problem: RowProblem| DbError::corrupt("candles", problem);
    Ok(Candle {
        symbol: Symbol::parse(row.try_get("symbol")?).map_err(|e| corrupt(e.into()))?,
        interval: Interval::parse(row.try_get("interval")?).map_err(|e| corrupt(e.into()))?,
        open_time: row.try_get("open_time")?,
        open: row.try_get("open")?,
        high: row.try_get("high")?,
        low: row.try_get("low")?,
        close: row.try_get("close")?,
        volume: row.try_get("volume")?,
        source: CandleSource::parse(row.try_get("source")?).map_err(|e| corrupt(e.into()))?,
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

// ---- Reads for the HTTP API -------------------------------------------------------------
// Each one answers "is the symbol on the watch list?" and the question itself in a single round
// trip (a lateral join from `symbols`), so the API never pays two trips for one request.

/// A series of a watched symbol: which interval was read (the one asked for, or the symbol's
/// own) and what was found.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRead<T> {
    /// The interval read: the one asked for, else the symbol's own.
    pub interval: Interval,
    /// What the read found for that series.
    pub value: T,
}

/// The newest candle of a watched symbol. `Ok(None)` means the symbol is not on the watch
/// list; an empty series gives `Some` with `value: None`. `interval` defaults to the symbol's.
pub async fn latest_watched(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Option<Interval>,
) -> Result<Option<SeriesRead<Option<Candle>>>, DbError> {
    let page = page_watched(client, symbol, interval, EARLIEST, LATEST, 1).await?;
    Ok(page.map(|read| SeriesRead {
        interval: read.interval,
        value: read.value.into_iter().next(),
    }))
}

/// Candles of a watched symbol with `from <= open_time < before`, newest first, at most
/// `limit`. Keyset pagination: the next page passes the last open time as `before`.
/// `Ok(None)` means the symbol is not on the watch list.
pub async fn page_watched(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Option<Interval>,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Option<SeriesRead<Vec<Candle>>>, DbError> {
    let statement = client.prepare_cached(HISTORY_SQL).await?;
    let rows = client
        .query(
            &statement,
            &[
                &symbol.as_str(),
                &interval.map(Interval::as_str),
                &from,
                &before,
                &limit,
            ],
        )
        .await?;
    series_rows(&rows, from_row)
}

/// Decodes the rows of a watch-list entry joined laterally to a page of its series: `None`
/// when the symbol is not watched (no row), else the series' interval (`series_interval`,
/// on every row) and one item per row that has an `open_time` — the lateral join yields one
/// row of NULLs when the series has nothing in range.
pub(crate) fn series_rows<T>(
    rows: &[Row],
    item: impl Fn(&Row) -> Result<T, DbError>,
) -> Result<Option<SeriesRead<Vec<T>>>, DbError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let series: &str = first.try_get("series_interval")?;
    let interval = Interval::parse(series).map_err(|e| DbError::corrupt("symbols", e))?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        if row
            .try_get::<_, Option<DateTime<Utc>>>("open_time")?
            .is_some()
        {
            items.push(item(row)?);
        }
    }
    Ok(Some(SeriesRead {
        interval,
        value: items,
    }))
}

/// The statement behind `latest` and `history`. It lives in `shared/sql/history.sql` so the
/// benchmark (`make bench-api`) hands the very same text to pgbench.
pub const HISTORY_SQL: &str = include_str!("../../sql/history.sql");

/// One stored candle, if there is one.
pub async fn get(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    open_time: DateTime<Utc>,
) -> Result<Option<Candle>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM candles WHERE symbol = $1 AND interval = $2 AND open_time = $3"
    );
    let statement = client.prepare_cached(&sql).await?;
    client
        .query_opt(
            &statement,
            &[&symbol.as_str(), &interval.as_str(), &open_time],
        )
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Deletes one candle (a correction); false when there was none.
pub async fn delete(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    open_time: DateTime<Utc>,
) -> Result<bool, DbError> {
    let statement = client
        .prepare_cached(
            "DELETE FROM candles WHERE symbol = $1 AND interval = $2 AND open_time = $3",
        )
        .await?;
    Ok(client
        .execute(
            &statement,
            &[&symbol.as_str(), &interval.as_str(), &open_time],
        )
        .await?
        > 0)
}
