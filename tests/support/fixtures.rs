//! Builders for what tests seed — watch-list entries, symbols, candle times — so each test
//! states only what it is about and the defaults are written once.

use chrono::{DateTime, TimeDelta, Utc};
use tickwatch::db::symbols;
use tickwatch::model::{AssetClass, Interval, Provider, Symbol, WatchedSymbol};

use crate::TestDb;

/// A symbol a test names literally; panics on a typo in the test itself.
pub fn sym(s: &str) -> Symbol {
    Symbol::parse(s).expect("valid symbol")
}

/// A watch-list entry of the kind most tests want: hourly synthetic crypto, enabled, with no
/// detector overrides. Change what the test is about with struct update syntax
/// (`WatchedSymbol { interval, ..watched("BTC") }`) or [`watched_on`].
pub fn watched(symbol: &str) -> WatchedSymbol {
    WatchedSymbol {
        symbol: sym(symbol),
        asset_class: AssetClass::Crypto,
        provider: Provider::Synthetic,
        provider_id: symbol.to_lowercase(),
        interval: Interval::OneHour,
        enabled: true,
        detector_overrides: serde_json::json!({}),
    }
}

/// An hourly entry fetched from `provider` under its own `provider_id`; Alpha Vantage's are
/// stocks, the others' crypto.
pub fn watched_on(symbol: &str, provider: Provider, provider_id: &str) -> WatchedSymbol {
    WatchedSymbol {
        asset_class: if provider == Provider::AlphaVantage {
            AssetClass::Stock
        } else {
            AssetClass::Crypto
        },
        provider,
        provider_id: provider_id.to_owned(),
        ..watched(symbol)
    }
}

/// Puts an hourly `symbol` from `provider` on the watch list.
pub async fn watch(test_db: &TestDb, symbol: &str, provider: Provider, provider_id: &str) {
    test_db
        .watch(&watched_on(symbol, provider, provider_id))
        .await;
}

/// Puts `symbol` from `provider` on the watch list at another width than an hour.
pub async fn watch_every(
    test_db: &TestDb,
    symbol: &str,
    provider: Provider,
    provider_id: &str,
    interval: Interval,
) {
    test_db
        .watch(&WatchedSymbol {
            interval,
            ..watched_on(symbol, provider, provider_id)
        })
        .await;
}

/// Puts synthetic `symbol` on the watch list at width `interval`: the source that needs no
/// network.
pub async fn watch_synthetic(test_db: &TestDb, symbol: &str, interval: Interval) {
    test_db
        .watch(&WatchedSymbol {
            interval,
            ..watched(symbol)
        })
        .await;
}

impl TestDb {
    /// A migrated database with `symbols` on the watch list, each as [`watched`] makes it
    /// (hourly synthetic crypto): the set-up of most tests of what the database keeps.
    pub async fn watching(symbols: &[&str]) -> Self {
        let test_db = Self::migrated().await;
        for symbol in symbols {
            test_db.watch(&watched(symbol)).await;
        }
        test_db
    }

    /// Puts `entry` on the watch list through the library's own upsert.
    pub async fn watch(&self, entry: &WatchedSymbol) {
        symbols::upsert(&self.raw().await, entry)
            .await
            .expect("watch");
    }
}

/// The open time of the hourly candle `hours` hours before the current one (negative: in
/// the future). For fixed times, build them from a date instead.
pub fn hours_ago(hours: i64) -> DateTime<Utc> {
    Interval::OneHour.bucket_start(Utc::now()) - TimeDelta::hours(hours)
}
