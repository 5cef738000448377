//! Corrections: validated like collected candles, stored with their own provenance, sticky
//! against the feed until deleted, one statement per request, and exactly one "created" for
//! racing creators.

use axum::http::{Method, StatusCode};
use serde_json::json;
use tickwatch::db::candles::{self, UpsertMode};
use tickwatch::model::{CandleSource, Interval};

use crate::helpers::{TestApp, hour, sym};

/// `(index, reason)` of each rejection in a correction report.
fn rejected(report: &serde_json::Value) -> Vec<(u64, &str)> {
    report["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().expect("index"),
                r["reason"].as_str().expect("reason"),
            )
        })
        .collect()
}

fn correction(open_time: &str, close: &str) -> serde_json::Value {
    json!({"open_time": open_time, "open": "100", "high": "110", "low": "90", "close": close, "volume": "3"})
}

#[tokio::test]
async fn a_batch_of_corrections_stores_the_good_candles_and_reports_each_bad_one() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let batch = json!({"candles": [
        correction("2026-01-01T00:00:00Z", "105"),
        correction("2026-01-01T01:00:00Z", "120"),
        correction("2026-01-01T02:30:00Z", "100"),
        {"open_time": "2026-01-01T03:00:00Z", "open": "1", "high": "x"},
        correction("2999-01-01T00:00:00Z", "100"),
        correction("2026-01-01T04:00:00Z", "100.5"),
    ]});
    let reply = app
        .write(Method::POST, "/v1/prices/BTC/candles", Some(batch))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let report = reply.json();
    assert_eq!(report["written"], 2);
    let reasons = rejected(&report);
    assert_eq!(
        reasons,
        [
            (1, "outside_range"),
            (2, "misaligned_time"),
            (3, "malformed"),
            (4, "future_timestamp")
        ]
    );
    let stored = app.get("/v1/prices/BTC/history").await.json();
    assert_eq!(stored["candles"].as_array().map(Vec::len), Some(2));
    assert_eq!(stored["candles"][0]["close"], "100.5");
    assert_eq!(
        stored["candles"][0]["source"], "correction",
        "a correction's provenance"
    );
}

#[tokio::test]
async fn a_batch_with_no_good_candle_is_422_with_every_reason() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let batch =
        json!({"candles": [correction("2026-01-01T00:00:00Z", "0"), correction("bad", "100")]});
    let reply = app
        .write(Method::POST, "/v1/prices/BTC/candles", Some(batch))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = reply.json();
    assert_eq!(body["error"]["code"], "invalid_candles");
    assert_eq!(body["error"]["details"].as_array().map(Vec::len), Some(2));
    app.write(
        Method::POST,
        "/v1/prices/BTC/candles",
        Some(json!({"candles": []})),
    )
    .await
    .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "out_of_range");
    app.write(
        Method::POST,
        "/v1/prices/NOPE/candles",
        Some(json!({"candles": [correction("2026-01-01T00:00:00Z", "100")]})),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "unknown_symbol");
    app.write_with(
        Method::POST,
        "/v1/prices/BTC/candles",
        None,
        Some(json!({"candles": []})),
    )
    .await
    .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn one_candle_is_put_replaced_and_deleted() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let uri = "/v1/prices/BTC/candles/2026-01-01T05:00:00Z";
    let body = json!({"open": "100", "high": "110", "low": "90", "close": "101"});
    let created = app.write(Method::PUT, uri, Some(body.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["close"], "101");
    let mut changed = body.clone();
    changed["close"] = json!("109.99");
    let replaced = app.write(Method::PUT, uri, Some(changed)).await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(
        app.get("/v1/prices/BTC/latest").await.json()["close"],
        "109.99"
    );

    let mut broken = body.clone();
    broken["high"] = json!("80");
    app.write(Method::PUT, uri, Some(broken))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_candle");
    let mut other_time = body.clone();
    other_time["open_time"] = json!("2026-01-01T06:00:00Z");
    app.write(Method::PUT, uri, Some(other_time))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_body");
    app.write(
        Method::PUT,
        "/v1/prices/BTC/candles/noon",
        Some(body.clone()),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "invalid_parameter");

    let deleted = app.write(Method::DELETE, uri, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.write(Method::DELETE, uri, None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "no_such_candle");
    app.write(
        Method::DELETE,
        "/v1/prices/BTC/candles/2026-01-01T05:00:00Z?interval=9h",
        None,
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "invalid_parameter");
}

#[tokio::test]
async fn a_correction_is_stored_as_one_and_wins_over_the_feed_until_deleted() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let fed = app.seed_candles("BTC", 3).await;
    let uri = "/v1/prices/BTC/candles/2026-01-01T01:00:00Z";
    let body = json!({"open": "100", "high": "110", "low": "90", "close": "95.5"});
    let corrected = app.write(Method::PUT, uri, Some(body)).await;
    assert_eq!(corrected.status, StatusCode::OK, "{}", corrected.text());
    assert_eq!(corrected.json()["source"], "correction");

    // The feed sends its candles again, whole and as quotes: the correction stays.
    let client = app.db.raw().await;
    for mode in [UpsertMode::Replace, UpsertMode::MergeQuote] {
        let mut again = fed.clone();
        for candle in &mut again {
            candle.close = candle.high;
        }
        candles::upsert(&client, &again, mode)
            .await
            .expect("feed upsert");
        let stored = candles::get(&client, &sym("BTC"), Interval::OneHour, hour(1))
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(stored.close.to_string(), "95.5", "{mode:?}");
        assert_eq!(stored.source, CandleSource::Correction);
        let neighbour = candles::get(&client, &sym("BTC"), Interval::OneHour, hour(2))
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(
            neighbour.close, fed[2].high,
            "the feed still updates the rest"
        );
    }

    // Undo: delete the correction, and the feed may write the bucket again.
    let deleted = app.write(Method::DELETE, uri, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    candles::upsert(&client, &fed, UpsertMode::Replace)
        .await
        .expect("feed upsert");
    let stored = candles::get(&client, &sym("BTC"), Interval::OneHour, hour(1))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored, fed[1]);
}

#[tokio::test]
async fn repeated_open_times_in_a_batch_are_refused_and_counted() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let batch = json!({"candles": [
        correction("2026-01-01T00:00:00Z", "101"),
        correction("2026-01-01T01:00:00Z", "102"),
        correction("2026-01-01T00:00:00Z", "101"),
        correction("2026-01-01T02:00:00Z", "103"),
        correction("2026-01-01T02:00:00Z", "104"),
        {"interval": "1h", "open_time": "2026-01-01T01:00:00Z", "open": "100", "high": "110", "low": "90", "close": "102", "volume": "3"},
    ]});
    let reply = app
        .write(Method::POST, "/v1/prices/BTC/candles", Some(batch))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let report = reply.json();
    assert_eq!(report["written"], 1, "{report}");
    let refused = rejected(&report);
    assert_eq!(
        refused,
        [
            (1, "duplicate_open_time"),
            (2, "duplicate_open_time"),
            (3, "duplicate_open_time"),
            (4, "duplicate_open_time"),
            (5, "duplicate_open_time"),
        ],
        "an exact repeat keeps its first copy; disagreeing copies, and the same time given \
         once with and once without the symbol's interval, are all refused"
    );
    let stored = app.get("/v1/prices/BTC/history").await.json();
    let times: Vec<&str> = stored["candles"]
        .as_array()
        .expect("candles")
        .iter()
        .map(|c| c["open_time"].as_str().expect("time"))
        .collect();
    assert_eq!(times, ["2026-01-01T00:00:00Z"]);
}

#[tokio::test]
async fn candles_outside_the_valid_time_range_are_refused_everywhere() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    for time in ["1900-01-01T00:00:00Z", "1969-12-31T23:00:00Z"] {
        let reply = app
            .write(
                Method::PUT,
                &format!("/v1/prices/BTC/candles/{time}"),
                Some(json!({"open": "1", "high": "1", "low": "1", "close": "1"})),
            )
            .await;
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_candle");
        assert_eq!(reply.json()["error"]["details"][0]["reason"], "too_old");
    }
    let future = (chrono::Utc::now() + chrono::TimeDelta::days(2))
        .format("%Y-%m-%dT00:00:00Z")
        .to_string();
    let reply = app
        .write(
            Method::PUT,
            &format!("/v1/prices/BTC/candles/{future}"),
            Some(json!({"open": "1", "high": "1", "low": "1", "close": "1"})),
        )
        .await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_candle");
    assert_eq!(
        reply.json()["error"]["details"][0]["reason"],
        "future_timestamp"
    );
    let reply = app
        .write(
            Method::POST,
            "/v1/prices/BTC/candles",
            Some(json!({"candles": [correction("1950-06-01T00:00:00Z", "100")]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["error"]["details"][0]["reason"], "too_old");
    // The epoch itself is the first valid open time.
    let reply = app
        .write(
            Method::PUT,
            "/v1/prices/BTC/candles/1970-01-01T00:00:00Z",
            Some(json!({"open": "1", "high": "1", "low": "1", "close": "1"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
}

#[tokio::test]
async fn a_time_misaligned_for_the_symbols_own_interval_is_refused() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let body = json!({"open": "100", "high": "110", "low": "90", "close": "101"});
    let reply = app
        .write(
            Method::PUT,
            "/v1/prices/BTC/candles/2026-01-01T05:30:00Z",
            Some(body.clone()),
        )
        .await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_candle");
    let details = &reply.json()["error"]["details"][0];
    assert_eq!(details["reason"], "misaligned_time");
    assert!(
        details["message"]
            .as_str()
            .is_some_and(|m| m.contains("1h")),
        "{details}"
    );
    // Aligned for an interval named in the body, it is stored in that series.
    let mut five = body;
    five["interval"] = json!("5m");
    let reply = app
        .write(
            Method::PUT,
            "/v1/prices/BTC/candles/2026-01-01T05:30:00Z",
            Some(five),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["interval"], "5m");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_twenty_racing_creators_of_one_candle_exactly_one_is_told_created() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let uri = "/v1/prices/BTC/candles/2026-01-01T07:00:00Z";
    let statuses = app
        .race(Method::PUT, uri, |i| {
            json!({"open": "100", "high": "110", "low": "90", "close": format!("{}", 95 + i % 5)})
        })
        .await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let replaced = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!((created, replaced), (1, 19), "{statuses:?}");
}
