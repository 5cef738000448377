use chrono::{TimeDelta, TimeZone, Utc};
use rust_decimal::{Decimal, dec};
use tickwatch::db::candles::{self, UpsertMode};
use tickwatch::db::{anomalies, detector_state, symbols};
use tickwatch::detect::events::Event;
use tickwatch::model::{
    AnomalyKind, AssetClass, Candle, CandleInput, Interval, Method, Provider, Severity, Symbol,
    WatchedSymbol,
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
async fn duplicates_inside_one_batch_keep_the_last_arrival() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    symbols::upsert(&client, &watched("BTC"))
        .await
        .expect("watch");
    let batch = [candle("BTC", 1, dec!(10)), candle("BTC", 1, dec!(11))];
    let outcome = candles::upsert(&client, &batch, UpsertMode::Replace)
        .await
        .expect("upsert");
    assert_eq!((outcome.written, outcome.duplicates), (1, 1));
    let stored = candles::latest(&client, &sym("BTC"), Interval::OneHour)
        .await
        .expect("latest");
    assert_eq!(stored.map(|c| c.close), Some(dec!(11)));
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

fn event(at: chrono::DateTime<Utc>, severity: Severity, score: f64) -> Event {
    Event {
        start: at,
        end: at + TimeDelta::hours(2),
        peak_time: at + TimeDelta::hours(1),
        peak_score: score,
        severity,
        candles: 3,
        kind: AnomalyKind::Spike,
        methods: vec![Method::ZScore, Method::Iqr],
        details: serde_json::json!({"peak": {"p": 1e-6}}),
    }
}

#[tokio::test]
async fn events_keep_their_identity_and_record_when_their_severity_rises() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    symbols::upsert(&client, &watched("BTC"))
        .await
        .expect("watch");
    let at = Utc
        .with_ymd_and_hms(2026, 1, 1, 7, 0, 0)
        .single()
        .expect("valid time");
    let first = event(at, Severity::Medium, 0.4);
    let id = anomalies::insert(&client, &sym("BTC"), Interval::OneHour, &first)
        .await
        .expect("insert");
    assert!(
        !anomalies::update(&client, id, &first)
            .await
            .expect("same event"),
        "an unchanged event is not rewritten"
    );
    let worse = event(at, Severity::High, 0.6);
    assert!(anomalies::update(&client, id, &worse).await.expect("worse"));
    let stored = anomalies::for_series(&client, &sym("BTC"), Interval::OneHour)
        .await
        .expect("read back");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, id);
    assert_eq!(stored[0].anomaly.severity, Severity::High);
    assert_eq!(stored[0].anomaly.methods, vec![Method::ZScore, Method::Iqr]);
    let raised = stored[0].severity_raised_at;
    assert!(raised.is_some());
    let milder = event(at, Severity::Low, 0.2);
    assert!(
        anomalies::update(&client, id, &milder)
            .await
            .expect("milder")
    );
    let stored = anomalies::for_series(&client, &sym("BTC"), Interval::OneHour)
        .await
        .expect("read back");
    assert_eq!(
        stored[0].severity_raised_at, raised,
        "a milder event raises nothing"
    );
    assert_eq!(stored[0].anomaly.severity, Severity::Low);
    assert_eq!(anomalies::delete(&client, &[id]).await.expect("delete"), 1);
}

#[tokio::test]
async fn writing_candles_records_where_the_detector_must_recompute_once_per_statement() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    symbols::upsert(&client, &watched("BTC"))
        .await
        .expect("watch");
    let at = |h: i64| {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid time")
            + TimeDelta::hours(h)
    };
    let candle = |h: i64, close: Decimal| Candle {
        symbol: sym("BTC"),
        interval: Interval::OneHour,
        open_time: at(h),
        open: close,
        high: close,
        low: close,
        close,
        volume: None,
        source: Provider::Synthetic,
    };
    let rows: Vec<Candle> = (0..10).map(|h| candle(h, dec!(100))).collect();
    candles::upsert(&client, &rows, UpsertMode::Replace)
        .await
        .expect("candles");
    // Never scanned: no state row, nothing to record.
    assert!(
        detector_state::get(&client, &sym("BTC"), Interval::OneHour)
            .await
            .expect("state")
            .is_none()
    );
    detector_state::finish_page(&client, &sym("BTC"), Interval::OneHour, at(9), None, None)
        .await
        .expect("scanned");
    let rescan_from = || async {
        detector_state::get(&client, &sym("BTC"), Interval::OneHour)
            .await
            .expect("state")
            .expect("row")
            .rescan_from
    };
    // One statement touching hours 7, 3 and 12 records the earliest.
    candles::upsert(
        &client,
        &[
            candle(7, dec!(101)),
            candle(3, dec!(99)),
            candle(12, dec!(100)),
        ],
        UpsertMode::Replace,
    )
    .await
    .expect("upsert");
    assert_eq!(rescan_from().await, Some(at(3)));
    // A later write to hour 5 does not move it back up; re-sending unchanged candles is no write.
    candles::upsert(&client, &[candle(5, dec!(102))], UpsertMode::Replace)
        .await
        .expect("upsert");
    candles::upsert(&client, &[candle(1, dec!(100))], UpsertMode::Replace)
        .await
        .expect("unchanged");
    assert_eq!(rescan_from().await, Some(at(3)));
    // A scan that read hour 3 finishes; a deletion behind the watermark records again.
    detector_state::finish_page(
        &client,
        &sym("BTC"),
        Interval::OneHour,
        at(12),
        Some(at(3)),
        None,
    )
    .await
    .expect("finished");
    assert_eq!(rescan_from().await, None);
    candles::delete(&client, &sym("BTC"), Interval::OneHour, at(2))
        .await
        .expect("delete");
    assert_eq!(rescan_from().await, Some(at(2)));
    // A scan that read an older value must not clear a newer request.
    detector_state::finish_page(
        &client,
        &sym("BTC"),
        Interval::OneHour,
        at(12),
        Some(at(8)),
        None,
    )
    .await
    .expect("finished");
    assert_eq!(rescan_from().await, Some(at(2)));
}

#[tokio::test]
async fn the_watermark_only_moves_forward() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    symbols::upsert(&client, &watched("BTC"))
        .await
        .expect("watch");
    let at = Utc
        .with_ymd_and_hms(2026, 1, 1, 7, 0, 0)
        .single()
        .expect("valid time");
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
