//! The watch list a local run starts with, on the source the person chose.

use anyhow::{Context, bail};
use tickwatch::config::Env;
use tickwatch::db::{Db, symbols};
use tickwatch::model::{AssetClass, Interval, Provider, Symbol, WatchedSymbol};

/// The symbols a local run watches: (symbol, asset class, CoinGecko id). The stock has no
/// CoinGecko id and is watched on the synthetic source only.
const DEFAULTS: &[(&str, AssetClass, Option<&str>)] = &[
    ("BTC", AssetClass::Crypto, Some("bitcoin")),
    ("ETH", AssetClass::Crypto, Some("ethereum")),
    ("AAPL", AssetClass::Stock, None),
];

/// `SOURCE` picks where the default symbols come from: `synthetic` (the default: no network)
/// or `coingecko` (the live public API).
pub fn source_from_env(env: &Env) -> anyhow::Result<Provider> {
    match env.get("SOURCE").as_deref() {
        None | Some("synthetic") => Ok(Provider::Synthetic),
        Some("coingecko") => Ok(Provider::CoinGecko),
        Some(other) => bail!("SOURCE={other:?}: expected synthetic or coingecko"),
    }
}

/// Puts the default symbols on `source` and returns the enabled watch list. Symbols someone
/// added through the API are left as they are.
pub async fn ensure_watch_list(db: &Db, source: Provider) -> anyhow::Result<Vec<WatchedSymbol>> {
    let client = db.client().await?;
    for (name, asset_class, coingecko_id) in DEFAULTS {
        let (provider, provider_id, interval) = match (source, coingecko_id) {
            (Provider::CoinGecko, Some(id)) => (source, (*id).to_owned(), Interval::FiveMinutes),
            (Provider::CoinGecko, None) => continue,
            _ => (
                Provider::Synthetic,
                name.to_lowercase(),
                Interval::OneMinute,
            ),
        };
        let symbol = Symbol::parse(name).context("default symbol")?;
        let current = symbols::get(&client, &symbol).await?;
        if current.as_ref().is_some_and(|c| c.provider == provider) {
            continue;
        }
        let entry = WatchedSymbol {
            symbol,
            asset_class: *asset_class,
            provider,
            provider_id,
            interval,
            enabled: true,
            detector_overrides: serde_json::json!({}),
        };
        symbols::upsert(&client, &entry).await?;
        tracing::info!(symbol = name, %provider, "watching");
    }
    Ok(symbols::list_enabled(&client).await?)
}
