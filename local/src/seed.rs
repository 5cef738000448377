//! The watch list a local run starts with, on the source the person chose.

use anyhow::{Context, bail};
use tickwatch::config::Env;
use tickwatch::db::{Db, symbols};
use tickwatch::model::{AssetClass, Interval, Provider, Symbol, WatchedSymbol};

/// A default symbol and its name on each live source that lists it.
struct Default {
    symbol: &'static str,
    asset_class: AssetClass,
    ids: &'static [(Provider, &'static str)],
}

/// The symbols a local run watches. On the synthetic source all three; on a live source the
/// ones it lists.
const DEFAULTS: &[Default] = &[
    Default {
        symbol: "BTC",
        asset_class: AssetClass::Crypto,
        ids: &[
            (Provider::CoinGecko, "bitcoin"),
            (Provider::Binance, "BTCUSDT"),
            (Provider::Coinbase, "BTC-USD"),
            (Provider::Kraken, "XBTUSD"),
        ],
    },
    Default {
        symbol: "ETH",
        asset_class: AssetClass::Crypto,
        ids: &[
            (Provider::CoinGecko, "ethereum"),
            (Provider::Binance, "ETHUSDT"),
            (Provider::Coinbase, "ETH-USD"),
            (Provider::Kraken, "ETHUSD"),
        ],
    },
    Default {
        symbol: "AAPL",
        asset_class: AssetClass::Stock,
        ids: &[(Provider::AlphaVantage, "AAPL")],
    },
];

/// `SOURCE` picks where the default symbols come from: `synthetic` (the default: no network)
/// or any live source by its provider name (`coingecko`, `binance`, `coinbase`, `kraken`,
/// `alphavantage`, which needs `ALPHAVANTAGE_API_KEY`).
pub fn source_from_env(env: &Env) -> anyhow::Result<Provider> {
    let Some(name) = env.get("SOURCE") else {
        return Ok(Provider::Synthetic);
    };
    match Provider::parse(&name) {
        Ok(Provider::AlphaVantage) if env.get("ALPHAVANTAGE_API_KEY").is_none() => {
            bail!("SOURCE=alphavantage needs ALPHAVANTAGE_API_KEY (a free key from Alpha Vantage)")
        }
        Ok(provider) => Ok(provider),
        Err(error) => bail!("SOURCE={name:?}: {error}"),
    }
}

/// The interval a local run collects at on `source`: a minute where the source has minute
/// candles, five for CoinGecko's quotes, a day for Alpha Vantage's free tier.
fn interval(source: Provider) -> Interval {
    match source {
        Provider::CoinGecko => Interval::FiveMinutes,
        Provider::AlphaVantage => Interval::OneDay,
        _ => Interval::OneMinute,
    }
}

/// Puts the default symbols on `source` and returns the enabled watch list. Symbols someone
/// added through the API are left as they are.
pub async fn ensure_watch_list(db: &Db, source: Provider) -> anyhow::Result<Vec<WatchedSymbol>> {
    let client = db.client().await?;
    for default in DEFAULTS {
        let provider_id = if source == Provider::Synthetic {
            default.symbol.to_lowercase()
        } else {
            match default.ids.iter().find(|(p, _)| *p == source) {
                Some((_, id)) => (*id).to_owned(),
                None => continue,
            }
        };
        let symbol = Symbol::parse(default.symbol).context("default symbol")?;
        let current = symbols::get(&client, &symbol).await?;
        if current.as_ref().is_some_and(|c| c.provider == source) {
            continue;
        }
        let entry = WatchedSymbol {
            symbol,
            asset_class: default.asset_class,
            provider: source,
            provider_id,
            interval: interval(source),
            enabled: true,
            detector_overrides: serde_json::json!({}),
        };
        symbols::upsert(&client, &entry).await?;
        tracing::info!(symbol = default.symbol, %source, "watching");
    }
    Ok(symbols::list_enabled(&client).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_is_accepted_by_its_provider_name() {
        for provider in Provider::ALL {
            let env = Env::from_pairs(&[
                ("SOURCE", provider.as_str()),
                ("ALPHAVANTAGE_API_KEY", "demo-key"),
            ]);
            assert_eq!(source_from_env(&env).ok(), Some(*provider));
            let listed = DEFAULTS.iter().any(|d| {
                *provider == Provider::Synthetic || d.ids.iter().any(|(p, _)| p == provider)
            });
            assert!(listed, "{provider} watches nothing by default");
        }
        let err = source_from_env(&Env::from_pairs(&[("SOURCE", "yahoo")])).expect_err("unknown");
        assert!(err.to_string().contains("kraken"), "{err}");
        let err =
            source_from_env(&Env::from_pairs(&[("SOURCE", "alphavantage")])).expect_err("no key");
        assert!(err.to_string().contains("ALPHAVANTAGE_API_KEY"), "{err}");
    }
}
