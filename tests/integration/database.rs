use chrono::{TimeDelta, TimeZone, Utc};
use rust_decimal::{Decimal, dec};
use tickwatch::db::candles::{self, UpsertMode};
use tickwatch::db::{anomalies, detector_state, symbols};
use tickwatch::model::{
    Anomaly, AnomalyKind, AssetClass, Candle, CandleInput, Interval, Method, Provider, Score,
    Symbol, WatchedSymbol,
};
use tickwatch_tests::TestDb;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).expect("valid symbol")
}

fn watched(symbol: &str) -> WatchedSymbol {
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

fn candle(symbol: &str, hour: u32, close: Decimal) -> Candle {
    let open_time = Utc
        .with_ymd_and_hms(2026, 1, 1, hour, 0, 0)
        .single()
        .expect("valid time");
    Candle::validate(
        CandleInput {
            symbol: sym(symbol),
            interval: Interval::OneHour,
            open_time,
            open: close,
            high: close,
            low: close,
            close,
            volume: Some(dec!(1)),
            source: Provider::Synthetic,
        },
        Utc::now(),
    )
    .expect("valid candle")
}

#[tokio::test]
async fn the_watch_list_supports_insert_replace_list_and_delete() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    assert!(
        symbols::upsert(&client, &watched("BTC"))
            .await
            .expect("insert")
    );
    let mut eth = watched("ETH");
    assert!(symbols::upsert(&client, &eth).await.expect("insert"));
    eth.enabled = false;
    assert!(
        !symbols::upsert(&client, &eth).await.expect("replace"),
        "second upsert replaces"
    );
    let all = symbols::list(&client).await.expect("list");
    assert_eq!(
        all.iter().map(|w| w.symbol.as_str()).collect::<Vec<_>>(),
        ["BTC", "ETH"]
    );
    let enabled = symbols::list_enabled(&client).await.expect("list enabled");
    assert_eq!(enabled.len(), 1);
    assert_eq!(
        symbols::get(&client, &sym("ETH")).await.expect("get"),
        Some(eth)
    );
    assert!(symbols::delete(&client, &sym("ETH")).await.expect("delete"));
    assert!(
        !symbols::delete(&client, &sym("ETH"))
            .await
            .expect("delete again")
    );
}

#[tokio::test]
async fn upserting_the_same_candles_twice_changes_nothing_the_second_time() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    symbols::upsert(&client, &watched("BTC"))
        .await
        .expect("watch");
    let batch: Vec<_> = (0..24)
        .map(|h| candle("BTC", h, Decimal::from(100 + h)))
        .collect();
    let first = candles::upsert(&client, &batch, UpsertMode::Replace)
        .await
        .expect("first");
    let second = candles::upsert(&client, &batch, UpsertMode::Replace)
        .await
        .expect("second");
    assert_eq!(first.written, 24);
    assert_eq!(second.written, 0);
}

#[tokio::test]
async fn disagreeing_copies_inside_one_batch_are_all_refused_and_exact_repeats_stored_once() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    symbols::upsert(&client, &watched("BTC"))
        .await
        .expect("watch");
    let batch = [
        candle("BTC", 1, dec!(10)),
        candle("BTC", 1, dec!(11)),
        candle("BTC", 2, dec!(12)),
        candle("BTC", 2, dec!(12)),
    ];
    let outcome = candles::upsert(&client, &batch, UpsertMode::Replace)
        .await
        .expect("upsert");
    assert_eq!((outcome.written, outcome.duplicates), (1, 3));
    let stored = candles::range_ascending(
        &client,
        &sym("BTC"),
        Interval::OneHour,
        candles::EARLIEST,
        candles::LATEST,
        10,
    )
    .await
    .expect("read");
    let closes: Vec<_> = stored.iter().map(|c| c.close).collect();
    assert_eq!(
        closes,
        [dec!(12)],
        "nothing says which copy of hour 1 is right"
    );
}

#[tokio::test]
async fn sub_cent_prices_come_back_exactly() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    symbols::upsert(&client, &watched("SHIB"))
        .await
        .expect("watch");
    let price = dec!(0.000012345678901234);
    candles::upsert(&client, &[candle("SHIB", 3, price)], UpsertMode::Replace)
        .await
        .expect("upsert");
    let stored = candles::latest(&client, &sym("SHIB"), Interval::OneHour)
        .await
        .expect("latest")
        .expect("a candle");
    assert_eq!(stored.close, price);
    assert_eq!(stored.close.to_string(), "0.000012345678901234");
}

#[tokio::test]
async fn merging_quotes_keeps_the_open_and_widens_the_range() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    symbols::upsert(&client, &watched("BTC"))
        .await
        .expect("watch");
    for price in [dec!(100), dec!(120), dec!(90), dec!(105)] {
        candles::upsert(&client, &[candle("BTC", 5, price)], UpsertMode::MergeQuote)
            .await
            .expect("merge");
    }
    let c = candles::latest(&client, &sym("BTC"), Interval::OneHour)
        .await
        .expect("latest")
        .expect("a candle");
    assert_eq!(
        (c.open, c.high, c.low, c.close),
        (dec!(100), dec!(120), dec!(90), dec!(105))
    );
}

#[tokio::test]
async fn the_schema_itself_refuses_an_inconsistent_candle() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    symbols::upsert(&client, &watched("BTC"))
        .await
        .expect("watch");
    let err = client
        .execute(
            "INSERT INTO candles (symbol, interval, open_time, open, high, low, close, source)
             VALUES ('BTC', '1h', now(), 10, 5, 8, 9, 'synthetic')",
            &[],
        )
        .await
        .expect_err("high below low is refused");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION)
    );
}

#[tokio::test]
async fn anomalies_upsert_idempotently_and_the_watermark_only_moves_forward() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    symbols::upsert(&client, &watched("BTC"))
        .await
        .expect("watch");
    let at = Utc
        .with_ymd_and_hms(2026, 1, 1, 7, 0, 0)
        .single()
        .expect("valid time");
    let anomaly = Anomaly::new(
        sym("BTC"),
        Interval::OneHour,
        at,
        Method::ZScore,
        AnomalyKind::Spike,
        Score::new(0.8).expect("score"),
        serde_json::json!({"z": 4.2}),
    )
    .expect("anomaly");
    assert_eq!(
        anomalies::upsert(&client, std::slice::from_ref(&anomaly))
            .await
            .expect("first"),
        1
    );
    assert_eq!(
        anomalies::upsert(&client, std::slice::from_ref(&anomaly))
            .await
            .expect("second"),
        0
    );
    let stored = anomalies::for_series(&client, &sym("BTC"), Interval::OneHour)
        .await
        .expect("read back");
    assert_eq!(stored, vec![anomaly]);

    detector_state::advance(&client, &sym("BTC"), Interval::OneHour, at)
        .await
        .expect("advance");
    detector_state::advance(
        &client,
        &sym("BTC"),
        Interval::OneHour,
        at - TimeDelta::hours(3),
    )
    .await
    .expect("advance backwards is ignored");
    let mark = detector_state::watermark(&client, &sym("BTC"), Interval::OneHour)
        .await
        .expect("watermark");
    assert_eq!(mark, Some(at));
}
