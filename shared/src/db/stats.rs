//! Whole-database summaries for health checks and the Prometheus endpoint: how fresh each
//! series is and how much is stored.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::DbError;

/// One watched series and its newest candle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// Ticker as stored.
    pub symbol: String,
    /// Interval name as stored, e.g. `1h`.
    pub interval: String,
    /// Whether the collector still fetches it; a stale disabled series is expected.
    pub enabled: bool,
    /// Open time of the newest stored candle; `None` before the first one arrives.
    pub newest: Option<DateTime<Utc>>,
}

/// The newest candle of every watched symbol's own series (one index probe per symbol).
pub async fn freshness(client: &impl GenericClient) -> Result<Vec<Freshness>, DbError> {
    let statement = client
        .prepare_cached(
            "SELECT s.symbol, s.interval, s.enabled,
                    (SELECT max(c.open_time) FROM candles c
                     WHERE c.symbol = s.symbol AND c.interval = s.interval) AS newest
             FROM symbols s ORDER BY s.symbol",
        )
        .await?;
    client
        .query(&statement, &[])
        .await?
        .iter()
        .map(|row| {
            Ok(Freshness {
                symbol: row.try_get("symbol")?,
                interval: row.try_get("interval")?,
                enabled: row.try_get("enabled")?,
                newest: row.try_get("newest")?,
            })
        })
        .collect()
}

/// Stored rows per symbol and interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesCount {
    /// Ticker as stored.
    pub symbol: String,
    /// Interval name as stored, e.g. `1h`.
    pub interval: String,
    /// Candles stored for the series.
    pub rows: i64,
}

/// Candles stored per (symbol, interval), read from the summary the `candles` triggers keep
/// (migration V3): a few rows however long the history grows, so a scrape never counts the
/// table.
pub async fn candle_counts(client: &impl GenericClient) -> Result<Vec<SeriesCount>, DbError> {
    counts(
        client,
        "SELECT symbol, interval, candles AS n FROM candle_series_counts
         WHERE candles > 0 ORDER BY 1, 2",
    )
    .await
}

/// Events stored per (symbol, interval), read from the summary the `anomalies` triggers keep
/// (migration V8), for the same reason as [`candle_counts`].
pub async fn anomaly_counts(client: &impl GenericClient) -> Result<Vec<SeriesCount>, DbError> {
    counts(
        client,
        "SELECT symbol, interval, anomalies AS n FROM anomaly_series_counts
         WHERE anomalies > 0 ORDER BY 1, 2",
    )
    .await
}

async fn counts(client: &impl GenericClient, sql: &str) -> Result<Vec<SeriesCount>, DbError> {
    let statement = client.prepare_cached(sql).await?;
    client
        .query(&statement, &[])
        .await?
        .iter()
        .map(|row| {
            Ok(SeriesCount {
                symbol: row.try_get("symbol")?,
                interval: row.try_get("interval")?,
                rows: row.try_get("n")?,
            })
        })
        .collect()
}
