//! Queries on the `symbols` table: the watch list.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{DbError, RowProblem};
use crate::model::{AssetClass, Interval, Provider, Symbol, WatchedSymbol};

const COLUMNS: &str =
    "symbol, asset_class, provider, provider_id, interval, enabled, detector_overrides";

fn from_row(row: &Row) -> Result<WatchedSymbol, DbError> {
    let corrupt = |problem: RowProblem| DbError::corrupt("symbols", problem);
    Ok(WatchedSymbol {
        symbol: Symbol::parse(row.try_get("symbol")?).map_err(|e| corrupt(e.into()))?,
        asset_class: AssetClass::parse(row.try_get("asset_class")?)
            .map_err(|e| corrupt(e.into()))?,
        provider: Provider::parse(row.try_get("provider")?).map_err(|e| corrupt(e.into()))?,
        provider_id: row.try_get("provider_id")?,
        interval: Interval::parse(row.try_get("interval")?).map_err(|e| corrupt(e.into()))?,
        enabled: row.try_get("enabled")?,
        detector_overrides: row.try_get("detector_overrides")?,
    })
}

/// Every symbol on the watch list, enabled or not, in alphabetical order.
pub async fn list(client: &impl GenericClient) -> Result<Vec<WatchedSymbol>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM symbols ORDER BY symbol");
    let statement = client.prepare_cached(&sql).await?;
    client
        .query(&statement, &[])
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Every symbol on the watch list, enabled or not, with the open time of its newest stored
/// candle (`None`: none yet), in alphabetical order. A collection plans from both; reading
/// them in one statement reads each once. One index probe per series, so it stays cheap
/// however long the history is.
pub async fn list_with_newest(
    client: &impl GenericClient,
) -> Result<Vec<(WatchedSymbol, Option<DateTime<Utc>>)>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS}, newest.open_time AS newest
         FROM symbols s
         LEFT JOIN LATERAL (
             SELECT open_time FROM candles
             WHERE candles.symbol = s.symbol AND candles.interval = s.interval
             ORDER BY open_time DESC LIMIT 1
         ) newest ON true
         ORDER BY symbol"
    );
    let statement = client.prepare_cached(&sql).await?;
    client
        .query(&statement, &[])
        .await?
        .iter()
        .map(|row| Ok((from_row(row)?, row.try_get("newest")?)))
        .collect()
}

/// The symbols the collector should fetch.
pub async fn list_enabled(client: &impl GenericClient) -> Result<Vec<WatchedSymbol>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM symbols WHERE enabled ORDER BY symbol");
    let statement = client.prepare_cached(&sql).await?;
    client
        .query(&statement, &[])
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The watch-list entry of `symbol`, enabled or not; `None` when it is not watched.
pub async fn get(
    client: &impl GenericClient,
    symbol: &Symbol,
) -> Result<Option<WatchedSymbol>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM symbols WHERE symbol = $1");
    let statement = client.prepare_cached(&sql).await?;
    client
        .query_opt(&statement, &[&symbol.as_str()])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Inserts or replaces a watch-list entry; returns true when it was new.
pub async fn upsert(client: &impl GenericClient, entry: &WatchedSymbol) -> Result<bool, DbError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO symbols (symbol, asset_class, provider, provider_id, interval, enabled, detector_overrides)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (symbol) DO UPDATE SET
                 asset_class = EXCLUDED.asset_class, provider = EXCLUDED.provider,
                 provider_id = EXCLUDED.provider_id, interval = EXCLUDED.interval,
                 enabled = EXCLUDED.enabled, detector_overrides = EXCLUDED.detector_overrides,
                 updated_at = now()
             RETURNING (xmax = 0) AS inserted",
        )
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &entry.symbol.as_str(),
                &entry.asset_class.as_str(),
                &entry.provider.as_str(),
                &entry.provider_id,
                &entry.interval.as_str(),
                &entry.enabled,
                &entry.detector_overrides,
            ],
        )
        .await?;
    Ok(row.try_get("inserted")?)
}

/// Removes a symbol and, through the foreign keys, its candles, anomalies and detector state.
/// Returns false when there was no such symbol.
pub async fn delete(client: &impl GenericClient, symbol: &Symbol) -> Result<bool, DbError> {
    let statement = client
        .prepare_cached("DELETE FROM symbols WHERE symbol = $1")
        .await?;
    Ok(client.execute(&statement, &[&symbol.as_str()]).await? > 0)
}
