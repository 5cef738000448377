//! Every request has a time budget: past it, the client gets 503 `timeout` in the envelope
//! rather than a connection held open. The budget sits below API Gateway's 29 s integration
//! limit and the Lambda's own timeout, so the answer is ours, not a gateway's bare 503/504.
//! Database calls have deadlines of their own (`DB_STATEMENT_TIMEOUT_MS`), shorter still, so a
//! database that does not answer is reported as such (503 `database_unavailable`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::RequestExt;

use crate::error::ApiError;
use crate::state::AppState;

/// Time kept back from a Lambda invocation's own deadline to send the answer in.
const ANSWER_MARGIN: Duration = Duration::from_millis(300);

/// Middleware: runs the request within its budget.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let budget = budget(&request, state.request_timeout());
    match tokio::time::timeout(budget, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::deadline_exceeded(budget).into_response(),
    }
}

/// The configured budget, cut to what is left of the Lambda invocation when there is one.
fn budget(request: &Request, configured: Duration) -> Duration {
    let Some(context) = request.lambda_context_ref().filter(|c| c.deadline > 0) else {
        return configured;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let left = Duration::from_millis(context.deadline).saturating_sub(now);
    configured.min(left.saturating_sub(ANSWER_MARGIN))
}
