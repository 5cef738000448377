use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::{TimeDelta, TimeZone, Utc};
use tickwatch::db::scores;
use tickwatch::detect::{CandleScore, MethodReading, group_of};
use tickwatch::model::{Interval, Method, Severity, Symbol};

use crate::helpers::{TestApp, anomaly, hour};

/// 60 one-hour events on BTC (z-score at medium rarity; every third hour with IQR too, at
/// critical) and five on ETH (percentage change, high). BTC and ETH share start times.
async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    app.watch("ETH").await;
    let mut rows = Vec::new();
    for h in 0..60 {
        if h % 3 == 0 {
            rows.push(anomaly(
                "BTC",
                hour(h),
                &[Method::ZScore, Method::Iqr],
                0.85,
            ));
        } else {
            rows.push(anomaly("BTC", hour(h), &[Method::ZScore], 0.4));
        }
    }
    for h in 0..5 {
        rows.push(anomaly("ETH", hour(h), &[Method::PctChange], 0.6));
    }
    app.seed_anomalies(&rows).await;
    app
}

#[tokio::test]
async fn event_pages_walk_every_event_once_even_when_times_tie() {
    let app = seeded().await;
    let mut seen = Vec::new();
    let mut uri = "/v1/anomalies?limit=7".to_owned();
    loop {
        let reply = app.get(&uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let body = reply.json();
        for a in body["anomalies"].as_array().expect("anomalies") {
            seen.push((
                a["start_time"].as_str().expect("time").to_owned(),
                a["id"].as_i64().expect("id"),
            ));
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/anomalies?limit=7&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 65);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 65, "no repeats");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first, ties broken by id");
}

#[tokio::test]
async fn events_filter_by_contributing_method_severity_symbol_and_time() {
    let app = seeded().await;
    let count = |body: serde_json::Value| body["anomalies"].as_array().map(Vec::len);
    assert_eq!(
        count(app.get("/v1/anomalies?method=iqr&limit=1000").await.json()),
        Some(20)
    );
    assert_eq!(
        count(
            app.get("/v1/anomalies?method=zscore&limit=1000")
                .await
                .json()
        ),
        Some(60)
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
            app.get("/v1/anomalies?severity=critical&symbol=btc&method=zscore&limit=1000")
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
        Some(3 + 3),
        "BTC and ETH at 0, 1 and 2"
    );
    let all = app.get("/v1/anomalies?symbol=ETH&limit=1000").await.json();
    assert_eq!(count(all.clone()), Some(5));
    let first = &all["anomalies"][0];
    assert_eq!(first["methods"], serde_json::json!(["pct_change"]));
    assert_eq!(first["severity"], "high");
    assert_eq!(first["candles"], 1);
    assert!(first["created_at"].is_string() && first["updated_at"].is_string());
    assert!(first["details"]["peak"].is_object());
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
        (
            "/v1/prices/NOPE/scores",
            StatusCode::NOT_FOUND,
            "unknown_symbol",
        ),
        (
            "/v1/prices/BTC/scores?limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
        ),
        (
            "/v1/prices/BTC/scores?interval=2h",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
    ] {
        app.get(uri).await.expect_error(status, code);
    }
}

#[tokio::test]
async fn stats_count_events_by_method_kind_severity_and_symbol_over_a_range() {
    let app = seeded().await;
    let body = app.get("/v1/anomalies/stats").await.json();
    // No range asked for: both ends open, said as null rather than as year 1 and 9999.
    assert_eq!(body["from"], serde_json::Value::Null, "{body}");
    assert_eq!(body["to"], serde_json::Value::Null, "{body}");
    assert_eq!(body["total"], 65);
    assert_eq!(body["by_method"]["zscore"], 60);
    assert_eq!(body["by_method"]["iqr"], 20);
    assert_eq!(body["by_method"]["pct_change"], 5);
    assert_eq!(body["by_kind"]["spike"], 65);
    assert_eq!(body["by_severity"]["medium"], 40);
    assert_eq!(body["by_severity"]["critical"], 20);
    assert_eq!(body["by_severity"]["high"], 5);
    assert_eq!(body["by_symbol"]["BTC"], 60);
    assert_eq!(body["by_symbol"]["ETH"], 5);

    let ranged = app
        .get("/v1/anomalies/stats?symbol=BTC&from=2026-01-01T00:00:00Z&to=2026-01-01T06:00:00Z")
        .await
        .json();
    assert_eq!(ranged["from"], "2026-01-01T00:00:00Z");
    assert_eq!(ranged["to"], "2026-01-01T06:00:00Z");
    assert_eq!(ranged["total"], 6);
    let open_ended = app
        .get("/v1/anomalies/stats?from=2026-01-01T00:00:00Z")
        .await
        .json();
    assert_eq!(open_ended["from"], "2026-01-01T00:00:00Z");
    assert_eq!(open_ended["to"], serde_json::Value::Null, "{open_ended}");
    assert_eq!(ranged["by_method"]["iqr"], 2);
    assert_eq!(ranged["by_symbol"].as_object().map(|o| o.len()), Some(1));
    let empty = app.get("/v1/anomalies/stats?days=1").await.json();
    assert_eq!(empty["total"], 0);
    // `days` counts back from now: both ends are instants, a day apart.
    let end = |key: &str| {
        chrono::DateTime::parse_from_rfc3339(empty[key].as_str().expect("an instant"))
            .expect("RFC 3339")
    };
    assert_eq!(end("to") - end("from"), TimeDelta::days(1), "{empty}");
    assert_eq!(empty["by_method"], serde_json::json!({}));
}

#[tokio::test]
async fn latest_events_of_a_symbol_come_newest_first() {
    let app = seeded().await;
    let body = app.get("/v1/anomalies/eth/latest?limit=3").await.json();
    assert_eq!(body["symbol"], "ETH");
    let times: Vec<&str> = body["anomalies"]
        .as_array()
        .expect("anomalies")
        .iter()
        .map(|a| a["start_time"].as_str().expect("time"))
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

#[tokio::test]
async fn the_score_series_pages_newest_first_with_every_method_reading() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    app.seed_candles("BTC", 30).await;
    let at = |h: i64| {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid")
            + TimeDelta::hours(h)
    };
    let reading = |method: Method, p: f64| MethodReading {
        method,
        group: group_of(method),
        statistic: 3.5,
        direction: 1,
        p,
    };
    let rows: Vec<CandleScore> = (0..30)
        .map(|h| CandleScore {
            open_time: at(h),
            p: (h >= 5).then_some(1e-3),
            score: (h >= 5).then_some(if h == 20 { 0.6 } else { 0.1 }),
            severity: (h == 20).then_some(Severity::High),
            readings: if h >= 5 {
                vec![
                    reading(Method::ZScore, 1e-3),
                    reading(Method::VolumeSpike, 0.2),
                ]
            } else {
                vec![]
            },
            facts: serde_json::Value::Null,
        })
        .collect();
    let client = app.db.raw().await;
    scores::upsert(
        &client,
        &Symbol::parse("BTC").expect("valid"),
        Interval::OneHour,
        &rows,
    )
    .await
    .expect("scores");

    let mut seen = Vec::new();
    let mut uri = "/v1/prices/BTC/scores?limit=8".to_owned();
    loop {
        let body = app.get(&uri).await.json();
        assert_eq!(body["interval"], "1h");
        for s in body["scores"].as_array().expect("scores") {
            seen.push(s.clone());
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/prices/BTC/scores?limit=8&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 30);
    assert_eq!(seen[0]["open_time"], "2026-01-02T05:00:00Z");
    let peak = &seen[29 - 20];
    assert_eq!(peak["severity"], "high");
    assert_eq!(peak["score"], 0.6);
    assert_eq!(peak["readings"]["zscore"]["p"], 1e-3);
    assert_eq!(peak["readings"]["volume_spike"]["direction"], 1);
    assert!(
        peak["recurrence_days"]
            .as_f64()
            .is_some_and(|d| (d - 1000.0 / 24.0).abs() < 1e-9)
    );
    let young = &seen[29];
    assert_eq!(young["score"], serde_json::Value::Null);
    assert_eq!(young["readings"], serde_json::json!({}));
    let ranged = app
        .get("/v1/prices/BTC/scores?from=2026-01-01T10:00:00Z&to=2026-01-01T12:00:00Z")
        .await
        .json();
    assert_eq!(ranged["scores"].as_array().map(Vec::len), Some(2));
}
