use std::collections::HashSet;

use axum::http::StatusCode;

use crate::helpers::{TestApp, hour};

#[tokio::test]
async fn latest_returns_the_newest_candle_with_exact_prices() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    app.seed_candles("BTC", 5).await;
    let reply = app.get("/v1/prices/btc/latest").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["symbol"], "BTC");
    assert_eq!(body["close"], "104");
    assert_eq!(body["low"], "103.5");
    assert_eq!(body["open_time"], "2026-01-01T04:00:00Z");
    let with_interval = app.get("/v1/prices/BTC/latest?interval=1h").await;
    assert_eq!(with_interval.json(), body);
}

#[tokio::test]
async fn latest_tells_an_unknown_symbol_from_one_without_data() {
    let app = TestApp::spawn().await;
    app.get("/v1/prices/NOPE/latest")
        .await
        .expect_error(StatusCode::NOT_FOUND, "unknown_symbol");
    app.watch("BTC").await;
    app.get("/v1/prices/BTC/latest")
        .await
        .expect_error(StatusCode::NOT_FOUND, "no_data");
    app.seed_candles("BTC", 1).await;
    app.get("/v1/prices/BTC/latest?interval=5m")
        .await
        .expect_error(StatusCode::NOT_FOUND, "no_data");
}

#[tokio::test]
async fn hostile_symbols_and_parameters_are_400_never_500() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    for uri in [
        "/v1/prices/B%27--/latest",
        "/v1/prices/%00/latest",
        "/v1/prices/..%2Fetc/latest",
        "/v1/prices/%E2%80%8BBTC/latest",
        "/v1/prices/%FF%FE/latest",
        "/v1/prices/BTC/latest?interval=1w",
        "/v1/prices/BTC/latest?interval=1h&interval=5m",
        "/v1/prices/BTC/history?limit=ten",
        "/v1/prices/BTC/history?from=yesterday",
        "/v1/prices/BTC/history?to=2026-13-01T00:00:00Z",
        "/v1/prices/BTC/history?days=1.5",
        "/v1/prices/BTC/history?cursor=%%%",
        "/v1/prices/BTC/history?cursor=YTE6MTox",
        "/v1/prices/BTC/history?format=xml",
        "/v1/prices/BTC/ma?kind=wma",
        "/v1/prices/BTC/ma?window=x",
    ] {
        let reply = app.get(uri).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            reply.text()
        );
        let body = reply.json();
        assert!(body["error"]["code"].is_string(), "{uri}: {body}");
    }
}

#[tokio::test]
async fn impossible_ranges_and_limits_are_422() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    for (uri, code) in [
        ("/v1/prices/BTC/history?limit=0", "out_of_range"),
        ("/v1/prices/BTC/history?limit=1001", "out_of_range"),
        ("/v1/prices/BTC/history?limit=-5", "out_of_range"),
        ("/v1/prices/BTC/history?days=0", "out_of_range"),
        (
            "/v1/prices/BTC/history?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "empty_range",
        ),
        (
            "/v1/prices/BTC/history?from=2026-02-01T00:00:00Z&days=3",
            "conflicting_parameters",
        ),
        ("/v1/prices/BTC/ma?window=1", "out_of_range"),
        ("/v1/prices/BTC/ma?window=201", "out_of_range"),
        ("/v1/prices/BTC/ma?limit=1001", "out_of_range"),
    ] {
        app.get(uri)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
}

#[tokio::test]
async fn history_pages_walk_the_whole_range_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    app.watch("ETH").await;
    let seeded = app.seed_candles("BTC", 250).await;
    app.seed_candles("ETH", 30).await;
    let mut seen = Vec::new();
    let mut uri = "/v1/prices/BTC/history?limit=37".to_owned();
    let mut pages = 0;
    loop {
        let reply = app.get(&uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let body = reply.json();
        assert_eq!(body["interval"], "1h");
        for c in body["candles"].as_array().expect("candles") {
            assert_eq!(c["symbol"], "BTC");
            seen.push(c["open_time"].as_str().expect("time").to_owned());
        }
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/prices/BTC/history?limit=37&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 7);
    let mut expected: Vec<String> = seeded
        .iter()
        .map(|c| {
            c.open_time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .collect();
    expected.reverse();
    assert_eq!(seen, expected, "newest first, every candle exactly once");
}

#[tokio::test]
async fn a_bounded_range_pages_inside_its_bounds_only() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    app.seed_candles("BTC", 100).await;
    let from = hour(10).to_rfc3339();
    let to = hour(60).to_rfc3339();
    let base = format!(
        "/v1/prices/BTC/history?limit=20&from={}&to={}",
        urlencode(&from),
        urlencode(&to)
    );
    let mut uri = base.clone();
    let mut seen = HashSet::new();
    let mut count = 0;
    loop {
        let body = app.get(&uri).await.json();
        for c in body["candles"].as_array().expect("candles") {
            seen.insert(c["open_time"].as_str().expect("time").to_owned());
            count += 1;
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => uri = format!("{base}&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(count, 50, "hours 10..60, the end excluded");
    assert_eq!(seen.len(), 50);
    assert!(seen.contains("2026-01-01T10:00:00Z"));
    assert!(!seen.contains("2026-01-03T12:00:00Z"), "to is exclusive");
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}

#[tokio::test]
async fn days_counts_back_from_to() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    app.seed_candles("BTC", 100).await;
    let body = app
        .get("/v1/prices/BTC/history?days=1&to=2026-01-03T00:00:00Z&limit=1000")
        .await
        .json();
    let candles = body["candles"].as_array().expect("candles");
    assert_eq!(candles.len(), 24);
    assert_eq!(candles[0]["open_time"], "2026-01-02T23:00:00Z");
    assert_eq!(candles[23]["open_time"], "2026-01-02T00:00:00Z");
}

#[tokio::test]
async fn csv_pages_carry_the_same_candles_as_json() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    app.seed_candles("BTC", 30).await;
    let json = app.get("/v1/prices/BTC/history?limit=12").await;
    let csv = app.get("/v1/prices/BTC/history?limit=12&format=csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.headers["content-type"].to_str().ok(),
        Some("text/csv; charset=utf-8")
    );
    let json = json.json();
    assert_eq!(
        csv.headers["x-next-cursor"].to_str().ok(),
        json["next_cursor"].as_str()
    );
    let text = csv.text();
    let mut lines = text.split("\r\n");
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let rows: Vec<Vec<&str>> = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').collect())
        .collect();
    let candles = json["candles"].as_array().expect("candles");
    assert_eq!(rows.len(), candles.len());
    for (row, candle) in rows.iter().zip(candles) {
        for (column, value) in header.iter().zip(row) {
            let expected = match &candle[*column] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            assert_eq!(*value, expected, "column {column}");
        }
    }
}

#[tokio::test]
async fn moving_averages_match_the_reference_script() {
    // Reference: scripts/reference/moving_average.py (exact decimal arithmetic).
    const CLOSES: [&str; 12] = [
        "100", "102.5", "101", "105", "110", "108", "107.25", "111", "115", "113.5", "99.75", "104",
    ];
    let sma3 = [
        101.166666666667,
        102.833333333333,
        105.333333333333,
        107.666666666667,
        108.416666666667,
        108.75,
        111.083333333333,
        113.166666666667,
        109.416666666667,
        105.75,
    ];
    let ema5 = [
        103.7,
        105.133333333333,
        105.838888888889,
        107.559259259259,
        110.039506172840,
        111.193004115226,
        107.378669410151,
        106.252446273434,
    ];
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let rows: Vec<_> = CLOSES
        .iter()
        .enumerate()
        .map(|(i, c)| crate::helpers::candle("BTC", hour(i as i64), c.parse().expect("decimal")))
        .collect();
    let client = app.db.raw().await;
    tickwatch::db::candles::upsert(&client, &rows, tickwatch::db::candles::UpsertMode::Replace)
        .await
        .expect("seed");
    for (uri, expected) in [
        ("/v1/prices/BTC/ma?window=3&kind=sma&limit=1000", &sma3[..]),
        ("/v1/prices/BTC/ma?window=5&kind=ema&limit=1000", &ema5[..]),
    ] {
        let body = app.get(uri).await.json();
        let mut values: Vec<f64> = body["points"]
            .as_array()
            .expect("points")
            .iter()
            .map(|p| p["value"].as_f64().expect("number"))
            .collect();
        values.reverse();
        assert_eq!(values.len(), expected.len(), "{uri}");
        for (got, want) in values.iter().zip(expected) {
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "{uri}: {got} vs {want}"
            );
        }
    }
    // A short limit returns only the newest points, computed over their full windows.
    let body = app.get("/v1/prices/BTC/ma?window=3&limit=2").await.json();
    let points = body["points"].as_array().expect("points");
    assert_eq!(points.len(), 2);
    assert!((points[0]["value"].as_f64().expect("number") - 105.75).abs() < 1e-9);
    assert_eq!(points[0]["close"], "104");
    app.get("/v1/prices/NOPE/ma")
        .await
        .expect_error(StatusCode::NOT_FOUND, "unknown_symbol");
}
