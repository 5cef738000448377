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
