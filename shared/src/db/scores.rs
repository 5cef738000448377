//! Queries on `candle_scores`: one calibrated consensus score per judged candle, with each
//! method's reading.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;

use super::{DbError, RowProblem};
use crate::detect::{CandleScore, MethodReading, group_of};
use crate::model::{Interval, Method, Severity, Symbol};

/// Upserts the scores of one series in one statement. A row stored with the same values is
/// left untouched, so re-running changes nothing. Returns the rows inserted or changed.
pub async fn upsert(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    scores: &[CandleScore],
) -> Result<u64, DbError> {
    if scores.is_empty() {
        return Ok(0);
    }
    let times: Vec<DateTime<Utc>> = scores.iter().map(|s| s.open_time).collect();
    let ps: Vec<Option<f64>> = scores.iter().map(|s| s.p).collect();
    let values: Vec<Option<f64>> = scores.iter().map(|s| s.score).collect();
    let severities: Vec<Option<&str>> = scores
        .iter()
        .map(|s| s.severity.map(Severity::as_str))
        .collect();
    let readings: Vec<Value> = scores.iter().map(CandleScore::readings_json).collect();
    let facts: Vec<Option<&Value>> = scores
        .iter()
        .map(|s| (!s.facts.is_null()).then_some(&s.facts))
        .collect();
    let statement = client
        .prepare_cached(
            "INSERT INTO candle_scores (symbol, interval, open_time, p, score, severity, readings, facts)
             SELECT $1, $2, * FROM UNNEST($3::timestamptz[], $4::float8[], $5::float8[], $6::text[],
                                          $7::jsonb[], $8::jsonb[])
             ON CONFLICT (symbol, interval, open_time) DO UPDATE
             SET p = EXCLUDED.p, score = EXCLUDED.score, severity = EXCLUDED.severity,
                 readings = EXCLUDED.readings, facts = EXCLUDED.facts, scored_at = now()
             WHERE (candle_scores.p, candle_scores.score, candle_scores.severity,
                    candle_scores.readings, candle_scores.facts)
                IS DISTINCT FROM (EXCLUDED.p, EXCLUDED.score, EXCLUDED.severity,
                                  EXCLUDED.readings, EXCLUDED.facts)",
        )
        .await?;
    Ok(client
        .execute(
            &statement,
            &[
                &symbol.as_str(),
                &interval.as_str(),
                &times,
                &ps,
                &values,
                &severities,
                &readings,
                &facts,
            ],
        )
        .await?)
}

/// Parses the stored readings object back into readings, in `Method::ALL` order.
pub fn readings_from_json(value: &Value) -> Result<Vec<MethodReading>, DbError> {
    let corrupt = |problem: RowProblem| DbError::corrupt("candle_scores.readings", problem);
    let Value::Object(map) = value else {
        return Err(corrupt(RowProblem::Shape("not an object".to_owned())));
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, reading) in map {
        let method = Method::parse(name).map_err(|e| corrupt(e.into()))?;
        let number = |key: &str| {
            reading[key]
                .as_f64()
                .ok_or_else(|| corrupt(RowProblem::Shape(format!("{name}.{key} is not a number"))))
        };
        out.push(MethodReading {
            method,
            group: group_of(method),
            statistic: number("statistic")?,
            p: number("p")?,
            direction: reading["direction"].as_i64().unwrap_or(0).clamp(-1, 1) as i8,
        });
    }
    out.sort_by_key(|r| r.method);
    Ok(out)
}

pub(crate) fn from_row(row: &Row) -> Result<CandleScore, DbError> {
    let severity: Option<&str> = row.try_get("severity")?;
    let facts: Option<Value> = row.try_get("facts")?;
    Ok(CandleScore {
        open_time: row.try_get("open_time")?,
        p: row.try_get("p")?,
        score: row.try_get("score")?,
        severity: severity
            .map(|s| Severity::parse(s).map_err(|e| DbError::corrupt("candle_scores", e)))
            .transpose()?,
        readings: readings_from_json(&row.try_get::<_, Value>("readings")?)?,
        facts: facts.unwrap_or(Value::Null),
    })
}

const COLUMNS: &str = "open_time, p, score, severity, readings, facts";

/// The stored scores of one series with `from <= open_time <= to`, oldest first.
pub async fn range(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<CandleScore>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM candle_scores
         WHERE symbol = $1 AND interval = $2 AND open_time >= $3 AND open_time <= $4
         ORDER BY open_time"
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

/// The statement of [`page_watched`]: symbol, interval (NULL: the symbol's own), from,
/// before, limit.
pub const PAGE_SQL: &str = "SELECT COALESCE($2::text, s.interval) AS series_interval, c.*
     FROM symbols s
     LEFT JOIN LATERAL (
         SELECT open_time, p, score, severity, readings, facts FROM candle_scores
         WHERE symbol = s.symbol AND interval = COALESCE($2::text, s.interval)
           AND open_time >= $3 AND open_time < $4
         ORDER BY open_time DESC
         LIMIT $5
     ) c ON true
     WHERE s.symbol = $1";

/// Scores of a watched symbol with `from <= open_time < before`, newest first, at most
/// `limit`, in one statement that also answers whether the symbol is watched: `Ok(None)` means
/// it is not. `interval` defaults to the symbol's own.
pub async fn page_watched(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Option<Interval>,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Option<(Interval, Vec<CandleScore>)>, DbError> {
    let statement = client.prepare_cached(PAGE_SQL).await?;
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
    Ok(super::candles::series_rows(&rows, from_row)?.map(|read| (read.interval, read.value)))
}
