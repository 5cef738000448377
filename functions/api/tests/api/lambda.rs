//! Behind API Gateway: the event fixture in `events/` goes through lambda_http's own
//! conversion, exactly as on Lambda, so the request context is where the runtime puts it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use tower::ServiceExt;

use crate::helpers::TestApp;

const EVENT: &str = include_str!("../../events/apigw-v2-latest.json");

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_gateway_request_id_is_the_response_header_and_in_every_log_line() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    app.seed_candles("BTC", 2).await;

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let request = lambda_http::request::from_str(EVENT)
        .expect("the fixture is an API Gateway v2 event")
        .map(axum::body::Body::new);
    let response = app.router.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["x-request-id"].to_str().ok(),
        Some("Qx3vYhb1joEEJ2w=")
    );

    let logs = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("UTF-8");
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON log line"))
        .collect();
    let served = lines
        .iter()
        .find(|l| l["fields"]["message"] == "served")
        .unwrap_or_else(|| panic!("a 'served' line in {logs}"));
    assert_eq!(served["span"]["request_id"], "Qx3vYhb1joEEJ2w=");
    assert_eq!(served["fields"]["status"], 200);
    for line in &lines {
        assert_eq!(line["span"]["request_id"], "Qx3vYhb1joEEJ2w=", "{line}");
    }
}

#[tokio::test]
async fn a_refused_request_logs_its_reason_under_the_request_id() {
    let app = TestApp::spawn().await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let reply = app.get("/v1/prices/NOPE/latest").await;
    let id = reply.headers["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let logs = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("UTF-8");
    let refused = logs
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .find(|l| l["fields"]["message"] == "request refused")
        .unwrap_or_else(|| panic!("a refusal line in {logs}"));
    assert_eq!(refused["span"]["request_id"], id.as_str());
    assert_eq!(refused["fields"]["code"], "unknown_symbol");
}
