//! The same router over a real TCP socket, served by the API's own server as it runs outside
//! Lambda.

use axum::http::StatusCode;

use crate::helpers::{KEY, TestApp};

async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("address");
    let router = app.router.clone();
    tokio::spawn(api::serve(
        listener,
        router,
        api::ServerLimits::default(),
        std::future::pending(),
    ));
    format!("http://{address}")
}

#[tokio::test]
async fn reads_and_writes_work_over_a_real_socket() {
    let app = TestApp::spawn().await;
    let base = serve(&app).await;
    let http = tickwatch::net::http_client_builder()
        .build()
        .expect("client");

    let put = http
        .put(format!("{base}/v1/symbols/ETH"))
        .bearer_auth(KEY)
        .json(&serde_json::json!({
            "asset_class": "crypto", "provider": "binance", "provider_id": "ETHUSDT", "interval": "1h"
        }))
        .send()
        .await
        .expect("PUT");
    assert_eq!(put.status().as_u16(), StatusCode::CREATED.as_u16());
    assert!(put.headers().contains_key("x-request-id"));
    app.seed_candles("ETH", 3).await;

    let latest: serde_json::Value = http
        .get(format!("{base}/v1/prices/ETH/latest"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(latest["close"], "102");

    let csv = http
        .get(format!("{base}/v1/prices/ETH/history?format=csv"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("text");
    assert_eq!(csv.lines().count(), 4, "{csv}");

    let unauthorized = http
        .delete(format!("{base}/v1/symbols/ETH"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(unauthorized.status().as_u16(), 401);
    let body: serde_json::Value = unauthorized.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "unauthorized");

    let too_big = http
        .put(format!("{base}/v1/symbols/ETH"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(vec![b' '; api::MAX_BODY_BYTES + 10])
        .send()
        .await
        .expect("PUT");
    assert_eq!(too_big.status().as_u16(), 413);
    let body: serde_json::Value = too_big.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "payload_too_large");
}
