//! `POST /v1/collect/{symbol}` in the cloud: API Gateway routes it to the collector function
//! (the one that reaches the internet), which checks the write key, asks the planner for the
//! symbol's plan, fetches, and queues the candles for the writer — the same path as the
//! schedule. The answer is the API's: the report as JSON, or the error envelope
//! `{"error": {"code", "message"}}` with the status the api would send.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::{Value, json};

use super::{CollectError, CollectReport, Collector, OutcomeCode};
use crate::auth::ApiKey;
use crate::model::Symbol;

/// Whether an invocation payload is an API Gateway HTTP API (payload 2.0) request.
pub fn is_http_request(payload: &Value) -> bool {
    payload.get("version").and_then(Value::as_str) == Some("2.0")
        && payload.pointer("/requestContext/http").is_some()
}

/// Whether an invocation payload is an HTTP API Lambda authorizer request (payload 2.0).
pub fn is_authorizer_request(payload: &Value) -> bool {
    payload.get("type").and_then(Value::as_str) == Some("REQUEST")
        && payload.get("routeArn").is_some()
}

/// The authorizer's answer for API Gateway's write routes: the write key is checked here,
/// outside the VPC where the secret can be read, and the api behind (which cannot read it)
/// trusts the `write_key` flag in the context. A missing key configuration refuses everything.
pub fn authorize(key: Option<&ApiKey>, payload: &Value) -> Value {
    let header = payload
        .pointer("/headers/authorization")
        .and_then(Value::as_str);
    let allowed = key.is_some_and(|key| key.check_header(header).is_ok());
    if !allowed {
        tracing::info!(route = ?payload.get("routeArn"), "write refused by the authorizer");
    }
    json!({"isAuthorized": allowed, "context": {"write_key": allowed}})
}

/// Answers one HTTP request; also returns the report when a collection ran (for metrics).
pub async fn handle(
    collector: &Collector,
    key: Option<&ApiKey>,
    payload: Value,
) -> (Value, Option<CollectReport>) {
    let request: ApiGatewayV2httpRequest = match serde_json::from_value(payload) {
        Ok(request) => request,
        Err(e) => {
            return (
                error(
                    400,
                    "invalid_request",
                    &format!("not an HTTP API request: {e}"),
                ),
                None,
            );
        }
    };
    let method = request.request_context.http.method.as_str().to_owned();
    let path = request.raw_path.as_deref().unwrap_or_default();
    let Some(raw) = path
        .strip_prefix("/v1/collect/")
        .filter(|s| !s.contains('/'))
    else {
        return (
            error(404, "not_found", &format!("no route for {path}")),
            None,
        );
    };
    if method != "POST" {
        return (
            error(
                405,
                "method_not_allowed",
                &format!("{method} is not allowed here; use POST"),
            ),
            None,
        );
    }
    let Some(key) = key else {
        return (
            error(
                401,
                "unauthorized",
                "writes are disabled: no API key is configured",
            ),
            None,
        );
    };
    let header = request
        .headers
        .get("authorization")
        .map(|v| v.to_str().unwrap_or(""));
    if let Err(message) = key.check_header(header) {
        return (error(401, "unauthorized", message), None);
    }
    let symbol = match Symbol::parse(raw) {
        Ok(symbol) => symbol,
        Err(e) => return (error(400, "invalid_symbol", &e.to_string()), None),
    };
    match collector.collect(std::slice::from_ref(&symbol)).await {
        Ok(report) => (
            respond(200, &serde_json::to_value(&report).unwrap_or(Value::Null)),
            Some(report),
        ),
        Err(CollectError::NothingStored { report, .. })
            if report.failure(&symbol) == Some(OutcomeCode::UnknownSymbol) =>
        {
            (
                error(
                    404,
                    "unknown_symbol",
                    &format!("{symbol} is not on the watch list"),
                ),
                Some(*report),
            )
        }
        Err(CollectError::NothingStored { report, retryable }) => {
            let status = if retryable { 503 } else { 502 };
            let mut body = error_body("upstream", "the price source failed or sent nothing usable");
            body["error"]["details"] =
                serde_json::to_value(&report.outcomes).unwrap_or(Value::Null);
            (respond(status, &body), Some(*report))
        }
        Err(other) => {
            tracing::warn!(error = %other, "collect-now failed");
            (
                error(
                    503,
                    "unavailable",
                    "collection is unavailable right now; try again shortly",
                ),
                None,
            )
        }
    }
}

fn error_body(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

fn error(status: u16, code: &str, message: &str) -> Value {
    respond(status, &error_body(code, message))
}

fn respond(status: u16, body: &Value) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": body.to_string(),
        "isBase64Encoded": false,
    })
}
