use std::collections::HashSet;

use axum::http::StatusCode;
use tickwatch::model::Method;

use crate::helpers::{TestApp, anomaly, hour};

/// 60 hours of findings on BTC (two methods on every third hour) and a few on ETH.
async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    app.watch("ETH").await;
    let mut rows = Vec::new();
    for h in 0..60 {
        rows.push(anomaly("BTC", hour(h), Method::ZScore, 0.5));
        if h % 3 == 0 {
            rows.push(anomaly("BTC", hour(h), Method::Iqr, 0.95));
        }
    }
    for h in 0..5 {
        rows.push(anomaly("ETH", hour(h), Method::PctChange, 0.75));
    }
    app.seed_anomalies(&rows).await;
    app
}

#[tokio::test]
async fn anomaly_pages_walk_every_finding_once_even_when_times_tie() {
    let app = seeded().await;
    let mut seen = Vec::new();
    let mut uri = "/v1/anomalies?symbol=BTC&limit=7".to_owned();
    loop {
        let reply = app.get(&uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let body = reply.json();
        for a in body["anomalies"].as_array().expect("anomalies") {
            assert_eq!(a["symbol"], "BTC");
            seen.push((
                a["open_time"].as_str().expect("time").to_owned(),
                a["id"].as_i64().expect("id"),
            ));
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/anomalies?symbol=BTC&limit=7&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 80, "60 z-score findings and 20 IQR findings");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 80, "no repeats");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first, ties broken by id");
}

#[tokio::test]
async fn anomalies_filter_by_method_severity_and_time() {
    let app = seeded().await;
    let count = |body: serde_json::Value| body["anomalies"].as_array().map(Vec::len);
    assert_eq!(
        count(app.get("/v1/anomalies?method=iqr&limit=1000").await.json()),
        Some(20)
    );
    assert_eq!(
        count(
            app.get("/v1/anomalies?severity=high&limit=1000")
                .await
                .json()
        ),
        Some(5)
    );
    assert_eq!(
        count(
            app.get("/v1/anomalies?severity=critical&symbol=btc&limit=1000")
                .await
                .json()
        ),
        Some(20)
    );
    assert_eq!(
        count(
            app.get("/v1/anomalies?from=2026-01-01T00:00:00Z&to=2026-01-01T03:00:00Z&limit=1000")
                .await
                .json()
        ),
        Some(3 + 1 + 3),
        "BTC z-score at 0, 1, 2; IQR at 0; ETH at 0, 1, 2"
    );
    let all = app.get("/v1/anomalies?limit=1000").await.json();
    assert_eq!(count(all.clone()), Some(85));
    let first = &all["anomalies"][0];
    assert_eq!(first["details"]["z"], 4.2);
    assert!(first["detected_at"].is_string());
}

#[tokio::test]
async fn anomaly_parameters_are_checked() {
    let app = seeded().await;
    for (uri, status, code) in [
        (
            "/v1/anomalies?method=magic",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/v1/anomalies?severity=severe",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/v1/anomalies?symbol=%3Cscript%3E",
            StatusCode::BAD_REQUEST,
            "invalid_symbol",
        ),
        (
            "/v1/anomalies?cursor=Zm9v",
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "/v1/anomalies?limit=5000",
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
        ),
        (
            "/v1/anomalies?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_range",
        ),
        (
            "/v1/anomalies?symbol=NOPE",
            StatusCode::NOT_FOUND,
            "unknown_symbol",
        ),
        (
            "/v1/anomalies/stats?symbol=NOPE",
            StatusCode::NOT_FOUND,
            "unknown_symbol",
        ),
        (
            "/v1/anomalies/stats?days=-1",
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
        ),
        (
            "/v1/anomalies/NOPE/latest",
            StatusCode::NOT_FOUND,
            "unknown_symbol",
        ),
        (
            "/v1/anomalies/BTC/latest?limit=101",
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
        ),
        (
            "/v1/anomalies/B%20TC/latest",
            StatusCode::BAD_REQUEST,
            "invalid_symbol",
        ),
    ] {
        app.get(uri).await.expect_error(status, code);
    }
}

#[tokio::test]
async fn stats_count_by_method_kind_severity_and_symbol_over_a_range() {
    let app = seeded().await;
    let body = app.get("/v1/anomalies/stats").await.json();
    assert_eq!(body["total"], 85);
    assert_eq!(body["by_method"]["zscore"], 60);
    assert_eq!(body["by_method"]["iqr"], 20);
    assert_eq!(body["by_method"]["pct_change"], 5);
    assert_eq!(body["by_kind"]["spike"], 85);
    assert_eq!(body["by_severity"]["medium"], 60);
    assert_eq!(body["by_severity"]["critical"], 20);
    assert_eq!(body["by_severity"]["high"], 5);
    assert_eq!(body["by_symbol"]["BTC"], 80);
    assert_eq!(body["by_symbol"]["ETH"], 5);

    let ranged = app
        .get("/v1/anomalies/stats?symbol=BTC&from=2026-01-01T00:00:00Z&to=2026-01-01T06:00:00Z")
        .await
        .json();
    assert_eq!(ranged["total"], 6 + 2);
    assert_eq!(ranged["by_symbol"].as_object().map(|o| o.len()), Some(1));
    let empty = app.get("/v1/anomalies/stats?days=1").await.json();
    assert_eq!(empty["total"], 0);
    assert_eq!(empty["by_method"], serde_json::json!({}));
}

#[tokio::test]
async fn latest_anomalies_of_a_symbol_come_newest_first() {
    let app = seeded().await;
    let body = app.get("/v1/anomalies/eth/latest?limit=3").await.json();
    assert_eq!(body["symbol"], "ETH");
    let times: Vec<&str> = body["anomalies"]
        .as_array()
        .expect("anomalies")
        .iter()
        .map(|a| a["open_time"].as_str().expect("time"))
        .collect();
    assert_eq!(
        times,
        [
            "2026-01-01T04:00:00Z",
            "2026-01-01T03:00:00Z",
            "2026-01-01T02:00:00Z"
        ]
    );
    app.watch("SOL").await;
    let none = app.get("/v1/anomalies/SOL/latest").await.json();
    assert_eq!(none["anomalies"], serde_json::json!([]));
}
