//! `POST /v1/collect/{symbol}` runs the collector's library code: the synthetic source needs
//! no network; a failing source is a loopback HTTP server that answers 500.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use tickwatch::collect::Collector;
use tickwatch::config::{CollectorSettings, Env};
use tickwatch::model::{Interval, Provider, WatchedSymbol};

use tickwatch_tests::watched_on;

use crate::helpers::TestApp;

async fn with_collector(binance_url: &str) -> TestApp {
    let mut app = TestApp::spawn().await;
    let settings = CollectorSettings::from_env(&Env::from_pairs(&[
        ("BINANCE_BASE_URL", binance_url),
        ("HTTP_RETRY_BASE_MS", "1"),
        ("HTTP_TIMEOUT_MS", "2000"),
    ]))
    .expect("settings");
    let collector = Collector::builder(settings)
        .database(app.db.db.clone())
        .build()
        .expect("a collector");
    let key = api::ApiKey::new(&secrecy::SecretString::from(crate::helpers::KEY), "API_KEY")
        .expect("key");
    app.router = api::app(
        api::AppState::new(app.db.db.clone(), Some(key)).with_collector(Arc::new(collector)),
    );
    app
}

async fn watch(app: &TestApp, symbol: &str, provider: Provider, interval: Interval) {
    app.db
        .watch(&WatchedSymbol {
            interval,
            ..watched_on(symbol, provider, &format!("{symbol}USDT"))
        })
        .await;
}

#[tokio::test]
async fn collecting_a_symbol_stores_candles_and_reports_them() {
    let app = with_collector("http://127.0.0.1:9").await;
    watch(&app, "SYN", Provider::Synthetic, Interval::OneHour).await;
    let reply = app.write(Method::POST, "/v1/collect/syn", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let report = reply.json();
    assert_eq!(report["kind"], "collect");
    let stored = report["stored"].as_u64().expect("stored");
    assert!(stored >= 1, "{report}");
    assert_eq!(report["outcomes"][0]["symbol"], "SYN");
    let history = app.get("/v1/prices/SYN/history?limit=1000").await.json();
    assert_eq!(
        history["candles"].as_array().map(|c| c.len() as u64),
        Some(stored),
        "what the report says was stored is what history shows"
    );
}

#[tokio::test]
async fn a_failing_source_is_502_with_the_report_and_unknown_symbols_404() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let failing = axum::Router::new().fallback(|| async {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "{\"code\":-1000,\"msg\":\"internal\"}",
        )
    });
    tokio::spawn(async move { axum::serve(listener, failing).await });

    let app = with_collector(&url).await;
    watch(&app, "BTC", Provider::Binance, Interval::OneHour).await;
    let reply = app.write(Method::POST, "/v1/collect/BTC", None).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["error"]["code"], "upstream_failed");
    assert_eq!(body["error"]["details"][0]["symbol"], "BTC");
    assert_eq!(body["error"]["details"][0]["status"], "failed");
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");

    app.write(Method::POST, "/v1/collect/NOPE", None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "unknown_symbol");
    app.write_with(Method::POST, "/v1/collect/BTC", None, None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn without_a_collector_the_route_says_it_is_not_configured() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    app.write(Method::POST, "/v1/collect/BTC", None)
        .await
        .expect_error(StatusCode::NOT_IMPLEMENTED, "not_implemented");
}

#[tokio::test]
async fn a_correction_survives_a_collection_and_the_feed_returns_once_it_is_deleted() {
    let app = with_collector("http://127.0.0.1:9").await;
    watch(&app, "SYN", Provider::Synthetic, Interval::OneDay).await;
    // The synthetic source's latest data covers yesterday's and today's day candles.
    let yesterday = Interval::OneDay.bucket_start(chrono::Utc::now()) - Interval::OneDay.duration();
    let uri = format!(
        "/v1/prices/SYN/candles/{}",
        yesterday.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let correction = serde_json::json!({"open": "7", "high": "9", "low": "6", "close": "8"});
    let put = app.write(Method::PUT, &uri, Some(correction)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text());

    let collected = app.write(Method::POST, "/v1/collect/SYN", None).await;
    assert_eq!(collected.status, StatusCode::OK, "{}", collected.text());
    let page = app.get("/v1/prices/SYN/history?limit=10").await.json();
    let day = |page: &serde_json::Value| {
        page["candles"]
            .as_array()
            .expect("candles")
            .iter()
            .find(|c| {
                c["open_time"] == yesterday.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
            .cloned()
            .expect("yesterday's candle")
    };
    assert_eq!(
        day(&page)["close"],
        "8",
        "the correction wins over the feed"
    );
    assert_eq!(day(&page)["source"], "correction");
    assert_eq!(
        page["candles"].as_array().map(Vec::len),
        Some(2),
        "today's candle is the feed's"
    );

    let deleted = app.write(Method::DELETE, &uri, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let collected = app.write(Method::POST, "/v1/collect/SYN", None).await;
    assert_eq!(collected.status, StatusCode::OK, "{}", collected.text());
    let page = app.get("/v1/prices/SYN/history?limit=10").await.json();
    assert_eq!(
        day(&page)["source"],
        "synthetic",
        "the feed writes the bucket again"
    );
}
