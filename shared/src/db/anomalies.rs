//! Queries on the `anomalies` table.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::DbError;
use crate::model::{Anomaly, AnomalyKind, Interval, Method, Score, Severity, Symbol};

/// Upserts findings in one statement. A finding already stored with the same score, severity
/// and details is left untouched, so re-running a detector changes nothing. Returns the rows
/// inserted or changed.
pub async fn upsert(client: &impl GenericClient, anomalies: &[Anomaly]) -> Result<u64, DbError> {
    if anomalies.is_empty() {
        return Ok(0);
    }
    let mut rows: Vec<&Anomaly> = anomalies.iter().collect();
    let key = |a: &Anomaly| (a.symbol.clone(), a.interval, a.open_time, a.method, a.kind);
    rows.sort_by_key(|a| key(a));
    rows.dedup_by(|a, b| key(a) == key(b));
    let symbols: Vec<&str> = rows.iter().map(|a| a.symbol.as_str()).collect();
    let intervals: Vec<&str> = rows.iter().map(|a| a.interval.as_str()).collect();
    let times: Vec<_> = rows.iter().map(|a| a.open_time).collect();
    let methods: Vec<&str> = rows.iter().map(|a| a.method.as_str()).collect();
    let kinds: Vec<&str> = rows.iter().map(|a| a.kind.as_str()).collect();
    let scores: Vec<f64> = rows.iter().map(|a| a.score.value()).collect();
    let severities: Vec<&str> = rows.iter().map(|a| a.severity.as_str()).collect();
    let details: Vec<&serde_json::Value> = rows.iter().map(|a| &a.details).collect();
    let statement = client
        .prepare_cached(
            "INSERT INTO anomalies (symbol, interval, open_time, method, kind, score, severity, details)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],
                                  $6::float8[], $7::text[], $8::jsonb[])
             ON CONFLICT (symbol, interval, open_time, method, kind) DO UPDATE
             SET score = EXCLUDED.score, severity = EXCLUDED.severity, details = EXCLUDED.details,
                 detected_at = now()
             WHERE (anomalies.score, anomalies.severity, anomalies.details)
                IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.severity, EXCLUDED.details)",
        )
        .await?;
    Ok(client
        .execute(
            &statement,
            &[
                &symbols,
                &intervals,
                &times,
                &methods,
                &kinds,
                &scores,
                &severities,
                &details,
            ],
        )
        .await?)
}

pub(crate) fn from_row(row: &Row) -> Result<Anomaly, DbError> {
    let corrupt = |e: &dyn std::fmt::Display| DbError::CorruptRow(format!("anomalies: {e}"));
    let score = Score::new(row.try_get("score")?).map_err(|e| corrupt(&e))?;
    Ok(Anomaly {
        symbol: Symbol::parse(row.try_get("symbol")?).map_err(|e| corrupt(&e))?,
        interval: Interval::parse(row.try_get("interval")?).map_err(|e| corrupt(&e))?,
        open_time: row.try_get("open_time")?,
        method: Method::parse(row.try_get("method")?).map_err(|e| corrupt(&e))?,
        kind: AnomalyKind::parse(row.try_get("kind")?).map_err(|e| corrupt(&e))?,
        score,
        severity: Severity::parse(row.try_get("severity")?).map_err(|e| corrupt(&e))?,
        details: row.try_get("details")?,
    })
}

/// Every finding for one series, oldest first; for tests and rescans.
pub async fn for_series(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
) -> Result<Vec<Anomaly>, DbError> {
    let statement = client
        .prepare_cached(
            "SELECT symbol, interval, open_time, method, kind, score, severity, details
             FROM anomalies WHERE symbol = $1 AND interval = $2
             ORDER BY open_time, method, kind",
        )
        .await?;
    client
        .query(&statement, &[&symbol.as_str(), &interval.as_str()])
        .await?
        .iter()
        .map(from_row)
        .collect()
}

// ---- Reads for the HTTP API -------------------------------------------------------------

/// A stored finding with the columns the table adds: its id (the tie-breaker that makes
/// paging by time exact) and when it was detected.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnomaly {
    pub id: i64,
    pub detected_at: chrono::DateTime<chrono::Utc>,
    pub anomaly: Anomaly,
}

/// Which findings to list. Times bound the candle's open time: `from <= open_time < to`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyFilter {
    pub symbol: Option<Symbol>,
    pub method: Option<Method>,
    pub severity: Option<Severity>,
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
}

/// Findings matching `filter`, newest first by `(open_time, id)`, at most `limit`, starting
/// strictly after `after` (the last row of the previous page). The statement names only the
/// filters given, so the planner can pick the index that leads with them.
pub async fn page(
    client: &impl GenericClient,
    filter: &AnomalyFilter,
    after: Option<(chrono::DateTime<chrono::Utc>, i64)>,
    limit: i64,
) -> Result<Vec<StoredAnomaly>, DbError> {
    let (sql, _) = page_sql(filter, after.is_some());
    let symbol = filter.symbol.as_ref().map(Symbol::as_str);
    let method = filter.method.map(Method::as_str);
    let severity = filter.severity.map(Severity::as_str);
    let (after_time, after_id) = after.unzip();
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        vec![&filter.from, &filter.to, &limit];
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
    client
        .query(&statement, &params)
        .await?
        .iter()
        .map(|row| {
            Ok(StoredAnomaly {
                id: row.try_get("id")?,
                detected_at: row.try_get("detected_at")?,
                anomaly: from_row(row)?,
            })
        })
        .collect()
}

/// The statement [`page`] runs for this filter, and how many parameters it takes; public so
/// tests can EXPLAIN exactly what the API runs.
pub fn page_sql(filter: &AnomalyFilter, with_cursor: bool) -> (String, usize) {
    let mut sql = String::from(
        "SELECT id, symbol, interval, open_time, method, kind, score, severity, details, detected_at
         FROM anomalies WHERE open_time >= $1 AND open_time < $2",
    );
    let mut n = 3;
    for (present, column) in [
        (filter.symbol.is_some(), "symbol"),
        (filter.method.is_some(), "method"),
        (filter.severity.is_some(), "severity"),
    ] {
        if present {
            n += 1;
            sql.push_str(&format!(" AND {column} = ${n}"));
        }
    }
    if with_cursor {
        sql.push_str(&format!(" AND (open_time, id) < (${}, ${})", n + 1, n + 2));
        n += 2;
    }
    sql.push_str(" ORDER BY open_time DESC, id DESC LIMIT $3");
    (sql, n)
}

/// Counts of findings in a time range, grouped three ways.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnomalyStats {
    pub total: i64,
    pub by_method: Vec<(String, i64)>,
    pub by_kind: Vec<(String, i64)>,
    pub by_severity: Vec<(String, i64)>,
    pub by_symbol: Vec<(String, i64)>,
}

/// Counts findings with `from <= open_time < to` (of one symbol, when given) by method, kind,
/// severity and symbol, in one statement.
pub async fn stats(
    client: &impl GenericClient,
    symbol: Option<&Symbol>,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<AnomalyStats, DbError> {
    let statement = client
        .prepare_cached(
            "SELECT method, kind, severity, symbol, count(*) AS n,
                    GROUPING(method) = 0 AS by_method, GROUPING(kind) = 0 AS by_kind,
                    GROUPING(severity) = 0 AS by_severity, GROUPING(symbol) = 0 AS by_symbol
             FROM anomalies
             WHERE open_time >= $1 AND open_time < $2 AND ($3::text IS NULL OR symbol = $3)
             GROUP BY GROUPING SETS ((method), (kind), (severity), (symbol), ())
             ORDER BY 1, 2, 3, 4",
        )
        .await?;
    let rows = client
        .query(&statement, &[&from, &to, &symbol.map(Symbol::as_str)])
        .await?;
    let mut stats = AnomalyStats::default();
    for row in rows {
        let n: i64 = row.try_get("n")?;
        for (flag, column, target) in [
            ("by_method", "method", &mut stats.by_method),
            ("by_kind", "kind", &mut stats.by_kind),
            ("by_severity", "severity", &mut stats.by_severity),
            ("by_symbol", "symbol", &mut stats.by_symbol),
        ] {
            if row.try_get::<_, bool>(flag)? {
                target.push((row.try_get(column)?, n));
            }
        }
        if !row.try_get::<_, bool>("by_method")?
            && !row.try_get::<_, bool>("by_kind")?
            && !row.try_get::<_, bool>("by_severity")?
            && !row.try_get::<_, bool>("by_symbol")?
        {
            stats.total = n;
        }
    }
    Ok(stats)
}
