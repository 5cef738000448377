//! The tickwatch HTTP API: an axum [`Router`] that runs inside `lambda_http` behind API
//! Gateway, under `axum::serve` locally, and in-process in tests.
//!
//! Handlers receive every input already parsed into domain types ([`params`]), then run one
//! query from `tickwatch::db`, so bad input is refused with a 4xx before it can reach the
//! database.
//! All errors leave through [`error::ApiError`], which maps them to the one envelope.

pub mod auth;
mod csv;
pub mod deadline;
#[cfg(test)]
mod docs_page;
mod encode;
pub mod error;
mod extract;
pub mod function;
pub mod limits;
pub mod openapi;
pub mod params;
pub mod request_id;
pub mod routes;
pub mod server;
pub mod settings;
mod state;

use std::convert::Infallible;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

pub use auth::{ApiKey, load_api_key};
pub use server::{ServerLimits, serve};
pub use settings::ApiSettings;
pub use state::AppState;

/// The largest request body accepted: a full batch of corrections fits easily.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// The whole API as one service: what [`app`] builds, and what the Lambda runtime, the local
/// server and the tests call.
pub type App = BoxCloneSyncService<Request, Response, Infallible>;

/// Every route of the API, with the error envelope for unknown routes and methods, and the
/// layers every request passes, outermost first: its id and log line, the limits on its line
/// and headers, its time budget, the body limit.
pub fn app(state: AppState) -> App {
    use routes::{anomalies, collect, corrections, health, import, prices, scores, symbols, web};
    let routes = Router::new()
        .route("/", get(web::chart))
        .route("/chart/{symbol}", get(web::chart_symbol))
        .route("/docs", get(web::docs))
        .route("/assets/{name}", get(web::assets))
        .route("/health", get(health::health))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::serve))
        .route("/v1/symbols", get(symbols::list))
        .route(
            "/v1/symbols/{symbol}",
            put(symbols::put).delete(symbols::delete),
        )
        .route("/v1/prices/{symbol}/latest", get(prices::latest))
        .route("/v1/prices/{symbol}/history", get(prices::history))
        .route("/v1/prices/{symbol}/ma", get(prices::moving_average))
        .route(
            "/v1/prices/{symbol}/candles",
            post(corrections::post_candles),
        )
        .route("/v1/prices/{symbol}/import", post(import::import))
        .route(
            "/v1/prices/{symbol}/candles/{open_time}",
            put(corrections::put_candle).delete(corrections::delete_candle),
        )
        .route("/v1/collect/{symbol}", post(collect::collect))
        .route("/v1/prices/{symbol}/scores", get(scores::scores))
        .route("/v1/anomalies", get(anomalies::list))
        .route("/v1/anomalies/stats", get(anomalies::stats))
        .route("/v1/anomalies/{symbol}/latest", get(anomalies::latest))
        .fallback(routes::not_found)
        .with_state(state.clone());
    // The layers wrap the router once, not each route: `Router::layer` clones and boxes every
    // layer into each of the 25 routes, about a sixth of the api's cold start (callgrind).
    // Boxed as a service, not nested in an outer `Router`, which would route every request a
    // second time only to reach its fallback.
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn_with_state(state, edge))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .service(routes),
    )
}

/// What every request passes before its route, in order: its id and log line
/// ([`request_id`]), the limits on its line and headers ([`limits`]), its time budget
/// ([`deadline`]); and on its way out, the envelope for axum's own 405
/// ([`routes::method_not_allowed`]). One middleware, not three: each `from_fn` layer costs
/// every request a clone of the service below it and two boxed futures.
async fn edge(State(state): State<AppState>, request: Request, next: Next) -> Response {
    request_id::traced(request, async |request| {
        if let Err(refused) = limits::check(&request) {
            return refused.into_response();
        }
        let response = deadline::within_budget(&state, request, next).await;
        routes::method_not_allowed(response)
    })
    .await
}
