//! Every request has a time budget: past it, the client gets 503 `timeout` in the envelope
//! rather than a connection held open. The budget sits below API Gateway's 29 s integration
//! limit and the Lambda's own timeout, so the answer is ours, not a gateway's bare 503/504.
//! Database calls have deadlines of their own (`DB_STATEMENT_TIMEOUT_MS`), shorter still, so a
//! database that does not answer is reported as such (503 `database_unavailable`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use lambda_http::RequestExt;

use crate::error::ApiError;

/// Time kept back from a Lambda invocation's own deadline to send the answer in.
const ANSWER_MARGIN: Duration = Duration::from_millis(300);

/// Runs `serve` within `budget` (see [`budget`]): past it, the envelope with 503 `timeout`.
pub async fn within(budget: Duration, serve: impl Future<Output = Response>) -> Response {
    match tokio::time::timeout(budget, serve).await {
        Ok(response) => response,
        Err(_) => ApiError::deadline_exceeded(budget).into_response(),
    }
}

/// The configured budget, cut to what is left of the Lambda invocation when there is one. A
/// deadline already past when the request starts is no deadline: Lambda never hands over an
/// expired invocation, but local emulators (`cargo lambda watch` without `--timeout`) send
/// the time of the invocation itself.
pub fn budget(request: &Request, configured: Duration) -> Duration {
    let Some(context) = request.lambda_context_ref() else {
        return configured;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let left = Duration::from_millis(context.deadline).saturating_sub(now);
    if left <= ANSWER_MARGIN {
        return configured;
    }
    configured.min(left - ANSWER_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with_deadline(deadline: u64) -> Request {
        let mut context = lambda_http::Context::default();
        context.deadline = deadline;
        Request::new(axum::body::Body::empty()).with_lambda_context(context)
    }

    fn now_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default()
    }

    #[test]
    fn the_budget_never_outlasts_the_invocation_nor_vanishes_for_a_missing_deadline() {
        let configured = Duration::from_secs(8);
        let plain = Request::new(axum::body::Body::empty());
        assert_eq!(budget(&plain, configured), configured);
        let short = budget(&request_with_deadline(now_ms() + 3_000), configured);
        assert!(
            short <= Duration::from_millis(2_700) && short > Duration::from_millis(2_500),
            "{short:?}"
        );
        let long = budget(&request_with_deadline(now_ms() + 60_000), configured);
        assert_eq!(long, configured);
        for past in [0, now_ms(), now_ms() - 5_000] {
            assert_eq!(budget(&request_with_deadline(past), configured), configured);
        }
    }
}
