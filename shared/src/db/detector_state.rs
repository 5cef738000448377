//! Queries on `detector_state`: how far the detector has read each series.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::DbError;
use crate::model::{Interval, Symbol};

/// The open time of the newest candle already scanned, if the series was ever scanned.
pub async fn watermark(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
) -> Result<Option<DateTime<Utc>>, DbError> {
    let statement = client
        .prepare_cached("SELECT watermark FROM detector_state WHERE symbol = $1 AND interval = $2")
        .await?;
    let row = client
        .query_opt(&statement, &[&symbol.as_str(), &interval.as_str()])
        .await?;
    Ok(row.map(|r| r.try_get("watermark")).transpose()?)
}

/// Moves the watermark forward (never back: a slower concurrent run cannot undo a faster one).
pub async fn advance(
    client: &impl GenericClient,
    symbol: &Symbol,
    interval: Interval,
    to: DateTime<Utc>,
) -> Result<(), DbError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO detector_state (symbol, interval, watermark) VALUES ($1, $2, $3)
             ON CONFLICT (symbol, interval) DO UPDATE
             SET watermark = GREATEST(detector_state.watermark, EXCLUDED.watermark), updated_at = now()",
        )
        .await?;
    client
        .execute(&statement, &[&symbol.as_str(), &interval.as_str(), &to])
        .await?;
    Ok(())
}
