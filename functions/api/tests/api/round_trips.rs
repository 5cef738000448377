//! Every route this API serves from one query costs one statement: PostgreSQL's own
//! pg_stat_statements counts what the database ran for each request (`make test` loads it).

use axum::http::{Method, StatusCode};
use serde_json::json;

use tickwatch::model::Method as DetectMethod;

use crate::helpers::{TestApp, anomaly, hour};

/// Statements run in this test's database, apart from the counting itself and the setting a
/// read lane runs once when it opens its connection (`tickwatch::db::lanes`), which is no
/// request's cost.
async fn statements(app: &TestApp) -> i64 {
    let client = app.db.raw().await;
    client
        .query_one(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND query NOT LIKE '%pg_stat_statements%'
               AND query <> $1",
            &[&tickwatch::db::GENERIC_PLANS],
        )
        .await
        .unwrap_or_else(|e| {
            panic!("pg_stat_statements cannot be read ({e}); the test cluster must load it, as make test does")
        })
        .get(0)
}

#[tokio::test]
async fn each_route_costs_one_statement() {
    let app = TestApp::spawn().await;
    app.db
        .raw()
        .await
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await
        .expect("pg_stat_statements");
    app.watch("BTC").await;
    app.seed_candles("BTC", 30).await;
    app.seed_anomalies(&[anomaly("BTC", hour(3), &[DetectMethod::ZScore], 0.9)])
        .await;
    // The first request of a process checks the migrations.
    assert_eq!(app.get("/health").await.status, StatusCode::OK);

    let candle = json!({"open": "100", "high": "110", "low": "90", "close": "101"});
    let batch = json!({"candles": [
        {"open_time": "2026-01-02T00:00:00Z", "open": "1", "high": "2", "low": "1", "close": "2"},
        {"open_time": "2026-01-02T01:00:00Z", "open": "1", "high": "2", "low": "1", "close": "2"},
    ]});
    let symbol = json!({"asset_class": "crypto", "provider": "synthetic", "provider_id": "eth", "interval": "1h"});
    let requests: Vec<(Method, &str, Option<serde_json::Value>, StatusCode)> = vec![
        (Method::GET, "/health", None, StatusCode::OK),
        (Method::GET, "/v1/symbols", None, StatusCode::OK),
        (Method::GET, "/v1/prices/BTC/latest", None, StatusCode::OK),
        (
            Method::GET,
            "/v1/prices/NOPE/latest",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/v1/prices/BTC/history?limit=5",
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/v1/prices/NOPE/history?limit=5",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/v1/prices/BTC/ma?window=3",
            None,
            StatusCode::OK,
        ),
        (Method::GET, "/v1/prices/BTC/scores", None, StatusCode::OK),
        (
            Method::GET,
            "/v1/prices/NOPE/scores",
            None,
            StatusCode::NOT_FOUND,
        ),
        (Method::GET, "/v1/anomalies", None, StatusCode::OK),
        (
            Method::GET,
            "/v1/anomalies?symbol=BTC",
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/v1/anomalies?symbol=NOPE",
            None,
            StatusCode::NOT_FOUND,
        ),
        (Method::GET, "/v1/anomalies/stats", None, StatusCode::OK),
        (
            Method::GET,
            "/v1/anomalies/stats?symbol=NOPE",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/v1/anomalies/BTC/latest",
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/v1/anomalies/NOPE/latest",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            "/v1/symbols/ETH",
            Some(symbol),
            StatusCode::CREATED,
        ),
        (
            Method::DELETE,
            "/v1/symbols/ETH",
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            Method::PUT,
            "/v1/prices/BTC/candles/2026-01-03T00:00:00Z",
            Some(candle.clone()),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            "/v1/prices/BTC/candles/2026-01-03T00:00:00Z",
            Some(candle),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/v1/prices/BTC/candles",
            Some(batch),
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            "/v1/prices/BTC/candles/2026-01-03T00:00:00Z",
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            Method::DELETE,
            "/v1/prices/BTC/candles/2026-01-03T00:00:00Z",
            None,
            StatusCode::NOT_FOUND,
        ),
    ];
    for (method, uri, body, status) in requests {
        let before = statements(&app).await;
        let reply = app.write(method.clone(), uri, body).await;
        assert_eq!(reply.status, status, "{method} {uri}: {}", reply.text());
        let after = statements(&app).await;
        assert_eq!(
            after - before,
            1,
            "{method} {uri} ran {} statements",
            after - before
        );
    }
}
