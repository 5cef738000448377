//! The collector end to end: sources served by a local HTTP server in each provider's real
//! payload format, a real PostgreSQL behind. Shared helpers live here; the failure paths are
//! in `collector_sources` and the database's in `collector_db`.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tickwatch::collect::{Collector, CollectorEvent, OutcomeStatus};
use tickwatch::config::{CollectorSettings, SourceKey};
use tickwatch::db::candles;
use tickwatch::db::symbols;
use tickwatch::model::{Interval, Provider};
use tickwatch_tests::{TestDb, hours_ago, sym, watch, watch_every, watch_synthetic};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Settings that point every source at `server`, with fast retries so failure tests are quick.
pub(crate) fn settings_for(server: &MockServer) -> CollectorSettings {
    let mut settings = CollectorSettings::defaults();
    settings.coingecko.base_url = format!("{}/api/v3", server.uri());
    settings.binance.base_url = server.uri();
    settings.coinbase.base_url = server.uri();
    settings.kraken.base_url = server.uri();
    settings.alphavantage.base_url = server.uri();
    settings.alphavantage.api_key = SourceKey::Plain("test-key".to_owned().into());
    for source in [
        &mut settings.coingecko,
        &mut settings.binance,
        &mut settings.coinbase,
        &mut settings.kraken,
        &mut settings.alphavantage,
    ] {
        source.rate_per_minute = 60_000;
    }
    settings.http.timeout = Duration::from_millis(400);
    settings.http.retry_base = Duration::from_millis(10);
    settings.http.max_wait = Duration::from_secs(2);
    settings
}

pub(crate) fn collector_with(test_db: &TestDb, settings: CollectorSettings) -> Collector {
    Collector::builder(settings)
        .database(test_db.db.clone())
        .build()
        .expect("a collector")
}

pub(crate) fn collector(test_db: &TestDb, server: &MockServer) -> Collector {
    collector_with(test_db, settings_for(server))
}

/// One Binance kline row, exactly as `/api/v3/klines` sends it.
pub(crate) fn kline(
    open_time: DateTime<Utc>,
    o: &str,
    h: &str,
    l: &str,
    c: &str,
    v: &str,
) -> Value {
    let open_ms = open_time.timestamp_millis();
    json!([
        open_ms,
        o,
        h,
        l,
        c,
        v,
        open_ms + 3_599_999,
        "1000.00000000",
        42,
        "1.0",
        "10.0",
        "0"
    ])
}

pub(crate) fn klines_mock(symbol: &str, body: Value) -> Mock {
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .and(query_param("symbol", symbol))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
}

/// Every candle stored for a series, oldest first.
pub(crate) async fn stored(
    test_db: &TestDb,
    symbol: &str,
    interval: Interval,
) -> Vec<tickwatch::model::Candle> {
    candles::range_ascending(
        &test_db.raw().await,
        &sym(symbol),
        interval,
        DateTime::<Utc>::UNIX_EPOCH,
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(365 * 200),
        1_000_000,
    )
    .await
    .expect("read back")
}

pub(crate) async fn count_rows(test_db: &TestDb) -> i64 {
    test_db
        .raw()
        .await
        .query_one("SELECT count(*) FROM candles", &[])
        .await
        .expect("count")
        .get(0)
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("a decimal")
}

#[tokio::test]
async fn binance_klines_are_stored_exactly_with_their_volume() {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    watch(&test_db, "BTC", Provider::Binance, "BTCUSDT").await;
    klines_mock(
        "BTCUSDT",
        json!([
            kline(
                hours_ago(1),
                "64000.10000000",
                "64500.00000000",
                "63900.00000000",
                "64250.12000000",
                "12.50000000"
            ),
            kline(
                hours_ago(0),
                "64250.12000000",
                "64300.00000000",
                "64200.00000000",
                "64280.00000000",
                "1.25000000"
            ),
        ]),
    )
    .expect(1)
    .mount(&server)
    .await;

    let report = collector(&test_db, &server)
        .collect(&[sym("BTC")])
        .await
        .expect("stored");

    let outcome = report.outcome(&sym("BTC")).expect("an outcome");
    assert_eq!((outcome.status, outcome.stored), (OutcomeStatus::Stored, 2));
    let rows = stored(&test_db, "BTC", Interval::OneHour).await;
    assert_eq!(rows[0].open_time, hours_ago(1));
    assert_eq!(rows[0].close, dec("64250.12"));
    assert_eq!(rows[0].volume, Some(dec("12.5")));
    assert_eq!(rows[1].source, Provider::Binance);
}

#[tokio::test]
async fn coingecko_asks_for_every_coin_in_one_call_and_builds_ohlc_by_polling() {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    watch(&test_db, "BTC", Provider::CoinGecko, "bitcoin").await;
    watch(&test_db, "SHIB", Provider::CoinGecko, "shiba-inu").await;
    let collector = collector(&test_db, &server);
    let now = Utc::now().timestamp();
    for (btc, shib) in [
        (100.0, 0.00001234),
        (120.5, 0.00001301),
        (90.25, 0.00001111),
        (101.0, 0.0000125),
    ] {
        server.reset().await;
        Mock::given(method("GET"))
            .and(path("/api/v3/simple/price"))
            .and(query_param("ids", "bitcoin,shiba-inu"))
            .and(query_param("vs_currencies", "usd"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "bitcoin": {"usd": btc, "last_updated_at": now},
                "shiba-inu": {"usd": shib, "last_updated_at": now},
            })))
            .expect(1)
            .mount(&server)
            .await;
        collector
            .collect(&[sym("BTC"), sym("SHIB")])
            .await
            .expect("stored");
        server.verify().await;
    }

    let btc = stored(&test_db, "BTC", Interval::OneHour).await;
    assert_eq!(btc.len(), 1, "every poll lands in the same bucket");
    let c = &btc[0];
    assert_eq!(
        (c.open, c.high, c.low, c.close),
        (dec("100"), dec("120.5"), dec("90.25"), dec("101"))
    );
    assert_eq!(
        c.volume, None,
        "a rolling 24 h volume is never a candle volume"
    );
    let shib = stored(&test_db, "SHIB", Interval::OneHour).await;
    assert_eq!(shib[0].low, dec("0.00001111"));
    assert_eq!(shib[0].close.to_string(), "0.0000125");
}

#[tokio::test]
async fn alpha_vantage_daily_bars_are_stored_by_trading_day() {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    watch_every(
        &test_db,
        "IBM",
        Provider::AlphaVantage,
        "IBM",
        Interval::OneDay,
    )
    .await;
    let day = |n: i64| {
        (Utc::now() - TimeDelta::days(n))
            .format("%Y-%m-%d")
            .to_string()
    };
    let bar = |o: &str, c: &str| json!({"1. open": o, "2. high": "190.0000", "3. low": "180.0000", "4. close": c, "5. volume": "3456789"});
    Mock::given(method("GET"))
        .and(path("/query"))
        .and(query_param("function", "TIME_SERIES_DAILY"))
        .and(query_param("symbol", "IBM"))
        .and(query_param("apikey", "test-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "Meta Data": {"1. Information": "Daily Prices (open, high, low, close) and Volumes",
                "2. Symbol": "IBM", "3. Last Refreshed": day(1), "4. Output Size": "Compact",
                "5. Time Zone": "US/Eastern"},
            "Time Series (Daily)": {day(1): bar("185.0000", "186.5000"), day(2): bar("182.0000", "185.0000")}
        })))
        .expect(1)
        .mount(&server)
        .await;

    collector(&test_db, &server)
        .collect(&[sym("IBM")])
        .await
        .expect("stored");

    let rows = stored(&test_db, "IBM", Interval::OneDay).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1].open_time,
        Interval::OneDay.bucket_start(Utc::now() - TimeDelta::days(1))
    );
    assert_eq!(rows[1].close, dec("186.5"));
    assert_eq!(rows[1].volume, Some(dec("3456789")));
}

#[tokio::test]
async fn the_synthetic_source_gives_the_same_candles_on_every_poll() {
    let test_db = TestDb::migrated().await;
    let server = MockServer::start().await;
    watch_synthetic(&test_db, "SYN", Interval::FiveMinutes).await;
    let collector = collector(&test_db, &server);
    let first = collector.collect(&[sym("SYN")]).await.expect("first");
    assert_eq!(first.stored, 2, "the previous and the current bucket");
    let before = stored(&test_db, "SYN", Interval::FiveMinutes).await;
    let again = collector.collect(&[sym("SYN")]).await.expect("again");
    let outcome = again.outcome(&sym("SYN")).expect("an outcome");
    let after = stored(&test_db, "SYN", Interval::FiveMinutes).await;
    // A bucket boundary may pass between the polls; what overlaps must agree.
    for candle in &before {
        if let Some(same) = after.iter().find(|c| c.open_time == candle.open_time) {
            assert_eq!(same, candle);
        }
    }
    assert!(outcome.unchanged >= 1, "{outcome:?}");
}

#[tokio::test]
async fn a_backfill_pages_through_history_and_running_it_again_changes_nothing() {
    let test_db = TestDb::migrated().await;
    let server = MockServer::start().await;
    watch(&test_db, "SYN", Provider::Synthetic, "syn").await;
    let collector = collector(&test_db, &server);
    let to = hours_ago(0);
    let from = to - TimeDelta::hours(2_500);

    let first = collector
        .backfill(&[sym("SYN")], from, to)
        .await
        .expect("first");
    let second = collector
        .backfill(&[sym("SYN")], from, to)
        .await
        .expect("second");

    assert_eq!(first.stored, 2_500);
    assert_eq!(second.stored, 0);
    assert_eq!(
        second.outcome(&sym("SYN")).map(|o| o.unchanged),
        Some(2_500)
    );
    let rows = stored(&test_db, "SYN", Interval::OneHour).await;
    assert_eq!(rows.len(), 2_500);
    assert!(rows.windows(2).all(|w| w[1].open == w[0].close));
}

#[tokio::test]
async fn a_binance_backfill_follows_pages_of_a_thousand_klines() {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    watch(&test_db, "ETH", Provider::Binance, "ETHUSDT").await;
    let from = hours_ago(1_500);
    let page = |start: DateTime<Utc>, n: i64| {
        Value::Array(
            (0..n)
                .map(|i| kline(start + TimeDelta::hours(i), "10", "11", "9", "10.5", "3"))
                .collect(),
        )
    };
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .and(query_param(
            "startTime",
            from.timestamp_millis().to_string(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(from, 1_000)))
        .expect(1)
        .mount(&server)
        .await;
    let second = from + TimeDelta::hours(1_000);
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .and(query_param(
            "startTime",
            second.timestamp_millis().to_string(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(second, 500)))
        .expect(1)
        .mount(&server)
        .await;

    let report = collector(&test_db, &server)
        .backfill(&[sym("ETH")], from, hours_ago(0))
        .await
        .expect("stored");

    assert_eq!(report.stored, 1_500);
}

#[tokio::test]
async fn unknown_symbols_are_reported_and_fail_the_run_when_nothing_else_is_asked() {
    let test_db = TestDb::migrated().await;
    let server = MockServer::start().await;
    let error = collector(&test_db, &server)
        .collect(&[sym("NOPE")])
        .await
        .expect_err("nothing to store");
    assert!(!error.is_retryable());
    let report = error.report().expect("a report");
    assert_eq!(report.error_code(&sym("NOPE")), Some("unknown_symbol"));
}

#[tokio::test]
async fn the_scheduled_event_collects_every_enabled_due_symbol_and_reports_metrics() {
    let test_db = TestDb::migrated().await;
    let server = MockServer::start().await;
    watch(&test_db, "SYN", Provider::Synthetic, "syn").await;
    watch(&test_db, "OFF", Provider::Synthetic, "off").await;
    let mut off = symbols::get(&test_db.raw().await, &sym("OFF"))
        .await
        .expect("get")
        .expect("exists");
    off.enabled = false;
    symbols::upsert(&test_db.raw().await, &off)
        .await
        .expect("disable");
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(events_dir().join("collector-scheduled.json")).expect("sample"),
    )
    .expect("json");
    let mut event = event;
    event["time"] = json!(Utc::now().to_rfc3339());

    let (result, metrics) = collector(&test_db, &server)
        .invoke("collector", event)
        .await;

    let report = result.expect("stored");
    assert_eq!(report.outcomes.len(), 1, "the disabled symbol is skipped");
    assert_eq!(metrics.counter("CandlesStored", &[]), report.stored as f64);
    assert_eq!(
        metrics.counter("MissingCandles", &[]),
        0.0,
        "nothing stored yet: no holes"
    );
    assert!(report.stored > 0);
}

#[tokio::test]
async fn rejections_and_source_errors_are_counted_in_the_metrics() {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    watch(&test_db, "BTC", Provider::Binance, "BTCUSDT").await;
    watch(&test_db, "ETH", Provider::Binance, "ETHUSDT").await;
    klines_mock(
        "BTCUSDT",
        json!([
            kline(hours_ago(1), "10", "11", "9", "10", "1"),
            kline(hours_ago(0), "-1", "11", "9", "10", "1")
        ]),
    )
    .mount(&server)
    .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .and(query_param("symbol", "ETHUSDT"))
        .respond_with(ResponseTemplate::new(451))
        .mount(&server)
        .await;

    let (result, metrics) = collector(&test_db, &server)
        .invoke(
            "collector",
            json!({"action": "collect", "symbols": ["BTC", "ETH"]}),
        )
        .await;

    let report = result.expect("BTC was stored");
    assert_eq!(metrics.counter("CandlesStored", &[]), 1.0);
    assert_eq!(metrics.counter("SourceErrors", &[]), 1.0);
    // Rejections are detail: a field of the report and the log, not a metric of their own.
    let btc = report.outcome(&sym("BTC")).expect("an outcome");
    assert_eq!(btc.rejected.get("non_positive_price"), Some(&1));
    assert_eq!(
        metrics.counter("CandlesRejected", &[("Reason", "non_positive_price")]),
        0.0
    );
}

pub(crate) fn events_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

#[test]
fn every_collector_sample_event_parses() {
    let mut seen = 0;
    for entry in std::fs::read_dir(events_dir()).expect("events/ exists") {
        let path = entry.expect("an entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if !(name.starts_with("collector-") && name.ends_with(".json")) {
            continue;
        }
        let payload: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("readable"))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        let event =
            CollectorEvent::parse(payload, Utc::now()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = match name.as_str() {
            "collector-scheduled.json" => matches!(event, CollectorEvent::Scheduled { .. }),
            "collector-backfill.json" => matches!(event, CollectorEvent::Backfill { .. }),
            "collector-collect.json" => matches!(event, CollectorEvent::Collect { .. }),
            _ => true,
        };
        assert!(expected, "{name} parsed as {event:?}");
        seen += 1;
    }
    assert!(seen >= 3, "only {seen} sample events");
}

#[tokio::test]
async fn one_invocation_publishes_its_metrics_to_cloudwatch_with_low_cardinality_dimensions() {
    let test_db = TestDb::migrated().await;
    let server = MockServer::start().await;
    watch(&test_db, "SYN", Provider::Synthetic, "syn").await;
    let namespace = format!("TickwatchTest{}", uuid_suffix());
    let aws = tickwatch_tests::local_aws().await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&aws);
    let sink = tickwatch::metrics::MetricsSink::cloudwatch_with(cloudwatch.clone(), &namespace);

    let (result, metrics) = collector(&test_db, &server)
        .invoke(
            "collector",
            json!({"action": "collect", "symbols": ["SYN"]}),
        )
        .await;
    result.expect("stored");
    sink.publish(metrics).await.expect("one PutMetricData call");

    let listed = cloudwatch
        .list_metrics()
        .namespace(&namespace)
        .send()
        .await
        .expect("list metrics");
    let mut seen: Vec<(String, Vec<String>)> = listed
        .metrics()
        .iter()
        .map(|m| {
            let mut dims: Vec<String> = m
                .dimensions()
                .iter()
                .map(|d| format!("{}={}", d.name().unwrap_or(""), d.value().unwrap_or("")))
                .collect();
            dims.sort();
            (m.metric_name().unwrap_or("").to_owned(), dims)
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "CandlesStored".to_owned(),
                vec!["Function=collector".to_owned()]
            ),
            // No DataAgeSeconds: it is measured when planning, and nothing was stored then.
            (
                "SourceErrors".to_owned(),
                vec!["Function=collector".to_owned()]
            ),
        ]
    );
}

/// Calls this test's database ran of statements whose text contains `needle`, as
/// pg_stat_statements counts them (`make test` loads it).
async fn calls_of(test_db: &TestDb, needle: &str) -> i64 {
    test_db
        .raw()
        .await
        .query_one(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND query LIKE '%' || $1 || '%' AND query NOT LIKE '%pg_stat_statements%'",
            &[&needle],
        )
        .await
        .unwrap_or_else(|e| {
            panic!("pg_stat_statements cannot be read ({e}); the test cluster must load it, as make test does")
        })
        .get(0)
}

#[tokio::test]
async fn every_kind_of_run_reads_the_watch_list_and_the_newest_candles_once() {
    // Arrange: two series with some history, and statements counted from here on.
    let test_db = TestDb::migrated().await;
    test_db
        .raw()
        .await
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await
        .expect("pg_stat_statements");
    let server = MockServer::start().await;
    watch_synthetic(&test_db, "SYN", Interval::OneMinute).await;
    watch_synthetic(&test_db, "ALT", Interval::OneMinute).await;
    let collector = collector(&test_db, &server);
    let to = Utc::now();
    let both = [sym("SYN"), sym("ALT")];
    // The watch list is the `symbols` table; the newest candles are read in the same statement.
    let reads = || calls_of(&test_db, "FROM symbols");

    // Act and assert: one read per run, however many series and pages it covers.
    let before = reads().await;
    collector
        .backfill(&both, to - TimeDelta::minutes(2_500), to)
        .await
        .expect("a backfill of several pages");
    assert_eq!(reads().await - before, 1, "a backfill of two series");

    let before = reads().await;
    collector
        .collect_due(Utc::now())
        .await
        .expect("a scheduled run");
    assert_eq!(reads().await - before, 1, "a scheduled run");

    let before = reads().await;
    collector.collect(&both).await.expect("collecting by name");
    assert_eq!(reads().await - before, 1, "collecting two symbols by name");
}

fn uuid_suffix() -> String {
    format!("{:x}", Utc::now().timestamp_nanos_opt().unwrap_or_default())
}
