//! The embedded pages over HTTP: gzip for clients that take it, plain bytes for those that do
//! not, revalidation by ETag, the error envelope for bad paths, the chart page's weight, and
//! the docs page as the document it is rendered from.

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
    assert!(licences.contains("lightweight-charts-5.2.1") && licences.contains("Apache License"));
    assert!(
        !licences.contains("rapidoc"),
        "only the libraries the pages load are listed"
    );
}

/// The docs page is rendered from the same document `/openapi.json` serves: every operation
/// in it has its heading, and the page is static HTML behind the pages' content policy.
#[tokio::test]
async fn the_docs_page_shows_every_operation_of_the_served_document_without_a_script() {
    let app = TestApp::spawn().await;
    let document = get_with(&app, "/openapi.json", &[]).await.json();
    let reply = get_with(&app, "/docs", &[("accept-encoding", "gzip")]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "text/html; charset=utf-8");
    assert!(reply.headers.contains_key("content-security-policy"));
    assert!(
        reply.body.len() < 20 * 1024,
        "{} bytes gzipped",
        reply.body.len()
    );
    let page = String::from_utf8(gunzip(&reply.body)).expect("UTF-8");
    assert!(!page.contains("<script"), "no script on the docs page");
    assert!(page.contains("href=\"/openapi.json\""));
    assert!(page.contains("href=\"/assets/docs.css\""));
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            let heading = format!(
                "{}</span> <code>{}</code></a></h3>",
                method.to_uppercase(),
                path
            );
            assert!(page.contains(&heading), "{method} {path} has a heading");
            operations += 1;
        }
    }
    assert!(operations >= 15, "{operations} operations");
    let style = get_with(&app, "/assets/docs.css", &[]).await;
    assert_eq!(style.status, StatusCode::OK);
    assert_eq!(style.headers["content-type"], "text/css; charset=utf-8");
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
