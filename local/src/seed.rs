//! The watch list a first local run starts with.

use anyhow::Context;
use tickwatch::db::{Db, symbols};
use tickwatch::model::{AssetClass, Interval, Provider, Symbol, WatchedSymbol};

/// Symbols a fresh local database watches: two coins and a stock, all on the synthetic source
/// at one-minute candles, so something visibly changes every minute.
const DEFAULTS: &[(&str, AssetClass)] = &[
    ("BTC", AssetClass::Crypto),
    ("ETH", AssetClass::Crypto),
    ("AAPL", AssetClass::Stock),
];

/// Returns the enabled watch list, filling it with [`DEFAULTS`] when it is empty.
pub async fn ensure_watch_list(db: &Db) -> anyhow::Result<Vec<WatchedSymbol>> {
    let client = db.client().await?;
    if symbols::list(&client).await?.is_empty() {
        for (name, asset_class) in DEFAULTS {
            let entry = WatchedSymbol {
                symbol: Symbol::parse(name).context("default symbol")?,
                asset_class: *asset_class,
                provider: Provider::Synthetic,
                provider_id: name.to_lowercase(),
                interval: Interval::OneMinute,
                enabled: true,
                detector_overrides: serde_json::json!({}),
            };
            symbols::upsert(&client, &entry).await?;
        }
        tracing::info!(
            symbols = DEFAULTS.len(),
            "watch list was empty: added synthetic symbols"
        );
    }
    Ok(symbols::list_enabled(&client).await?)
}
