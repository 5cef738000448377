//! Every response carries `x-request-id`, and every log line of the request carries the same id
//! (through a tracing span), so a client's report can be matched to the logs.
//!
//! Behind API Gateway the id is the gateway's own request id (the one in its access logs);
//! on Lambda without it, the invocation's id; elsewhere a fresh UUID. A client-sent
//! `x-request-id` is not trusted: log lines must not carry what a caller chose.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::Response;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use tracing::Instrument;

/// The header that carries the id.
pub const HEADER: &str = "x-request-id";

/// The id of this request: the gateway's, else the invocation's, else a new UUID.
pub fn request_id(request: &Request) -> String {
    let gateway = request
        .request_context_ref()
        .and_then(|context| match context {
            RequestContext::ApiGatewayV2(c) => c.request_id.clone(),
            RequestContext::ApiGatewayV1(c) => c.request_id.clone(),
            _ => None,
        });
    gateway
        .or_else(|| {
            request
                .lambda_context_ref()
                .map(|context| context.request_id.clone())
        })
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Opens the request's span, runs `serve` inside it, logs one line with the outcome and sets
/// the header (the first step of `crate::edge`).
pub async fn traced(request: Request, serve: impl AsyncFnOnce(Request) -> Response) -> Response {
    let id = request_id(&request);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let mut response = serve(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "served"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}
