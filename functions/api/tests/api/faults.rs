//! The API against a PostgreSQL that is frozen (SIGSTOP), stopped, or has its connections
//! killed, each on a cluster of the test's own: every request ends within its deadline with
//! 503 and the envelope, never a hang, a 500 or an internal detail, and the API answers again
//! as soon as the database does.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rust_decimal::Decimal;
use tickwatch::db::candles::{self, UpsertMode};
use tickwatch::db::{COOL_DOWN, symbols};
use tickwatch_tests::Cluster;
use tower::ServiceExt;

use crate::helpers::{candle, hour};

/// A statement may run 500 ms; a silent server is given up after 1.5 s.
const PATIENCE: Duration = Duration::from_millis(1500);

struct FaultApp {
    cluster: Cluster,
    router: api::App,
}

impl FaultApp {
    async fn start(statement_timeout_ms: &str, budget: Duration) -> Self {
        let cluster = Cluster::start().await;
        let db = tickwatch_tests::connect(
            &cluster.url,
            &[
                ("DB_STATEMENT_TIMEOUT_MS", statement_timeout_ms),
                ("DB_CONNECT_TIMEOUT_MS", "1000"),
                ("DB_POOL_WAIT_MS", "1000"),
                ("DB_POOL_SIZE", "2"),
            ],
        )
        .await;
        db.migrate().await.expect("migrations apply");
        let client = db.client().await.expect("a session");
        symbols::upsert(&client, &tickwatch_tests::watched("BTC"))
            .await
            .expect("watch");
        let rows: Vec<_> = (0..3)
            .map(|h| candle("BTC", hour(h), Decimal::from(100 + h)))
            .collect();
        candles::upsert(&client, &rows, UpsertMode::Replace)
            .await
            .expect("seed");
        drop(client);
        let router = api::app(api::AppState::new(db.clone(), None).with_request_timeout(budget));
        let app = Self { cluster, router };
        // The first request of a process checks the migrations.
        assert_eq!(app.get("/health").await.0, StatusCode::OK);
        app
    }

    /// Status, body, and how long the answer took.
    async fn get(&self, uri: &str) -> (StatusCode, serde_json::Value, Duration) {
        let started = Instant::now();
        let response = self
            .router
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("the router never fails");
        let status = response.status();
        assert!(response.headers().contains_key("x-request-id"));
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, body, started.elapsed())
    }

    /// Asserts a 503 with `code`, and that the body names nothing internal.
    async fn unavailable(&self, uri: &str, code: &str) -> Duration {
        let (status, body, took) = self.get(uri).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
        assert_eq!(body["error"]["code"], code, "{uri}: {body}");
        let text = body.to_string();
        for internal in ["127.0.0.1", "postgres", "SELECT", "connection"] {
            assert!(!text.contains(internal), "{uri}: {text}");
        }
        took
    }

    async fn answers_again(&self) {
        tokio::time::sleep(COOL_DOWN).await;
        for uri in ["/health", "/v1/prices/BTC/latest"] {
            let (status, body, _) = self.get(uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        }
    }
}

#[tokio::test]
async fn with_the_database_frozen_requests_get_503_within_the_deadline_then_at_once() {
    let app = FaultApp::start("500", Duration::from_secs(8)).await;
    app.cluster.freeze().await;
    let took = app.unavailable("/health", "database_unavailable").await;
    assert!(
        took >= PATIENCE && took < PATIENCE + Duration::from_secs(1),
        "{took:?}"
    );
    for uri in ["/v1/prices/BTC/latest", "/v1/symbols", "/health"] {
        let took = app.unavailable(uri, "database_unavailable").await;
        assert!(took < Duration::from_millis(100), "{uri}: {took:?}");
    }
    app.cluster.thaw().await;
    app.answers_again().await;
}

#[tokio::test]
async fn with_the_database_stopped_requests_get_503_in_milliseconds() {
    let app = FaultApp::start("500", Duration::from_secs(8)).await;
    app.cluster.stop().await;
    for uri in ["/health", "/v1/prices/BTC/latest", "/v1/prices/BTC/history"] {
        let took = app.unavailable(uri, "database_unavailable").await;
        assert!(took < Duration::from_millis(500), "{uri}: {took:?}");
    }
    app.cluster.start_again().await;
    app.answers_again().await;
}

#[tokio::test]
async fn killed_connections_are_never_a_500_and_cost_at_most_one_503() {
    let app = FaultApp::start("500", Duration::from_secs(8)).await;
    for round in 0..3 {
        assert!(app.cluster.kill_connections().await >= 1, "round {round}");
        let mut refused = 0;
        for _ in 0..4 {
            let (status, body, _) = app.get("/v1/prices/BTC/latest").await;
            match status {
                StatusCode::OK => {}
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert_eq!(body["error"]["code"], "database_unavailable");
                    refused += 1;
                }
                other => panic!("round {round}: {other} {body}"),
            }
        }
        assert!(refused <= 2, "round {round}: {refused} refused");
        assert_eq!(app.get("/v1/prices/BTC/latest").await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_request_past_its_budget_gets_503_timeout_before_the_database_deadline() {
    // The database would be given up only after 6 s; the request's budget is 400 ms.
    let app = FaultApp::start("5000", Duration::from_millis(400)).await;
    app.cluster.freeze().await;
    let took = app.unavailable("/v1/prices/BTC/latest", "timeout").await;
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(900),
        "{took:?}"
    );
    app.cluster.thaw().await;
}
