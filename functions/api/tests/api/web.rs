//! The embedded pages over HTTP: gzip for clients that take it, plain bytes for those that do
//! not, revalidation by ETag, the error envelope for bad paths, and the chart page's weight.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::helpers::TestApp;

async fn get_with(app: &TestApp, uri: &str, headers: &[(&str, &str)]) -> crate::helpers::Reply {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request.body(Body::empty()).expect("request"))
        .await
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

#[tokio::test]
async fn pages_come_gzipped_to_browsers_and_plain_to_clients_without_gzip() {
    let app = TestApp::spawn().await;
    let gzipped = get_with(&app, "/", &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(gzipped.status, StatusCode::OK);
    assert_eq!(gzipped.headers["content-encoding"], "gzip");
    assert_eq!(gzipped.headers["content-type"], "text/html; charset=utf-8");
    assert!(
        gzipped.headers["content-security-policy"]
            .to_str()
            .expect("ascii")
            .contains("script-src 'self'")
    );
    let plain = get_with(&app, "/", &[]).await;
    assert!(!plain.headers.contains_key("content-encoding"));
    assert_eq!(gunzip(&gzipped.body), plain.body);
    assert!(plain.text().contains("/assets/chart.js"));
    let refused = get_with(&app, "/", &[("accept-encoding", "gzip;q=0")]).await;
    assert!(!refused.headers.contains_key("content-encoding"));
}

#[tokio::test]
async fn an_unchanged_asset_is_revalidated_and_vendored_libraries_are_cached_for_a_year() {
    let app = TestApp::spawn().await;
    let first = get_with(&app, "/assets/chart.js", &[]).await;
    assert_eq!(first.headers["cache-control"], "no-cache");
    let etag = first.headers["etag"].to_str().expect("ascii").to_owned();
    let again = get_with(&app, "/assets/chart.js", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    let library = get_with(&app, "/assets/lightweight-charts-5.2.1.js", &[]).await;
    assert_eq!(library.status, StatusCode::OK);
    assert!(
        library.headers["cache-control"]
            .to_str()
            .expect("ascii")
            .contains("immutable")
    );
    assert!(library.text().contains("Lightweight Charts"));
    let licences = get_with(&app, "/assets/licenses", &[]).await;
    let licences = licences.text();
    assert!(licences.contains("Apache License") && licences.contains("MIT License"));
}

#[tokio::test]
async fn bad_page_paths_get_the_error_envelope() {
    let app = TestApp::spawn().await;
    get_with(&app, "/chart/not%20a%20symbol!", &[])
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_symbol");
    get_with(&app, "/assets/chart.html", &[])
        .await
        .expect_error(StatusCode::NOT_FOUND, "unknown_asset");
    get_with(&app, "/assets/..%2Fsecret", &[])
        .await
        .expect_error(StatusCode::NOT_FOUND, "unknown_asset");
    let ok = get_with(&app, "/chart/BTC", &[]).await;
    assert_eq!(ok.status, StatusCode::OK);
}

/// Everything the chart page loads before it asks the API for data, as it goes over the wire.
#[tokio::test]
async fn the_chart_page_weighs_under_300_kb() {
    let app = TestApp::spawn().await;
    let mut total = 0;
    for uri in [
        "/",
        "/assets/chart.css",
        "/assets/chart.js",
        "/assets/lightweight-charts-5.2.1.js",
    ] {
        let reply = get_with(&app, uri, &[("accept-encoding", "gzip")]).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        total += reply.body.len();
    }
    assert!(total < 300 * 1024, "{total} bytes");
}
