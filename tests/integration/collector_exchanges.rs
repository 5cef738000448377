//! Coinbase Exchange and Kraken, the keyless exchanges that serve US regions, against loopback
//! servers speaking their real payloads: whole candles stored exactly, and every failure a
//! real server produces (429, 5xx, timeouts, malformed bodies, HTML error pages, Kraken's
//! errors inside an HTTP 200) classified and never costing other symbols their data.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tickwatch::collect::OutcomeError;
use tickwatch::model::{Interval, Provider};
use tickwatch_tests::{TestDb, sym, watch_every};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::collector::{collector, stored};

/// The open time of the candle `ago` minutes before the one open when the test began: fixed
/// once per test process, so that payloads built before a run and the rows checked after it
/// name the same minutes even when the clock crosses a minute boundary in between.
fn minute(ago: i64) -> DateTime<Utc> {
    static TEST_START: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *TEST_START.get_or_init(|| Interval::OneMinute.bucket_start(Utc::now()))
        - TimeDelta::minutes(ago)
}

/// Coinbase's candle rows, newest first: `[time, low, high, open, close, volume]`.
fn coinbase_rows() -> Value {
    json!([
        [
            minute(0).timestamp(),
            64100.5,
            64300.0,
            64200.25,
            64250.0,
            1.5
        ],
        [
            minute(1).timestamp(),
            63900.0,
            64250.0,
            64000.0,
            64200.25,
            12.25
        ],
    ])
}

/// Kraken's OHLC answer, oldest first, prices as strings, the pair under Kraken's own name.
fn kraken_body() -> Value {
    json!({"error": [], "result": {
        "XXBTZUSD": [
            [minute(1).timestamp(), "64000.0", "64250.0", "63900.0", "64200.25", "64100.0", "12.25", 40],
            [minute(0).timestamp(), "64200.25", "64300.0", "64100.5", "64250.0", "64220.0", "1.5", 7],
        ],
        "last": minute(1).timestamp()
    }})
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("a decimal")
}

async fn watched(provider: Provider, id: &str) -> TestDb {
    let test_db = TestDb::migrated().await;
    watch_every(&test_db, "BTC", provider, id, Interval::OneMinute).await;
    test_db
}

#[tokio::test]
async fn coinbase_and_kraken_candles_are_stored_exactly_oldest_first() {
    for (provider, id, route, body) in [
        (
            Provider::Coinbase,
            "BTC-USD",
            "/products/BTC-USD/candles",
            coinbase_rows(),
        ),
        (Provider::Kraken, "XBTUSD", "/0/public/OHLC", kraken_body()),
    ] {
        let server = MockServer::start().await;
        let test_db = watched(provider, id).await;
        let mut mock = Mock::given(method("GET")).and(path(route));
        mock = match provider {
            Provider::Coinbase => mock.and(query_param("granularity", "60")),
            _ => mock
                .and(query_param("pair", "XBTUSD"))
                .and(query_param("interval", "1")),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;

        let report = collector(&test_db, &server)
            .collect(&[sym("BTC")])
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));

        assert_eq!(report.stored, 2, "{provider}");
        let rows = stored(&test_db, "BTC", Interval::OneMinute).await;
        assert_eq!(rows[0].open_time, minute(1), "{provider}");
        assert_eq!(
            (rows[0].open, rows[0].high, rows[0].low, rows[0].close),
            (dec("64000"), dec("64250"), dec("63900"), dec("64200.25")),
            "{provider}: fields in their own order"
        );
        assert_eq!(rows[0].volume, Some(dec("12.25")), "{provider}");
        assert_eq!(rows[1].source, provider);
    }
}

/// Collects BTC from `provider` at `server`; the run fails (BTC is all it has), so the outcome
/// carries the error.
async fn btc_error(provider: Provider, server: &MockServer) -> OutcomeError {
    let id = if provider == Provider::Kraken {
        "XBTUSD"
    } else {
        "BTC-USD"
    };
    let test_db = watched(provider, id).await;
    let error = collector(&test_db, server)
        .collect(&[sym("BTC")])
        .await
        .expect_err("nothing could be stored");
    error
        .report()
        .and_then(|r| r.outcome(&sym("BTC")))
        .and_then(|o| o.error.clone())
        .expect("a per-symbol error")
}

fn route(provider: Provider) -> &'static str {
    match provider {
        Provider::Kraken => "/0/public/OHLC",
        _ => "/products/BTC-USD/candles",
    }
}

#[tokio::test]
async fn every_failure_of_either_exchange_is_classified_and_retried_only_where_it_helps() {
    let html = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>";
    let cases: Vec<(Provider, ResponseTemplate, u64, &str, bool, &str)> = vec![
        // (source, answer, requests expected, code, retryable, words in the message)
        (
            Provider::Coinbase,
            ResponseTemplate::new(429)
                .set_body_json(json!({"message": "Public rate limit exceeded"})),
            3,
            "rate_limited",
            true,
            "HTTP 429",
        ),
        (
            Provider::Kraken,
            ResponseTemplate::new(429),
            3,
            "rate_limited",
            true,
            "HTTP 429",
        ),
        (
            Provider::Coinbase,
            ResponseTemplate::new(503).set_body_string("upstream connect error"),
            3,
            "server_error",
            true,
            "503",
        ),
        (
            Provider::Kraken,
            ResponseTemplate::new(502).set_body_raw(html, "text/html"),
            3,
            "server_error",
            true,
            "502 Bad Gateway",
        ),
        (
            Provider::Coinbase,
            ResponseTemplate::new(200).set_body_raw(html, "text/html"),
            1,
            "malformed",
            false,
            "HTML page",
        ),
        (
            Provider::Kraken,
            ResponseTemplate::new(200)
                .set_body_string("{\"error\": [], \"result\": {\"XXBTZUSD\": [[1"),
            1,
            "malformed",
            false,
            "invalid JSON",
        ),
        (
            Provider::Coinbase,
            ResponseTemplate::new(200).set_body_json(json!([[1_700_000_000, 1.0, 2.0]])),
            1,
            "malformed",
            false,
            "expected 6",
        ),
        (
            Provider::Kraken,
            ResponseTemplate::new(200).set_body_json(json!({"error": [], "result": {"last": 0}})),
            1,
            "malformed",
            false,
            "no candle array",
        ),
        (
            Provider::Coinbase,
            ResponseTemplate::new(404).set_body_json(json!({"message": "NotFound"})),
            1,
            "unknown_instrument",
            false,
            "BTC-USD",
        ),
        (
            Provider::Coinbase,
            ResponseTemplate::new(400).set_body_json(
                json!({"message": "granularity too small for the requested time range"}),
            ),
            1,
            "bad_request",
            false,
            "granularity",
        ),
        (
            Provider::Kraken,
            ResponseTemplate::new(200)
                .set_body_json(json!({"error": ["EQuery:Unknown asset pair"]})),
            1,
            "unknown_instrument",
            false,
            "XBTUSD",
        ),
        (
            Provider::Kraken,
            ResponseTemplate::new(200)
                .set_body_json(json!({"error": ["EAPI:Rate limit exceeded"]})),
            1,
            "pacing",
            true,
            "Rate limit",
        ),
        (
            Provider::Kraken,
            ResponseTemplate::new(200).set_body_json(json!({"error": ["EService:Unavailable"]})),
            1,
            "server_error",
            true,
            "Unavailable",
        ),
        (
            Provider::Coinbase,
            ResponseTemplate::new(200)
                .set_body_json(coinbase_rows())
                .set_delay(Duration::from_secs(2)),
            3,
            "timeout",
            true,
            "timeout",
        ),
    ];
    for (provider, answer, requests, code, retryable, words) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(route(provider)))
            .respond_with(answer)
            .expect(requests)
            .mount(&server)
            .await;
        let error = btc_error(provider, &server).await;
        assert_eq!(
            (error.code.as_str(), error.retryable),
            (code, retryable),
            "{provider}: {}",
            error.message
        );
        assert!(
            error.message.contains(words),
            "{provider}: {}",
            error.message
        );
        server.verify().await;
    }
}

#[tokio::test]
async fn a_bad_price_costs_only_its_candle_and_a_4h_series_is_refused_by_coinbase() {
    let server = MockServer::start().await;
    let test_db = watched(Provider::Kraken, "XBTUSD").await;
    watch_every(
        &test_db,
        "ETH",
        Provider::Coinbase,
        "ETH-USD",
        Interval::FourHours,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/0/public/OHLC"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"error": [], "result": {
            "XXBTZUSD": [
                [minute(1).timestamp(), "NaN", "64250.0", "63900.0", "64200.25", "0", "1", 1],
                [minute(0).timestamp(), "64200.25", "64300.0", "64100.5", "64250.0", "0", "1.5", 7],
            ], "last": 0}})),
        )
        .mount(&server)
        .await;

    let report = collector(&test_db, &server)
        .collect(&[sym("BTC"), sym("ETH")])
        .await
        .expect("BTC's good candle is stored");

    let btc = report.outcome(&sym("BTC")).expect("BTC");
    assert_eq!(
        (btc.stored, btc.rejected.get("non_finite_price")),
        (1, Some(&1))
    );
    let eth = report.outcome(&sym("ETH")).expect("ETH");
    assert_eq!(
        eth.error.as_ref().map(|e| e.code.as_str()),
        Some("unsupported_interval")
    );
}
