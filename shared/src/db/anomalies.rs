//! Queries on `anomalies`: events, one row per run of candles whose consensus passed the
//! threshold. The detector reconciles a range's events with what the scores say now (an event
//! keeps its id while it changes); the API lists and counts them.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{DbError, RowProblem};
use crate::detect::events::Event;
use crate::model::{Anomaly, AnomalyKind, Interval, Method, Score, Severity, Symbol};

/// A stored event with the columns the table adds: its identity, when it was first stored,
/// when it last changed, and when its severity last rose.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnomaly {
    /// Primary key; stable across updates, so clients and announcements refer to it.
    pub id: i64,
    /// When the detector first stored the event.
    pub created_at: DateTime<Utc>,
    /// When a later detection run last extended or re-scored it.
    pub updated_at: DateTime<Utc>,
    /// When its severity last rose (`None`: never since it was stored).
    pub severity_raised_at: Option<DateTime<Utc>>,
    /// The event as the detector described it.
    pub anomaly: Anomaly,
}

const COLUMNS: &str = "id, symbol, interval, start_time, end_time, peak_time, candles, score, \
                       severity, kind, methods, details, created_at, updated_at, severity_raised_at";

pub(crate) fn from_row(row: &Row) -> Result<StoredAnomaly, DbError> {
    let corrupt = |problem: RowProblem| DbError::corrupt("anomalies", problem);
    let methods: Vec<String> = row.try_get("methods")?;
    let anomaly = Anomaly {
        symbol: Symbol::parse(row.try_get("symbol")?).map_err(|e| corrupt(e.into()))?,
        interval: Interval::parse(row.try_get("interval")?).map_err(|e| corrupt(e.into()))?,
        start_time: row.try_get("start_time")?,
        end_time: row.try_get("end_time")?,
        peak_time: row.try_get("peak_time")?,
        candles: row.try_get("candles")?,
        score: Score::new(row.try_get("score")?).map_err(|e| corrupt(e.into()))?,
        severity: Severity::parse(row.try_get("severity")?).map_err(|e| corrupt(e.into()))?,
        kind: AnomalyKind::parse(row.try_get("kind")?).map_err(|e| corrupt(e.into()))?,
        methods: methods
            .iter()
            .map(|m| Method::parse(m).map_err(|e| corrupt(e.into())))
            .collect::<Result<_, _>>()?,
        details: row.try_get("details")?,
    };
    Ok(StoredAnomaly {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        severity_raised_at: row.try_get("severity_raised_at")?,
        anomaly,
    })
}

/// Every event of one series, oldest first.
pub async fn for_series(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
) -> Result<Vec<StoredAnomaly>, DbError> {
    touching(
        client,
        symbol,
        interval,
        crate::model::EARLIEST,
        crate::model::LATEST,
    )
    .await
}

/// The events of one series that overlap `from ..= to`, oldest first.
pub async fn touching(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<StoredAnomaly>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM anomalies
         WHERE symbol = $1 AND interval = $2 AND end_time >= $3 AND start_time <= $4
         ORDER BY start_time, id"
    );
    let statement = client.prepare_cached(&sql).await?;
    client
        .query(
            &statement,
            &[&symbol.as_str(), &interval.as_str(), &from, &to],
        )
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// An event's columns as statement parameters, in the order both `insert` and `update`
/// take them: start, end, peak, candles, score, severity, kind, methods, details.
struct EventColumns<'a> {
    event: &'a Event,
    candles: i32,
    severity: &'static str,
    kind: &'static str,
    methods: Vec<&'static str>,
}

impl<'a> EventColumns<'a> {
    fn new(event: &'a Event) -> Self {
        Self {
            event,
            candles: i32::try_from(event.candles).unwrap_or(i32::MAX),
            severity: event.severity.as_str(),
            kind: event.kind.as_str(),
            methods: event.methods.iter().map(|m| m.as_str()).collect(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 9] {
        let e = self.event;
        [
            &e.start,
            &e.end,
            &e.peak_time,
            &self.candles,
            &e.peak_score,
            &self.severity,
            &self.kind,
            &self.methods,
            &e.details,
        ]
    }
}

/// Stores a new event; returns its id.
pub async fn insert(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    event: &Event,
) -> Result<i64, DbError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO anomalies (symbol, interval, start_time, end_time, peak_time, candles,
                                    score, severity, kind, methods, details)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .await?;
    let columns = EventColumns::new(event);
    let (symbol, interval) = (symbol.as_str(), interval.as_str());
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&symbol, &interval];
    params.extend(columns.params());
    let row = client.query_one(&statement, &params).await?;
    Ok(row.try_get(0)?)
}

/// Rewrites event `id` with what the scores say now; a row that would not change is left
/// alone. `updated_at` moves when anything changed, `severity_raised_at` when the severity
/// rose. Returns whether the row changed.
pub async fn update(client: &impl GenericClient, id: i64, event: &Event) -> Result<bool, DbError> {
    let statement = client
        .prepare_cached(
            "UPDATE anomalies
             SET start_time = $2, end_time = $3, peak_time = $4, candles = $5, score = $6,
                 severity = $7, kind = $8, methods = $9, details = $10, updated_at = now(),
                 severity_raised_at = CASE
                     WHEN array_position(ARRAY['low','medium','high','critical'], $7::text)
                        > array_position(ARRAY['low','medium','high','critical'], severity)
                     THEN now() ELSE severity_raised_at END
             WHERE id = $1
               AND (start_time, end_time, peak_time, candles, score, severity, kind, methods, details)
                   IS DISTINCT FROM ($2, $3, $4, $5, $6, $7::text, $8::text, $9::text[], $10::jsonb)",
        )
        .await?;
    let columns = EventColumns::new(event);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id];
    params.extend(columns.params());
    Ok(client.execute(&statement, &params).await? > 0)
}

/// Deletes events that the scores no longer support.
pub async fn delete(client: &impl GenericClient, ids: &[i64]) -> Result<u64, DbError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let statement = client
        .prepare_cached("DELETE FROM anomalies WHERE id = ANY($1)")
        .await?;
    Ok(client.execute(&statement, &[&ids]).await?)
}

// ---- Reads for the HTTP API -------------------------------------------------------------
// Each answers "is the symbol watched?" in the same statement when a symbol is named.

/// Which events to list: those overlapping `from <= t < to`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyFilter {
    /// Only this series (`None`: every symbol).
    pub symbol: Option<Symbol>,
    /// Events the method contributed to.
    pub method: Option<Method>,
    /// Events of exactly this severity (`None`: any).
    pub severity: Option<Severity>,
    /// Inclusive start of the range.
    pub from: DateTime<Utc>,
    /// Exclusive end of the range.
    pub to: DateTime<Utc>,
}

/// Events matching `filter`, newest first by `(start_time, id)`, at most `limit`, strictly
/// after `after` (the last row of the previous page). `Ok(None)`: the filter names a symbol
/// that is not watched.
pub async fn page(
    client: &impl GenericClient,
    filter: &AnomalyFilter,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> Result<Option<Vec<StoredAnomaly>>, DbError> {
    let (sql, _) = page_sql(filter, after.is_some());
    let symbol = filter.symbol.as_ref().map(Symbol::as_str);
    let method = filter.method.map(Method::as_str);
    let severity = filter.severity.map(Severity::as_str);
    let (after_time, after_id) = after.unzip();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&filter.from, &filter.to, &limit];
    if let Some(symbol) = &symbol {
        params.push(symbol);
    }
    if let Some(method) = &method {
        params.push(method);
    }
    if let Some(severity) = &severity {
        params.push(severity);
    }
    if let (Some(time), Some(id)) = (&after_time, &after_id) {
        params.push(time);
        params.push(id);
    }
    let statement = client.prepare_cached(&sql).await?;
    let rows = client.query(&statement, &params).await?;
    if symbol.is_some() {
        // A lateral join from `symbols`: no row at all means the symbol is not watched, one
        // row of NULLs means it has no event in range.
        if rows.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.try_get::<_, Option<i64>>("id")?.is_some() {
                out.push(from_row(row)?);
            }
        }
        return Ok(Some(out));
    }
    rows.iter()
        .map(from_row)
        .collect::<Result<_, _>>()
        .map(Some)
}

/// The statement [`page`] runs for this filter, and how many parameters it takes; public so
/// tests can EXPLAIN exactly what the API runs.
pub fn page_sql(filter: &AnomalyFilter, with_cursor: bool) -> (String, usize) {
    let mut conditions = String::from("start_time < $2 AND end_time >= $1");
    let mut n = 3;
    let symbol_param = filter.symbol.is_some().then(|| {
        n += 1;
        n
    });
    if let Some(p) = symbol_param {
        conditions.push_str(&format!(" AND symbol = ${p}"));
    }
    if filter.method.is_some() {
        n += 1;
        conditions.push_str(&format!(" AND methods @> ARRAY[${n}::text]"));
    }
    if filter.severity.is_some() {
        n += 1;
        conditions.push_str(&format!(" AND severity = ${n}"));
    }
    if with_cursor {
        conditions.push_str(&format!(" AND (start_time, id) < (${}, ${})", n + 1, n + 2));
        n += 2;
    }
    let inner = format!(
        "SELECT {COLUMNS} FROM anomalies WHERE {conditions} ORDER BY start_time DESC, id DESC LIMIT $3"
    );
    let sql = match symbol_param {
        Some(p) => format!(
            "SELECT e.* FROM symbols s LEFT JOIN LATERAL ({inner}) e ON true WHERE s.symbol = ${p}"
        ),
        None => inner,
    };
    (sql, n)
}

/// Counts of events in a time range, grouped four ways.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnomalyStats {
    /// Events in the range.
    pub total: i64,
    /// Events per contributing method; an event found by two methods counts under both.
    pub by_method: Vec<(String, i64)>,
    /// Events per kind name.
    pub by_kind: Vec<(String, i64)>,
    /// Events per severity name.
    pub by_severity: Vec<(String, i64)>,
    /// Events per symbol.
    pub by_symbol: Vec<(String, i64)>,
}

/// Counts events overlapping `from <= t < to` (of one symbol, when given) by contributing
/// method, kind, severity and symbol, in one statement. `Ok(None)`: the symbol is not watched.
pub async fn stats(
    client: &impl GenericClient,
    symbol: Option<&Symbol>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<AnomalyStats>, DbError> {
    let statement = client
        .prepare_cached(
            "WITH e AS (
                 SELECT symbol, kind, severity, methods FROM anomalies
                 WHERE start_time < $2 AND end_time >= $1 AND ($3::text IS NULL OR symbol = $3)
             )
             SELECT 'watched' AS dimension, NULL::text AS name,
                    count(*) FILTER (WHERE $3::text IS NULL OR s.symbol = $3) AS n
             FROM (SELECT 1) one LEFT JOIN symbols s ON s.symbol = $3
             UNION ALL SELECT 'total', NULL, count(*) FROM e
             UNION ALL SELECT 'method', m, count(*) FROM e, unnest(e.methods) m GROUP BY m
             UNION ALL SELECT 'kind', kind, count(*) FROM e GROUP BY kind
             UNION ALL SELECT 'severity', severity, count(*) FROM e GROUP BY severity
             UNION ALL SELECT 'symbol', symbol, count(*) FROM e GROUP BY symbol
             ORDER BY 1, 2",
        )
        .await?;
    let rows = client
        .query(&statement, &[&from, &to, &symbol.map(Symbol::as_str)])
        .await?;
    let mut stats = AnomalyStats::default();
    for row in rows {
        let dimension: &str = row.try_get("dimension")?;
        let name: Option<String> = row.try_get("name")?;
        let n: i64 = row.try_get("n")?;
        match (dimension, name) {
            ("watched", _) if n == 0 => return Ok(None),
            ("total", _) => stats.total = n,
            ("method", Some(name)) => stats.by_method.push((name, n)),
            ("kind", Some(name)) => stats.by_kind.push((name, n)),
            ("severity", Some(name)) => stats.by_severity.push((name, n)),
            ("symbol", Some(name)) => stats.by_symbol.push((name, n)),
            _ => {}
        }
    }
    Ok(Some(stats))
}
