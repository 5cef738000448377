use std::collections::BTreeSet;

use axum::http::StatusCode;
use chrono::Utc;

use crate::helpers::TestApp;

#[tokio::test]
async fn health_reports_the_database_and_each_series_age() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    app.watch("ETH").await;
    app.seed_candles("BTC", 3).await;
    let reply = app.get("/health").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "up");
    let series = body["series"].as_array().expect("series");
    assert_eq!(series.len(), 2);
    assert_eq!(series[0]["symbol"], "BTC");
    assert_eq!(series[0]["newest_candle"], "2026-01-01T02:00:00Z");
    let expected_age = (Utc::now() - crate::helpers::hour(2)).num_seconds();
    let age = series[0]["age_seconds"].as_i64().expect("age");
    assert!((age - expected_age).abs() <= 5, "{age} vs {expected_age}");
    assert_eq!(series[1]["newest_candle"], serde_json::Value::Null);
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_counts_per_series() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    app.seed_candles("BTC", 7).await;
    app.seed_anomalies(&[crate::helpers::anomaly(
        "BTC",
        crate::helpers::hour(1),
        &[tickwatch::model::Method::ZScore],
        0.5,
    )])
    .await;
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .is_ok_and(|v| v.starts_with("text/plain; version=0.0.4"))
    );
    let text = reply.text();
    assert!(text.contains("# TYPE tickwatch_candles gauge"), "{text}");
    assert!(
        text.contains("tickwatch_candles{symbol=\"BTC\",interval=\"1h\"} 7\n"),
        "{text}"
    );
    assert!(
        text.contains("tickwatch_anomalies{symbol=\"BTC\",interval=\"1h\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("tickwatch_data_age_seconds{symbol=\"BTC\",interval=\"1h\"} "),
        "{text}"
    );
    assert!(text.contains("tickwatch_watched_symbols 1\n"), "{text}");
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().expect("a value");
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }

    // A scrape reads the counts the triggers keep, never the events themselves: with the
    // table locked against every reader it still answers, with the same count.
    let locker = app.db.unbounded().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE anomalies IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock the events");
    let reply = tokio::time::timeout(std::time::Duration::from_secs(5), app.get("/metrics"))
        .await
        .expect("a scrape does not wait on the events table");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(
        reply
            .text()
            .contains("tickwatch_anomalies{symbol=\"BTC\",interval=\"1h\"} 1\n"),
        "{}",
        reply.text()
    );
    locker.batch_execute("ROLLBACK").await.expect("unlock");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_with_the_envelope() {
    let app = TestApp::spawn().await;
    app.get("/v2/nothing")
        .await
        .expect_error(StatusCode::NOT_FOUND, "unknown_route");
    app.get("/chart")
        .await
        .expect_error(StatusCode::NOT_FOUND, "unknown_route");
    app.write(http::Method::PATCH, "/v1/symbols", None)
        .await
        .expect_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    // The envelope keeps the methods the path does serve.
    let delete = app.write(http::Method::DELETE, "/v1/symbols", None).await;
    delete.expect_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(delete.headers["allow"], "GET,HEAD");
    let post = app.write(http::Method::POST, "/v1/symbols/BTC", None).await;
    post.expect_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(post.headers["allow"], "PUT,DELETE");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_each_is_new() {
    let app = TestApp::spawn().await;
    let a = app.get("/v1/symbols").await;
    let b = app.get("/nowhere").await;
    let id = |r: &crate::helpers::Reply| {
        r.headers["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned()
    };
    assert_eq!(id(&a).len(), 36, "a UUID");
    assert_ne!(id(&a), id(&b));
    let spoofed = app
        .send(
            http::Request::get("/v1/symbols")
                .header("x-request-id", "attacker-chosen")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await;
    assert_ne!(id(&spoofed), "attacker-chosen");
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_is_503_without_internal_detail() {
    let db = tickwatch_tests::connect(
        "postgres://postgres@127.0.0.1:1/nowhere",
        &[("DB_CONNECT_TIMEOUT_MS", "500")],
    )
    .await;
    let router = api::app(api::AppState::new(db, None));
    for uri in [
        "/health",
        "/metrics",
        "/v1/symbols",
        "/v1/prices/BTC/latest",
        "/v1/anomalies",
    ] {
        let response = tower::ServiceExt::oneshot(
            router.clone(),
            http::Request::get(uri)
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("database_unavailable"), "{text}");
        assert!(
            !text.contains("127.0.0.1") && !text.contains("nowhere"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_with_its_errors() {
    let app = TestApp::spawn().await;
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("methods") {
            routes.insert(format!("{} {path}", method.to_uppercase()));
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')) || path.contains("collect"),
                "{method} {path}"
            );
            let needs_db = !path.ends_with("openapi.json");
            if needs_db {
                assert!(
                    responses.contains_key("503"),
                    "{method} {path} documents 503"
                );
            }
            if path.contains('{') {
                assert!(
                    responses.contains_key("400"),
                    "{method} {path} documents 400"
                );
            }
            if method != "get" {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents 401"
                );
                assert!(
                    operation["security"].is_array(),
                    "{method} {path} needs the key"
                );
            }
        }
    }
    let expected: BTreeSet<String> = [
        "GET /health",
        "GET /metrics",
        "GET /openapi.json",
        "GET /v1/symbols",
        "PUT /v1/symbols/{symbol}",
        "DELETE /v1/symbols/{symbol}",
        "GET /v1/prices/{symbol}/latest",
        "GET /v1/prices/{symbol}/history",
        "GET /v1/prices/{symbol}/ma",
        "GET /v1/prices/{symbol}/scores",
        "POST /v1/prices/{symbol}/candles",
        "POST /v1/prices/{symbol}/import",
        "PUT /v1/prices/{symbol}/candles/{open_time}",
        "DELETE /v1/prices/{symbol}/candles/{open_time}",
        "POST /v1/collect/{symbol}",
        "GET /v1/anomalies",
        "GET /v1/anomalies/stats",
        "GET /v1/anomalies/{symbol}/latest",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(routes, expected);
    // Enumerations are documented by the names the API sends (the stored names).
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["Provider"]["enum"]
            .as_array()
            .is_some_and(|v| v.contains(&"coingecko".into()))
    );
    assert!(
        schemas["Method"]["enum"]
            .as_array()
            .is_some_and(|v| v.contains(&"zscore".into()))
    );
    assert!(
        schemas["Severity"]["enum"]
            .as_array()
            .is_some_and(|v| v.contains(&"critical".into()))
    );
    // Every documented route is served: none answers "unknown route".
    for route in &expected {
        let (method, path) = route.split_once(' ').expect("method and path");
        let uri = path
            .replace("{symbol}", "BTC")
            .replace("{open_time}", "2026-01-01T00:00:00Z");
        let reply = app
            .write_with(method.parse().expect("method"), &uri, None, None)
            .await;
        if reply.status == StatusCode::NOT_FOUND {
            assert_ne!(reply.json()["error"]["code"], "unknown_route", "{route}");
        }
        assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{route}");
    }
}
