//! The chart and docs pages in a real headless Chromium, driven through chromedriver: the page
//! loads with no console error, the candles and the markers of the events the API returns are
//! drawn, the picker switches symbol, `/docs` renders the OpenAPI document. Screenshots and the
//! page's paint timings go to `TICKWATCH_TEST_ARTIFACTS` (the test run's directory; `make test`
//! keeps them under the target directory).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The flags the project runs Chromium with: no GPU, no network of its own, a fresh profile.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,800",
];

fn program(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

fn artifacts() -> PathBuf {
    let dir = std::env::var_os("TICKWATCH_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tickwatch-test-artifacts"));
    std::fs::create_dir_all(&dir).expect("artifact directory");
    dir
}

/// A chromedriver on a free loopback port and a session in a fresh Chromium profile. Both go
/// away when this is dropped (the driver is killed; the profile is a temporary directory).
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Self {
        let chromium = program("CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("CHROMEDRIVER", "/usr/bin/chromedriver");
        assert!(
            chromium.exists() && chromedriver.exists(),
            "the browser tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = tokio::process::Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile directory");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "goog:chromeOptions": { "binary": chromium, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let capabilities = capabilities.as_object().expect("an object").clone();
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = None;
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Self {
                        client,
                        _driver: driver,
                        _profile: profile,
                    };
                }
                Err(error) => {
                    last_error = Some(error);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("chromedriver did not start a session: {last_error:?}");
    }

    /// Waits until `script` (an expression) is truthy, for at most 20 s.
    async fn wait_until(&self, what: &str, script: &str) {
        let body = format!("return Boolean({script});");
        for _ in 0..200 {
            if self.client.execute(&body, vec![]).await.expect("script") == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let status = self
            .client
            .execute(
                "return document.getElementById('status') && document.getElementById('status').textContent;",
                vec![],
            )
            .await;
        panic!("timed out waiting for {what}; status: {status:?}");
    }

    async fn eval(&self, expression: &str) -> Value {
        self.client
            .execute(&format!("return {expression};"), vec![])
            .await
            .expect("script")
    }

    /// Every console message since the last call (chromedriver's log endpoint).
    async fn console(&self) -> Vec<Value> {
        let reply = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("browser log");
        reply.as_array().cloned().unwrap_or_default()
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = artifacts().join(name);
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }
}

/// chromedriver's `POST /session/{id}/se/log` for the `browser` log.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

fn errors(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["level"] == "SEVERE" || m["level"] == "WARNING")
        .map(|m| m["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The router on a real socket, as `make run` serves it.
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

/// Every item of a paged list endpoint, through the API itself.
async fn all_pages(http: &reqwest::Client, url: &str, key: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_url = match &cursor {
            Some(c) => format!("{url}&cursor={c}"),
            None => url.to_owned(),
        };
        let page: Value = http
            .get(&page_url)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON");
        items.extend(page[key].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

fn ids_of_events_peaking_within(events: &[Value], candles: &[Value]) -> BTreeSet<String> {
    let times: BTreeSet<DateTime<Utc>> = candles
        .iter()
        .filter_map(|c| c["open_time"].as_str()?.parse().ok())
        .collect();
    events
        .iter()
        .filter(|e| {
            e["peak_time"]
                .as_str()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                .is_some_and(|t| times.contains(&t))
        })
        .map(|e| e["id"].to_string())
        .collect()
}

/// Hours of seeded history: the detector needs about 200 candles before it judges any.
const HOURS: usize = 24 * 50;

/// What the chart drew, from its data attributes and the colours on its canvases.
async fn drawn(browser: &Browser) -> Value {
    browser
        .eval(
            "(() => {
                const chart = document.getElementById('chart');
                let candlePixels = 0;
                for (const canvas of chart.querySelectorAll('canvas')) {
                    const ctx = canvas.getContext('2d');
                    if (!ctx || canvas.width === 0 || canvas.height === 0) continue;
                    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
                    for (let i = 0; i < data.length; i += 4) {
                        const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
                        if ((r === 0x1a && g === 0x7f && b === 0x37) || (r === 0xcf && g === 0x22 && b === 0x2e)) candlePixels++;
                    }
                }
                return {
                    symbol: chart.dataset.symbol, series: chart.dataset.series,
                    candles: Number(chart.dataset.candles), markers: Number(chart.dataset.markers),
                    markerIds: chart.dataset.markerIds ? chart.dataset.markerIds.split(',') : [],
                    scores: Number(chart.dataset.scores), candlePixels, path: location.pathname,
                };
            })()",
        )
        .await
}

#[tokio::test]
async fn the_chart_draws_the_candles_and_events_the_api_returns_and_the_picker_switches_symbol() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    app.detected_series("BTC", HOURS, 3, now).await;
    app.detected_series("ETH", HOURS, 5, now).await;
    let base = serve(&app).await;
    let http = tickwatch::net::http_client_builder()
        .build()
        .expect("client");
    let browser = Browser::start().await;

    browser
        .client
        .goto(&format!("{base}/chart/BTC"))
        .await
        .expect("open the chart");
    browser
        .wait_until("the chart", "document.body.dataset.state === 'ready'")
        .await;
    let btc = drawn(&browser).await;
    let candles = all_pages(
        &http,
        &format!("{base}/v1/prices/BTC/history?days=7&limit=1000"),
        "candles",
    )
    .await;
    let events = all_pages(
        &http,
        &format!("{base}/v1/anomalies?symbol=BTC&days=8&limit=1000"),
        "anomalies",
    )
    .await;
    let expected_markers = ids_of_events_peaking_within(&events, &candles);
    assert!(
        candles.len() >= 24 * 7 - 1,
        "a week of candles: {}",
        candles.len()
    );
    assert!(
        !expected_markers.is_empty(),
        "the seeded week holds at least one event: {events:?}"
    );
    assert_eq!(btc["symbol"], "BTC");
    assert_eq!(btc["series"], "candlestick");
    assert_eq!(btc["candles"], candles.len());
    let drawn_markers: BTreeSet<String> = btc["markerIds"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(drawn_markers, expected_markers);
    assert!(
        btc["scores"].as_u64().unwrap_or(0) > 0,
        "a score band: {btc}"
    );
    assert!(
        btc["candlePixels"].as_u64().unwrap_or(0) > 500,
        "candles in their colours on the canvas: {btc}"
    );
    let timings = browser
        .eval(
            "Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, Math.round(e.startTime)]))",
        )
        .await;
    std::fs::write(artifacts().join("chart-timings.json"), timings.to_string())
        .expect("write timings");
    browser.screenshot("chart-btc.png").await;
    let console = browser.console().await;
    assert_eq!(
        errors(&console),
        Vec::<String>::new(),
        "console: {console:?}"
    );

    // The picker switches symbol, and the address follows.
    browser
        .client
        .find(Locator::Css("#symbol"))
        .await
        .expect("picker")
        .select_by_value("ETH")
        .await
        .expect("pick ETH");
    browser
        .wait_until(
            "ETH",
            "document.body.dataset.state === 'ready' && document.getElementById('chart').dataset.symbol === 'ETH'",
        )
        .await;
    let eth = drawn(&browser).await;
    assert_eq!(eth["path"], "/chart/ETH");
    let eth_candles = all_pages(
        &http,
        &format!("{base}/v1/prices/ETH/history?days=7&limit=1000"),
        "candles",
    )
    .await;
    assert_eq!(eth["candles"], eth_candles.len());
    assert!(eth["candlePixels"].as_u64().unwrap_or(0) > 500, "{eth}");

    // The range picker asks for a month.
    browser
        .client
        .find(Locator::Css("button[data-range='30d']"))
        .await
        .expect("range button")
        .click()
        .await
        .expect("click");
    browser
        .wait_until(
            "a month",
            "document.body.dataset.state === 'ready' && location.search === '?range=30d'",
        )
        .await;
    let month = drawn(&browser).await;
    let month_candles = all_pages(
        &http,
        &format!("{base}/v1/prices/ETH/history?days=30&limit=1000"),
        "candles",
    )
    .await;
    assert!(month_candles.len() > 24 * 29, "a month of candles");
    assert_eq!(month["candles"], month_candles.len(), "{month}");
    browser.screenshot("chart-eth-30d.png").await;
    let console = browser.console().await;
    assert_eq!(
        errors(&console),
        Vec::<String>::new(),
        "console: {console:?}"
    );
    browser.client.close().await.expect("close");
}

#[tokio::test]
async fn an_unknown_symbol_shows_the_api_reason_on_the_page() {
    let app = TestApp::spawn().await;
    app.watch("BTC").await;
    let base = serve(&app).await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{base}/chart/NOPE"))
        .await
        .expect("open");
    browser
        .wait_until("the error", "document.body.dataset.state === 'error'")
        .await;
    let status = browser
        .eval("document.getElementById('status').textContent")
        .await;
    assert!(
        status.as_str().unwrap_or_default().contains("NOPE"),
        "{status}"
    );
    browser.client.close().await.expect("close");
}

#[tokio::test]
async fn the_docs_page_renders_every_path_of_the_openapi_document() {
    let app = TestApp::spawn().await;
    let base = serve(&app).await;
    let document: Value = tickwatch::net::http_client_builder()
        .build()
        .expect("client")
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let paths: Vec<String> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{base}/docs"))
        .await
        .expect("open the docs");
    browser
        .wait_until(
            "the reference",
            "document.readyState === 'complete' && document.body.innerText.includes('/v1/prices/{symbol}/history')",
        )
        .await;
    let text = browser.eval("document.body.innerText").await;
    let text = text.as_str().unwrap_or_default();
    for path in &paths {
        assert!(text.contains(path.as_str()), "{path} is rendered");
    }
    // The stylesheet applied: the method badges are coloured boxes, not plain text.
    let badge = browser
        .eval("getComputedStyle(document.querySelector('.method.get')).backgroundColor")
        .await;
    assert_eq!(badge.as_str(), Some("rgb(9, 105, 218)"), "{badge:?}");
    browser.screenshot("docs.png").await;
    let console = browser.console().await;
    assert_eq!(
        errors(&console),
        Vec::<String>::new(),
        "console: {console:?}"
    );
    browser.client.close().await.expect("close");
}
