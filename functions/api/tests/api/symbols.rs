use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{KEY, TestApp};

fn body() -> serde_json::Value {
    json!({
        "asset_class": "crypto",
        "provider": "coingecko",
        "provider_id": "bitcoin",
        "interval": "1h",
        "detector_overrides": {"zscore": {"window": 50}}
    })
}

#[tokio::test]
async fn a_symbol_is_created_replaced_listed_and_deleted() {
    let app = TestApp::spawn().await;

    let created = app
        .write(Method::PUT, "/v1/symbols/btc", Some(body()))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json()["symbol"], "BTC");
    assert_eq!(created.json()["enabled"], true);

    let mut changed = body();
    changed["enabled"] = json!(false);
    let replaced = app
        .write(Method::PUT, "/v1/symbols/BTC", Some(changed))
        .await;
    assert_eq!(replaced.status, StatusCode::OK);

    let list = app.get("/v1/symbols").await;
    assert_eq!(list.status, StatusCode::OK);
    let symbols = list.json()["symbols"].clone();
    assert_eq!(symbols.as_array().map(Vec::len), Some(1));
    assert_eq!(symbols[0]["enabled"], false);
    assert_eq!(symbols[0]["detector_overrides"]["zscore"]["window"], 50);

    let deleted = app.write(Method::DELETE, "/v1/symbols/BTC", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.write(Method::DELETE, "/v1/symbols/BTC", None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "unknown_symbol");
    assert_eq!(app.get("/v1/symbols").await.json()["symbols"], json!([]));
}

#[tokio::test]
async fn writes_without_the_right_key_are_401_and_change_nothing() {
    let app = TestApp::spawn().await;
    for authorization in [
        None,
        Some("Bearer wrong-key-0123456789abcdef".to_owned()),
        Some(format!("Basic {KEY}")),
        Some(format!("Bearer {KEY}x")),
        Some("Bearer".to_owned()),
    ] {
        let reply = app
            .write_with(
                Method::PUT,
                "/v1/symbols/BTC",
                authorization.as_deref(),
                Some(body()),
            )
            .await;
        reply.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    assert_eq!(app.get("/v1/symbols").await.json()["symbols"], json!([]));
}

#[tokio::test]
async fn without_a_configured_key_every_write_is_refused() {
    let db = tickwatch_tests::TestDb::migrated().await;
    let app = TestApp {
        router: api::app(api::AppState::new(db.db.clone(), None)),
        db,
    };
    let reply = app
        .write(Method::PUT, "/v1/symbols/BTC", Some(body()))
        .await;
    let message = reply.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(message.contains("disabled"), "{message}");
}

#[tokio::test]
async fn malformed_symbols_and_bodies_are_400_with_a_reason() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("/v1/symbols/B%27--", body(), "'"),
        ("/v1/symbols/ABCDEFGHIJKLMNOPQRSTUVWXYZ", body(), "longer"),
        (
            "/v1/symbols/BTC",
            json!({"asset_class": "bond", "provider": "coingecko", "provider_id": "x", "interval": "1h"}),
            "asset_class",
        ),
        (
            "/v1/symbols/BTC",
            json!({"asset_class": "crypto", "provider": "yahoo", "provider_id": "x", "interval": "1h"}),
            "provider",
        ),
        (
            "/v1/symbols/BTC",
            json!({"asset_class": "crypto", "provider": "coingecko", "provider_id": "x", "interval": "2h"}),
            "interval",
        ),
        (
            "/v1/symbols/BTC",
            json!({"asset_class": "crypto", "provider": "coingecko", "provider_id": "", "interval": "1h"}),
            "provider_id",
        ),
        (
            "/v1/symbols/BTC",
            json!({"asset_class": "crypto", "provider": "coingecko", "provider_id": "x".repeat(65), "interval": "1h"}),
            "provider_id",
        ),
        (
            "/v1/symbols/BTC",
            json!({"asset_class": "crypto", "provider": "coingecko", "provider_id": "bit\u{0}coin", "interval": "1h"}),
            "control",
        ),
        (
            "/v1/symbols/BTC",
            json!({"asset_class": "crypto", "provider": "coingecko", "provider_id": "x", "interval": "1h", "detector_overrides": {"k": "a\u{0}b"}}),
            "NUL",
        ),
        (
            "/v1/symbols/BTC",
            json!({"asset_class": "crypto", "provider": "coingecko", "provider_id": "x", "interval": "1h", "symbol": "ETH"}),
            "unknown field",
        ),
        ("/v1/symbols/BTC", json!([]), "invalid"),
    ];
    for (uri, body, needle) in cases {
        let reply = app.write(Method::PUT, uri, Some(body.clone())).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{uri} {body}: {}",
            reply.text()
        );
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(needle), "{uri} {body}: {message}");
    }
    assert_eq!(app.get("/v1/symbols").await.json()["symbols"], json!([]));
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400_and_one_not_declared_as_json_415() {
    let app = TestApp::spawn().await;
    let request = http::Request::put("/v1/symbols/BTC")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"asset_class\": "))
        .expect("request");
    app.send(request)
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_body");
    let request = http::Request::put("/v1/symbols/BTC")
        .header("authorization", format!("Bearer {KEY}"))
        .body(axum::body::Body::from(body().to_string()))
        .expect("request");
    let message = app
        .send(request)
        .await
        .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    assert!(message.contains("Content-Type"), "{message}");
}

#[tokio::test]
async fn detector_overrides_are_checked_on_put_and_a_refusal_names_the_field() {
    let app = TestApp::spawn().await;
    let with = |overrides: serde_json::Value| {
        let mut b = body();
        b["detector_overrides"] = overrides;
        b
    };
    let many_methods: serde_json::Map<String, serde_json::Value> = (0..15_000)
        .map(|i| (format!("method{i}"), json!({})))
        .collect();
    for (overrides, needle) in [
        (
            json!({"zscore": {"window": "DROP"}}),
            "detector_overrides.zscore.window",
        ),
        (
            json!({"zscore": {"window": 0}}),
            "detector_overrides.zscore.window",
        ),
        (json!({"zscore": {"windw": 40}}), "windw"),
        (json!({"zscroe": {}}), "unknown method"),
        (json!({"zscore": 4}), "detector_overrides.zscore"),
        (json!([1]), "JSON object"),
        (serde_json::Value::Object(many_methods), "bytes"),
    ] {
        let reply = app
            .write(
                Method::PUT,
                "/v1/symbols/BTC",
                Some(with(overrides.clone())),
            )
            .await;
        let message = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_overrides");
        assert!(message.contains(needle), "{message} lacks {needle}");
        for rust in ["f64", "usize", "struct", "Params"] {
            assert!(!message.contains(rust), "{message} names a Rust type");
        }
    }
    assert_eq!(app.get("/v1/symbols").await.json()["symbols"], json!([]));
    let accepted = app
        .write(
            Method::PUT,
            "/v1/symbols/BTC",
            Some(with(
                json!({"zscore": {"window": 40}, "iqr": {"enabled": false}}),
            )),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_twenty_racing_creators_of_one_symbol_exactly_one_is_told_created() {
    let app = TestApp::spawn().await;
    let statuses = app.race(Method::PUT, "/v1/symbols/RACE", |_| body()).await;
    let mut created = 0;
    for status in statuses {
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "{status}"
        );
        created += usize::from(status == StatusCode::CREATED);
    }
    assert_eq!(created, 1);
}

#[tokio::test]
async fn messages_about_bad_bodies_speak_of_json_not_of_rust_types() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let cases = [
        (Method::PUT, "/v1/symbols/ETH", json!("a string")),
        (Method::PUT, "/v1/symbols/ETH", json!({"asset_class": 5})),
        (
            Method::PUT,
            "/v1/symbols/ETH",
            json!({"asset_class": "crypto", "provider": "coingecko", "provider_id": "x", "interval": "1h", "enabled": "yes"}),
        ),
        (
            Method::PUT,
            "/v1/prices/BTC/candles/2026-01-01T00:00:00Z",
            json!([]),
        ),
        (
            Method::PUT,
            "/v1/prices/BTC/candles/2026-01-01T00:00:00Z",
            json!({"open": {"x": 1}, "high": "1", "low": "1", "close": "1"}),
        ),
        (
            Method::PUT,
            "/v1/prices/BTC/candles/2026-01-01T00:00:00Z",
            json!({"open": true, "high": "1", "low": "1", "close": "1"}),
        ),
        (
            Method::PUT,
            "/v1/prices/BTC/candles/2026-01-01T00:00:00Z",
            json!({"open": "12,5", "high": "1", "low": "1", "close": "1"}),
        ),
        (
            Method::POST,
            "/v1/prices/BTC/candles",
            json!({"candles": {"open": 1}}),
        ),
        (Method::POST, "/v1/prices/BTC/candles", json!(17)),
    ];
    for (method, uri, body) in cases {
        let reply = app.write(method.clone(), uri, Some(body.clone())).await;
        let message = reply.expect_error(StatusCode::BAD_REQUEST, "invalid_body");
        for rust in [
            "struct",
            "enum",
            "Decimal",
            "f64",
            "i64",
            "usize",
            "Symbol",
            "Candle",
            "::",
            "tickwatch",
        ] {
            assert!(!message.contains(rust), "{method} {uri} {body}: {message}");
        }
    }
    let reply = app
        .write(
            Method::POST,
            "/v1/prices/BTC/candles",
            Some(json!({"candles": [{"open_time": "2026-01-01T00:00:00Z", "open": [1], "high": "1", "low": "1", "close": "1"}]})),
        )
        .await;
    let message = reply.json()["error"]["details"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("decimal number"), "{message}");
    assert!(!message.contains("Decimal"), "{message}");
}
