//! `POST /v1/prices/{symbol}/import`: per-row reports, the error envelope for a bad file, the
//! rescan the trigger queues, and the round trip export → import into a new symbol →
//! identical candles and scores.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, Utc};

use crate::helpers::{KEY, Reply, TestApp};

const HEADER: &str = "symbol,interval,open_time,open,high,low,close,volume,source\n";

async fn import(app: &TestApp, symbol: &str, content_type: &str, body: String) -> Reply {
    app.send(
        Request::post(format!("/v1/prices/{symbol}/import"))
            .header("authorization", format!("Bearer {KEY}"))
            .header("content-type", content_type)
            .body(Body::from(body))
            .expect("request"),
    )
    .await
}

/// Every candle of a symbol as CSV, through the export itself (paged by `x-next-cursor`).
async fn export(app: &TestApp, symbol: &str) -> String {
    let mut csv = String::new();
    let mut cursor: Option<String> = None;
    loop {
        let uri = format!(
            "/v1/prices/{symbol}/history?days=36500&limit=1000&format=csv{}",
            cursor
                .as_ref()
                .map(|c| format!("&cursor={c}"))
                .unwrap_or_default()
        );
        let page = app.get(&uri).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let text = page.text();
        let body = text.split_once("\r\n").map(|(_, rest)| rest).unwrap_or("");
        if csv.is_empty() {
            csv.push_str(text.lines().next().unwrap_or_default());
            csv.push('\n');
        }
        csv.push_str(body);
        match page.headers.get("x-next-cursor") {
            Some(next) => cursor = Some(next.to_str().expect("ascii").to_owned()),
            None => return csv,
        }
    }
}

/// A series' candles (without the symbol) and scores, exactly as stored.
async fn stored(app: &TestApp, symbol: &str) -> (Vec<String>, Vec<String>) {
    let client = app.db.raw().await;
    let candles = client
        .query(
            "SELECT interval, open_time, open::text, high::text, low::text, close::text,
                    volume::text, source FROM candles WHERE symbol = $1 ORDER BY open_time",
            &[&symbol],
        )
        .await
        .expect("candles")
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} {} {:?} {}",
                r.get::<_, String>(0),
                r.get::<_, DateTime<Utc>>(1),
                r.get::<_, String>(2),
                r.get::<_, String>(3),
                r.get::<_, String>(4),
                r.get::<_, String>(5),
                r.get::<_, Option<String>>(6),
                r.get::<_, String>(7)
            )
        })
        .collect();
    let scores = client
        .query(
            "SELECT open_time, p, score, severity, readings::text FROM candle_scores
             WHERE symbol = $1 ORDER BY open_time",
            &[&symbol],
        )
        .await
        .expect("scores")
        .iter()
        .map(|r| {
            let bits = |i: usize| r.get::<_, Option<f64>>(i).map(f64::to_bits);
            format!(
                "{} {:?} {:?} {:?} {}",
                r.get::<_, DateTime<Utc>>(0),
                bits(1),
                bits(2),
                r.get::<_, Option<String>>(3),
                r.get::<_, String>(4)
            )
        })
        .collect();
    (candles, scores)
}

#[tokio::test]
async fn export_then_import_into_a_new_symbol_gives_identical_candles_and_scores() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    app.detected_series("BTC", 24 * 50, 3, now).await;
    let csv = export(&app, "BTC").await;
    assert_eq!(csv.lines().count(), 24 * 50 + 1, "header and every candle");
    app.watch("COPY").await;

    let reply = import(&app, "COPY", "text/csv; charset=utf-8", csv).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let report = reply.json();
    assert_eq!(report["rows"], 24 * 50);
    assert_eq!(report["written"], 24 * 50);
    assert_eq!(report["rejected_count"], 0);
    app.run_detector(now).await;

    let (btc_candles, btc_scores) = stored(&app, "BTC").await;
    let (copy_candles, copy_scores) = stored(&app, "COPY").await;
    assert_eq!(copy_candles, btc_candles);
    assert!(btc_scores.len() > 24 * 40, "the series is scored");
    assert_eq!(copy_scores, btc_scores);
    let events = |symbol: &str| {
        let app = &app;
        let symbol = symbol.to_owned();
        async move {
            let page = app
                .get(&format!(
                    "/v1/anomalies?symbol={symbol}&days=36500&limit=1000"
                ))
                .await
                .json();
            page["anomalies"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| {
                    (
                        e["start_time"].clone(),
                        e["peak_time"].clone(),
                        e["score"].clone(),
                        e["severity"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let btc_events = events("BTC").await;
    assert!(!btc_events.is_empty());
    assert_eq!(events("COPY").await, btc_events);
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_the_good_ones_are_stored() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let body = format!(
        "{HEADER}\
         BTC,1h,2026-01-01T00:00:00Z,10,11,9,10,1,synthetic\n\
         BTC,1h,2026-01-01T01:00:00Z,10,9,11,10,1,synthetic\n\
         BTC,1h,not-a-time,10,11,9,10,1,synthetic\n\
         BTC,1h,2026-01-01T03:00:00Z,10,11,9,10,1,synthetic\n"
    );
    let reply = import(&app, "BTC", "text/csv", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let report = reply.json();
    assert_eq!(report["rows"], 4);
    assert_eq!(report["written"], 2);
    assert_eq!(report["rejected_count"], 2);
    assert_eq!(report["rejected"][0]["line"], 3);
    assert_eq!(report["rejected"][0]["reason"], "high_below_low");
    assert_eq!(report["rejected"][1]["line"], 4);
    assert_eq!(report["rejected"][1]["reason"], "invalid_time");
    assert_eq!(report["first_open_time"], "2026-01-01T00:00:00Z");
    let page = app.get("/v1/prices/BTC/history?days=36500").await.json();
    assert_eq!(page["candles"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_bad_file_gets_the_error_envelope_and_stores_nothing() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let good_row = "BTC,1h,2026-01-01T00:00:00Z,10,11,9,10,1,synthetic\n";
    import(&app, "BTC", "text/csv", format!("open,close\n{good_row}"))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_header");
    import(&app, "BTC", "text/csv", String::new())
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_header");
    import(
        &app,
        "BTC",
        "application/json",
        format!("{HEADER}{good_row}"),
    )
    .await
    .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    import(&app, "NOPE", "text/csv", format!("{HEADER}{good_row}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "unknown_symbol");
    import(&app, "b@d", "text/csv", format!("{HEADER}{good_row}"))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_symbol");
    let refused = import(
        &app,
        "BTC",
        "text/csv",
        format!("{HEADER}BTC,1h,2026-01-01T00:00:00Z,10,9,11,10,1,synthetic\n"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = refused.json();
    assert_eq!(body["error"]["code"], "invalid_rows");
    assert_eq!(body["error"]["details"][0]["line"], 2);
    // Invalid UTF-8 in one row refuses that row only.
    let mut bytes = format!("{HEADER}{good_row}").into_bytes();
    bytes.extend(b"BTC,1h,2026-01-01T01:00:00Z,\xff\xfe,11,9,10,1,synthetic\n");
    let reply = app
        .send(
            Request::post("/v1/prices/BTC/import")
                .header("authorization", format!("Bearer {KEY}"))
                .header("content-type", "text/csv")
                .body(Body::from(bytes))
                .expect("request"),
        )
        .await;
    let report = reply.json();
    assert_eq!(report["written"], 1, "{report}");
    assert_eq!(report["rejected"][0]["line"], 3);
    assert_eq!(report["rejected"][0]["reason"], "malformed");
    let stored = app.get("/v1/prices/BTC/history?days=36500").await.json();
    assert_eq!(stored["candles"].as_array().map(Vec::len), Some(1));
    app.write(
        Method::DELETE,
        "/v1/prices/BTC/candles/2026-01-01T00:00:00Z",
        None,
    )
    .await;
    let too_big = format!(
        "{HEADER}{}",
        good_row.repeat(6 * 1024 * 1024 / good_row.len())
    );
    import(&app, "BTC", "text/csv", too_big)
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    app.write_with(Method::POST, "/v1/prices/BTC/import", None, None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let page = app.get("/v1/prices/BTC/history?days=36500").await.json();
    assert_eq!(page["candles"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn importing_behind_the_watermark_queues_a_rescan_from_the_first_imported_candle() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    app.detected_series("BTC", 24 * 20, 3, now).await;
    let client = app.db.raw().await;
    let row = client
        .query_one(
            "SELECT open_time, open::text, high::text, low::text, close::text, volume::text
             FROM candles WHERE symbol = 'BTC' ORDER BY open_time OFFSET 300 LIMIT 1",
            &[],
        )
        .await
        .expect("a candle");
    let open_time: DateTime<Utc> = row.get(0);
    let before: Option<DateTime<Utc>> = client
        .query_one(
            "SELECT rescan_from FROM detector_state WHERE symbol = 'BTC'",
            &[],
        )
        .await
        .expect("state")
        .get(0);
    assert_eq!(before, None, "nothing to rescan after the run");
    let high: rust_decimal::Decimal = row.get::<_, String>(2).parse().expect("decimal");
    let body = format!(
        "{HEADER}BTC,1h,{},{},{},{},{},{},synthetic\n",
        open_time.to_rfc3339(),
        row.get::<_, String>(1),
        high * rust_decimal::Decimal::TWO,
        row.get::<_, String>(3),
        row.get::<_, String>(4),
        row.get::<_, String>(5)
    );
    let reply = import(&app, "BTC", "text/csv", body).await;
    assert_eq!(reply.json()["written"], 1);
    let queued: Option<DateTime<Utc>> = client
        .query_one(
            "SELECT rescan_from FROM detector_state WHERE symbol = 'BTC'",
            &[],
        )
        .await
        .expect("state")
        .get(0);
    assert_eq!(queued, Some(open_time));
    let score_before: String = client
        .query_one(
            "SELECT readings::text FROM candle_scores WHERE symbol = 'BTC' AND open_time = $1",
            &[&open_time],
        )
        .await
        .expect("score")
        .get(0);
    app.run_detector(now).await;
    let score_after: String = client
        .query_one(
            "SELECT readings::text FROM candle_scores WHERE symbol = 'BTC' AND open_time = $1",
            &[&open_time],
        )
        .await
        .expect("score")
        .get(0);
    assert_ne!(
        score_after, score_before,
        "the imported candle was rescored"
    );
}

#[tokio::test]
async fn a_file_over_the_general_body_limit_is_imported_up_to_the_import_limit() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().expect("time");
    let rows = 12_000;
    let mut body = HEADER.to_owned();
    for hour in 0..rows {
        let open_time = start + chrono::TimeDelta::hours(hour);
        body.push_str(&format!(
            "BTC,1h,{},100.5,101.25,99.75,100.125,12.5,synthetic\n",
            open_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    assert!(body.len() > api::MAX_BODY_BYTES, "{}", body.len());
    let reply = import(&app, "BTC", "text/csv", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["written"], rows);
    let client = app.db.raw().await;
    let stored: i64 = client
        .query_one("SELECT count(*) FROM candles WHERE symbol = 'BTC'", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, rows);
}
