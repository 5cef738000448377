//! What is still to be announced: candle writes queued by the `candles` triggers, and anomaly
//! events that are new or whose severity rose above what was announced. The detector takes
//! both at the end of a run, in one transaction, and returns them as data events; taking marks
//! them announced, so re-runs and rescans that change nothing announce nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::DbError;
use super::anomalies;
use crate::model::{Interval, Severity, Symbol};
use crate::notify::event::{AnomalyDetected, CandlesStored, Change, DataEvent, VERSION};

/// Takes up to `limit` queued candle writes and up to `limit` anomaly announcements. Run it
/// in a transaction: what it takes is gone once that commits.
pub async fn take(client: &impl GenericClient, limit: i64) -> Result<Vec<DataEvent>, DbError> {
    let mut events = candles_stored(client, limit).await?;
    events.extend(anomalies_detected(client, limit).await?);
    Ok(events)
}

/// One `candles.stored` per series, summing the queued writes.
async fn candles_stored(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<DataEvent>, DbError> {
    let rows = client
        .query(
            "DELETE FROM candles_stored_outbox WHERE id IN (
                 SELECT id FROM candles_stored_outbox ORDER BY id LIMIT $1
                 FOR UPDATE SKIP LOCKED)
             RETURNING symbol, interval, candles, first_open_time, last_open_time, stored_at",
            &[&limit],
        )
        .await?;
    let mut series: BTreeMap<(String, String), CandlesStored> = BTreeMap::new();
    for row in rows {
        let symbol: String = row.try_get("symbol")?;
        let interval: String = row.try_get("interval")?;
        let candles: i32 = row.try_get("candles")?;
        let first: DateTime<Utc> = row.try_get("first_open_time")?;
        let last: DateTime<Utc> = row.try_get("last_open_time")?;
        let stored_at: DateTime<Utc> = row.try_get("stored_at")?;
        let key = (symbol.clone(), interval.clone());
        if let Some(seen) = series.get_mut(&key) {
            seen.candles += u64::try_from(candles).unwrap_or(0);
            seen.first_open_time = seen.first_open_time.min(first);
            seen.last_open_time = seen.last_open_time.max(last);
            seen.stored_at = seen.stored_at.max(stored_at);
            continue;
        }
        series.insert(
            key,
            CandlesStored {
                version: VERSION,
                symbol: Symbol::parse(&symbol)
                    .map_err(|e| DbError::corrupt("candles_stored_outbox", e))?,
                interval: Interval::parse(&interval)
                    .map_err(|e| DbError::corrupt("candles_stored_outbox", e))?,
                candles: u64::try_from(candles).unwrap_or(0),
                first_open_time: first,
                last_open_time: last,
                stored_at,
            },
        );
    }
    Ok(series.into_values().map(DataEvent::CandlesStored).collect())
}

/// Marks new events and events whose severity rose as announced, and returns them.
async fn anomalies_detected(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<DataEvent>, DbError> {
    let ranks: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    let rows = client
        .query(
            "WITH due AS (
                 SELECT id, announced_severity AS previous FROM anomalies
                 WHERE announced_severity IS NULL
                    OR array_position($2::text[], severity) > array_position($2::text[], announced_severity)
                 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
             UPDATE anomalies a SET announced_severity = a.severity
             FROM due WHERE a.id = due.id
             RETURNING a.*, due.previous",
            &[&limit, &ranks],
        )
        .await?;
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let previous: Option<String> = row.try_get("previous")?;
        let previous_severity = previous
            .map(|p| Severity::parse(&p))
            .transpose()
            .map_err(|e| DbError::corrupt("anomalies", e))?;
        let stored = anomalies::from_row(&row)?;
        let a = stored.anomaly;
        events.push(DataEvent::AnomalyDetected(AnomalyDetected {
            version: VERSION,
            id: stored.id,
            change: if previous_severity.is_some() {
                Change::SeverityRaised
            } else {
                Change::New
            },
            previous_severity,
            symbol: a.symbol,
            interval: a.interval,
            start_time: a.start_time,
            end_time: a.end_time,
            peak_time: a.peak_time,
            candles: a.candles,
            score: a.score.value(),
            severity: a.severity,
            kind: a.kind,
            methods: a.methods,
            details: a.details,
        }));
    }
    events.sort_by_key(|e| match e {
        DataEvent::AnomalyDetected(a) => a.id,
        DataEvent::CandlesStored(_) => 0,
    });
    Ok(events)
}
