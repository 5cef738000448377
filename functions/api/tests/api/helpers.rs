//! `TestApp`: a migrated database of its own, the router over it, and helpers to seed rows
//! through the library's own queries and to send requests.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use http_body_util::BodyExt;
use rust_decimal::Decimal;
use secrecy::SecretString;
use tickwatch::config::Env;
use tickwatch::db::anomalies;
use tickwatch::db::candles::{self, UpsertMode};
use tickwatch::detect::events::Event;
use tickwatch::detect::run::{self as detector, Detection};
use tickwatch::model::{
    AnomalyKind, Candle, CandleInput, Interval, Method as DetectMethod, Provider, Severity, Symbol,
};
use tickwatch::providers::synthetic::{SyntheticParams, generate};
pub use tickwatch_tests::sym;
use tickwatch_tests::{TestDb, watched};
use tower::ServiceExt;

pub const KEY: &str = "test-key-0123456789abcdef";

pub struct TestApp {
    pub db: TestDb,
    pub router: api::App,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    /// Asserts the status and the error envelope's code; returns the message.
    pub fn expect_error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "body: {body}");
        let message = body["error"]["message"]
            .as_str()
            .expect("a message")
            .to_owned();
        assert!(!message.is_empty());
        assert_eq!(
            body.as_object().map(|o| o.len()),
            Some(1),
            "only the envelope: {body}"
        );
        message
    }
}

/// 2026-01-01T00:00Z plus `hours`.
pub fn hour(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid time")
        + TimeDelta::hours(hours)
}

pub fn candle(symbol: &str, at: DateTime<Utc>, close: Decimal) -> Candle {
    Candle::validate(
        CandleInput {
            symbol: sym(symbol),
            interval: Interval::OneHour,
            open_time: at,
            open: close,
            high: close + Decimal::ONE,
            low: close - Decimal::new(5, 1),
            close,
            volume: Some(Decimal::new(125, 1)),
            source: Provider::Synthetic,
        },
        Utc::now(),
    )
    .expect("valid candle")
}

/// A one-candle event of `symbol` at `at` that `methods` contributed to, with the severity
/// its score has.
pub fn anomaly(
    symbol: &str,
    at: DateTime<Utc>,
    methods: &[DetectMethod],
    score: f64,
) -> (Symbol, Event) {
    let event = Event {
        start: at,
        end: at,
        peak_time: at,
        peak_score: score,
        severity: tickwatch::detect::recurrence::severity(score).unwrap_or(Severity::Low),
        candles: 1,
        kind: AnomalyKind::Spike,
        methods: methods.to_vec(),
        details: serde_json::json!({"peak": {"p": 1e-6}}),
    };
    (sym(symbol), event)
}

impl TestApp {
    /// A fresh migrated database and the router over it, with writes keyed by [`KEY`].
    pub async fn spawn() -> Self {
        let db = TestDb::migrated().await;
        let key = api::ApiKey::new(&SecretString::from(KEY), "API_KEY").expect("valid key");
        let router = api::app(api::AppState::new(db.db.clone(), Some(key)));
        Self { db, router }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).expect("request"))
            .await
    }

    /// A write with the right key and a JSON body (or none).
    pub async fn write(&self, method: Method, uri: &str, body: Option<serde_json::Value>) -> Reply {
        self.write_with(method, uri, Some(&format!("Bearer {KEY}")), body)
            .await
    }

    pub async fn write_with(
        &self,
        method: Method,
        uri: &str,
        authorization: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(value) = authorization {
            builder = builder.header("authorization", value);
        }
        let request = match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        }
        .expect("request");
        self.send(request).await
    }

    /// Twenty requests at once, the `i`th with `body(i)`, each on its own task (run the test
    /// on a multi-threaded runtime); their statuses in order.
    pub async fn race(
        &self,
        method: Method,
        uri: &str,
        body: impl Fn(usize) -> serde_json::Value,
    ) -> Vec<StatusCode> {
        let racers: Vec<_> = (0..20)
            .map(|i| {
                let request = Request::builder()
                    .method(method.clone())
                    .uri(uri)
                    .header("authorization", format!("Bearer {KEY}"))
                    .header("content-type", "application/json")
                    .body(Body::from(body(i).to_string()))
                    .expect("request");
                tokio::spawn(self.router.clone().oneshot(request))
            })
            .collect();
        let mut statuses = Vec::new();
        for racer in racers {
            let response = racer.await.expect("the racer finished");
            statuses.push(response.expect("the router never fails").status());
        }
        statuses
    }

    /// A watched hourly series of `hours` synthetic candles ending now, with injected anomalies,
    /// scored by the real detector (with windows small enough for a short series).
    pub async fn detected_series(&self, symbol: &str, hours: usize, seed: u64, now: DateTime<Utc>) {
        self.db.watch(&watched(symbol)).await;
        let client = self.db.raw().await;
        let start = Interval::OneHour.bucket_start(now) - TimeDelta::hours(hours as i64);
        let series = generate(
            &sym(symbol),
            Interval::OneHour,
            start,
            hours,
            &SyntheticParams {
                seed,
                start_price: 100.0 * seed as f64,
                anomaly_every: Some(50),
                anomaly_size: 14.0,
                warm_up: 100,
                ..SyntheticParams::default()
            },
        );
        candles::upsert(&client, &series.candles, UpsertMode::Replace)
            .await
            .expect("candles");
        self.run_detector(now).await;
    }

    /// One scheduled detector run, with windows small enough for a few weeks of hourly
    /// candles (the same settings as the detector's own tests).
    pub async fn run_detector(&self, now: DateTime<Utc>) {
        let mut detection = Detection::from_env(&Env::default()).expect("default settings");
        detection.config = tickwatch_tests::compact_detector_config();
        detector::run(&self.db.db, &detection, &detector::Request::Scheduled, now)
            .await
            .expect("detector run");
    }

    pub async fn watch(&self, symbol: &str) {
        self.db.watch(&watched(symbol)).await;
    }

    /// Hourly candles at hours `0..count` with closes 100, 101, …
    pub async fn seed_candles(&self, symbol: &str, count: i64) -> Vec<Candle> {
        let rows: Vec<_> = (0..count)
            .map(|h| candle(symbol, hour(h), Decimal::from(100 + h)))
            .collect();
        let client = self.db.raw().await;
        candles::upsert(&client, &rows, UpsertMode::Replace)
            .await
            .expect("seed candles");
        rows
    }

    pub async fn seed_anomalies(&self, rows: &[(Symbol, Event)]) {
        let client = self.db.raw().await;
        for (symbol, event) in rows {
            anomalies::insert(&client, symbol, Interval::OneHour, event)
                .await
                .expect("seed anomalies");
        }
    }
}
