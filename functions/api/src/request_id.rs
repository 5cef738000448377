//! Every response carries `x-request-id`, and every log line of the request carries the same id
//! (through a tracing span), so a client's report can be matched to the logs.
//!
//! Behind API Gateway the id is the gateway's own request id (the one in its access logs);
//! on Lambda without it, the invocation's id; elsewhere a fresh UUID ([`fresh`]). A
//! client-sent `x-request-id` is not trusted: log lines must not carry what a caller chose.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
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
            _ => None,
        });
    gateway
        .or_else(|| {
            request
                .lambda_context_ref()
                .map(|context| context.request_id.clone())
        })
        .filter(|id| !id.is_empty())
        .unwrap_or_else(fresh)
}

/// A new id: a version-4 UUID whose random bits are drawn once per process, with a count of
/// the ids before it added to its low bits. Unique within the process by the count and across
/// processes by the random bits, and no `getrandom` system call per request (a v4 UUID of its
/// own cost one, nearly 2% of the local server's CPU per request).
pub fn fresh() -> String {
    static FIRST: LazyLock<(u64, u64)> = LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair());
    static ISSUED: AtomicU64 = AtomicU64::new(0);
    let (high, low) = *FIRST;
    let count = ISSUED.fetch_add(1, Ordering::Relaxed);
    // The low half's top two bits are the UUID variant; the count wraps below them.
    const VARIANT: u64 = 0b11 << 62;
    let low = (low & VARIANT) | (low.wrapping_add(count) & !VARIANT);
    uuid::Uuid::from_u64_pair(high, low).to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_distinct_version_4_uuids() {
        let ids: Vec<String> = (0..1000).map(|_| fresh()).collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 4, "{id}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
    }
}
