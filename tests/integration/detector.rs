//! The detector against a real PostgreSQL: incremental runs, re-runs and concurrent runs change
//! nothing twice, rescans replace a range, and one bad series does not stop the others.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use tickwatch::config::Env;
use tickwatch::db::candles::{self, UpsertMode};
use tickwatch::db::{anomalies, detector_state, symbols};
use tickwatch::detect::run::{Detection, Request, RunReport, run};
use tickwatch::detect::{DetectorConfig, Series};
use tickwatch::model::{AssetClass, Candle, Interval, Method, Provider, Symbol, WatchedSymbol};
use tickwatch::providers::synthetic::{SyntheticParams, generate};
use tickwatch_tests::TestDb;

const CANDLES: usize = 1_500;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).expect("valid symbol")
}

fn watched(symbol: &str, overrides: serde_json::Value) -> WatchedSymbol {
    WatchedSymbol {
        symbol: sym(symbol),
        asset_class: AssetClass::Crypto,
        provider: Provider::Synthetic,
        provider_id: symbol.to_lowercase(),
        interval: Interval::OneHour,
        enabled: true,
        detector_overrides: overrides,
    }
}

/// `CANDLES` closed hourly candles ending with the last closed hour, with injected anomalies.
fn history(symbol: &str, now: DateTime<Utc>) -> Vec<Candle> {
    let start = Interval::OneHour.bucket_start(now) - TimeDelta::hours(CANDLES as i64);
    generate(
        &sym(symbol),
        Interval::OneHour,
        start,
        CANDLES,
        &SyntheticParams::default(),
    )
    .candles
}

fn detection() -> Detection {
    Detection::from_env(&Env::default()).expect("default settings")
}

async fn seed(test_db: &TestDb, symbol: &str, overrides: serde_json::Value, candles: &[Candle]) {
    let client = test_db.raw().await;
    symbols::upsert(&client, &watched(symbol, overrides))
        .await
        .expect("watch list");
    candles::upsert(&client, candles, UpsertMode::Replace)
        .await
        .expect("candles");
}

type Key = (DateTime<Utc>, Method, String, u64);

async fn stored(test_db: &TestDb, symbol: &str) -> BTreeSet<Key> {
    let client = test_db.raw().await;
    anomalies::for_series(&client, &sym(symbol), Interval::OneHour)
        .await
        .expect("anomalies")
        .into_iter()
        .map(|a| {
            (
                a.open_time,
                a.method,
                a.kind.to_string(),
                a.score.value().to_bits(),
            )
        })
        .collect()
}

/// What the detectors find when run over the whole series in memory.
fn expected(candles: &[Candle], methods: Option<&[Method]>) -> BTreeSet<Key> {
    let series = Series::new(candles);
    DetectorConfig::default()
        .build()
        .expect("defaults")
        .iter()
        .filter(|d| methods.is_none_or(|m| m.contains(&d.method())))
        .flat_map(|d| d.detect(&series, 0))
        .map(|a| {
            (
                a.open_time,
                a.method,
                a.kind.to_string(),
                a.score.value().to_bits(),
            )
        })
        .collect()
}

async fn scheduled(test_db: &TestDb, now: DateTime<Utc>) -> RunReport {
    run(&test_db.db, &detection(), &Request::Scheduled, now)
        .await
        .expect("run")
}

#[tokio::test]
async fn a_scheduled_run_stores_what_the_detectors_find_and_a_rerun_changes_nothing() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    let candles = history("BTC", now);
    seed(&test_db, "BTC", serde_json::json!({}), &candles).await;

    let first = scheduled(&test_db, now).await;
    assert_eq!(first.series_scanned, 1);
    assert_eq!(first.candles_scanned, CANDLES as u64);
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    let after_first = stored(&test_db, "BTC").await;
    assert_eq!(after_first, expected(&candles, None));
    assert!(after_first.len() as u64 == first.anomalies_written && !after_first.is_empty());
    let client = test_db.raw().await;
    let watermark = detector_state::watermark(&client, &sym("BTC"), Interval::OneHour)
        .await
        .expect("state");
    assert_eq!(watermark, candles.last().map(|c| c.open_time));
    let ids_before = client
        .query("SELECT id, detected_at FROM anomalies ORDER BY id", &[])
        .await
        .expect("ids");

    let second = scheduled(&test_db, now).await;
    assert_eq!((second.candles_scanned, second.anomalies_written), (0, 0));
    let ids_after = client
        .query("SELECT id, detected_at FROM anomalies ORDER BY id", &[])
        .await
        .expect("ids");
    let pairs = |rows: &[tokio_postgres::Row]| {
        rows.iter()
            .map(|r| (r.get::<_, i64>(0), r.get::<_, DateTime<Utc>>(1)))
            .collect::<Vec<_>>()
    };
    assert_eq!(pairs(&ids_before), pairs(&ids_after));
}

#[tokio::test]
async fn two_runs_at_once_scan_each_candle_once_and_store_each_finding_once() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    let candles = history("ETH", now);
    seed(&test_db, "ETH", serde_json::json!({}), &candles).await;

    let (a, b) = tokio::join!(scheduled(&test_db, now), scheduled(&test_db, now));
    assert_eq!(a.candles_scanned + b.candles_scanned, CANDLES as u64);
    assert_eq!(
        a.anomalies_written + b.anomalies_written,
        expected(&candles, None).len() as u64
    );
    assert_eq!(stored(&test_db, "ETH").await, expected(&candles, None));
}

#[tokio::test]
async fn new_candles_are_judged_with_their_history_and_the_open_candle_waits() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    let candles = history("SOL", now);
    let split = 1_000;
    seed(&test_db, "SOL", serde_json::json!({}), &candles[..split]).await;
    scheduled(&test_db, now).await;
    // The rest arrives, plus the candle of the current hour, which is still open.
    let mut open = candles[CANDLES - 1].clone();
    open.open_time = Interval::OneHour.bucket_start(now);
    let client = test_db.raw().await;
    candles::upsert(&client, &candles[split..], UpsertMode::Replace)
        .await
        .expect("candles");
    candles::upsert(&client, std::slice::from_ref(&open), UpsertMode::Replace)
        .await
        .expect("open candle");

    let report = scheduled(&test_db, now).await;
    assert_eq!(report.candles_scanned, (CANDLES - split) as u64);
    let watermark = detector_state::watermark(&client, &sym("SOL"), Interval::OneHour)
        .await
        .expect("state");
    assert_eq!(watermark, candles.last().map(|c| c.open_time));
    // Every window-based method finds in two steps exactly what one pass finds; the forest is
    // fitted on what each run reads, so it is left out of the comparison.
    let windowed: Vec<Method> = Method::ALL
        .iter()
        .copied()
        .filter(|m| *m != Method::IsolationForest)
        .collect();
    let keys = |set: BTreeSet<Key>| -> BTreeSet<(DateTime<Utc>, Method, String)> {
        set.into_iter()
            .filter(|k| windowed.contains(&k.1))
            .map(|(t, m, k, _)| (t, m, k))
            .collect()
    };
    assert_eq!(
        keys(stored(&test_db, "SOL").await),
        keys(expected(&candles, Some(&windowed)))
    );
}

#[tokio::test]
async fn a_rescan_replaces_the_range_with_what_the_detectors_find_now() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    let candles = history("ADA", now);
    seed(&test_db, "ADA", serde_json::json!({}), &candles).await;
    scheduled(&test_db, now).await;
    let before = stored(&test_db, "ADA").await;
    assert!(before.iter().any(|k| k.1 == Method::ZScore));

    // Silence zscore for this symbol, then recompute everything.
    let client = test_db.raw().await;
    symbols::upsert(
        &client,
        &watched("ADA", serde_json::json!({"zscore": {"threshold": 1000}})),
    )
    .await
    .expect("overrides");
    let request = Request::parse(&serde_json::json!({
        "action": "rescan", "symbols": ["ADA"], "from": candles[0].open_time.to_rfc3339()
    }))
    .expect("valid rescan");
    let report = run(&test_db.db, &detection(), &request, now)
        .await
        .expect("rescan");
    assert_eq!(report.candles_scanned, CANDLES as u64);
    let zscores = before.iter().filter(|k| k.1 == Method::ZScore).count() as u64;
    assert_eq!(report.anomalies_deleted, zscores);
    assert_eq!(
        report.anomalies_written, 0,
        "unchanged findings are not rewritten"
    );
    let after = stored(&test_db, "ADA").await;
    let without_zscore: BTreeSet<Key> = before
        .into_iter()
        .filter(|k| k.1 != Method::ZScore)
        .collect();
    assert_eq!(after, without_zscore);

    let again = run(&test_db.db, &detection(), &request, now)
        .await
        .expect("rescan");
    assert_eq!((again.anomalies_deleted, again.anomalies_written), (0, 0));
}

#[tokio::test]
async fn bad_overrides_and_unknown_symbols_are_reported_without_stopping_the_others() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    seed(
        &test_db,
        "DOT",
        serde_json::json!({"zscore": {"threshold": -1}}),
        &history("DOT", now),
    )
    .await;
    seed(&test_db, "LTC", serde_json::json!({}), &history("LTC", now)).await;

    let report = scheduled(&test_db, now).await;
    assert_eq!(report.series_scanned, 1);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].symbol, "DOT");
    assert_eq!(report.failures[0].reason, "invalid_overrides");
    assert!(
        report.failures[0].message.contains("zscore.threshold"),
        "{}",
        report.failures[0].message
    );
    assert!(!stored(&test_db, "LTC").await.is_empty());

    let rescan = Request::parse(&serde_json::json!({
        "action": "rescan", "symbols": ["NOPE", "LTC"], "from": "2020-01-01T00:00:00Z"
    }))
    .expect("valid rescan");
    let report = run(&test_db.db, &detection(), &rescan, now)
        .await
        .expect("rescan");
    assert_eq!(report.series_scanned, 1);
    assert_eq!(report.failures[0].reason, "unknown_symbol");
}
