//! The tickwatch HTTP API: axum handlers behind one route table ([`router`]), served as one
//! service ([`App`]) by `lambda_http` behind API Gateway, by its own server ([`server`])
//! locally, and in-process in tests.
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
mod router;
pub mod routes;
pub mod server;
pub mod settings;
mod state;

use std::convert::Infallible;

use axum::extract::{DefaultBodyLimit, Request};
use axum::response::{IntoResponse, Response};
use tower::Layer as _;
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

/// Every route of the API ([`router`]), behind what every request passes ([`edge`]) and the
/// body limit.
pub fn app(state: AppState) -> App {
    let service = tower::service_fn(move |request: Request| {
        let state = state.clone();
        async move { Ok(edge(state, request).await) }
    });
    BoxCloneSyncService::new(DefaultBodyLimit::max(MAX_BODY_BYTES).layer(service))
}

/// What every request passes, in order: its id and log line ([`request_id`]), the limits on
/// its line and headers ([`limits`]), its time budget ([`deadline`]), then its route.
async fn edge(state: AppState, request: Request) -> Response {
    request_id::traced(request, async |request| {
        if let Err(refused) = limits::check(&request) {
            return refused.into_response();
        }
        let budget = deadline::budget(&request, state.request_timeout());
        deadline::within(budget, router::dispatch(state, request)).await
    })
    .await
}
