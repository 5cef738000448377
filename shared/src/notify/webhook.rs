//! Posting an alert to a webhook (Slack-compatible JSON) with retries: a slow or failing
//! receiver costs bounded time and never stops the other alerts.

use std::time::Duration;

use serde_json::{Value, json};

use super::event::{AnomalyDetected, Change};
use crate::model::Severity;

/// How hard to try one webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first included).
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each later one.
    pub backoff: Duration,
    /// Each attempt's deadline, connection included.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Why a delivery failed after every attempt.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The webhook answered with an error status: a 4xx other than 429 at once, else the
    /// last of the retried answers.
    #[error("the webhook answered {status} after {attempts} attempt(s)")]
    Status {
        /// The last HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// Every attempt timed out or failed to connect.
    #[error("the webhook could not be reached after {attempts} attempt(s)")]
    Unreachable {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        source: reqwest::Error,
    },
}

/// Posts `body` to `url`, retrying timeouts, connection failures, 429 and 5xx with doubling
/// waits; any other 4xx is final (the request itself is wrong). Returns the attempts made.
pub async fn post(
    client: &reqwest::Client,
    url: &reqwest::Url,
    body: &Value,
    policy: RetryPolicy,
) -> Result<u32, WebhookError> {
    let mut wait = policy.backoff;
    let mut attempt = 1;
    loop {
        let outcome = client
            .post(url.clone())
            .timeout(policy.timeout)
            .json(body)
            .send()
            .await;
        let retryable = match outcome {
            Ok(response) if response.status().is_success() => return Ok(attempt),
            Ok(response) => {
                let status = response.status();
                let retry = status.is_server_error() || status.as_u16() == 429;
                if !retry || attempt >= policy.attempts {
                    return Err(WebhookError::Status {
                        status: status.as_u16(),
                        attempts: attempt,
                    });
                }
                tracing::warn!(
                    status = status.as_u16(),
                    attempt,
                    "webhook refused; retrying"
                );
                true
            }
            Err(source) => {
                if attempt >= policy.attempts {
                    return Err(WebhookError::Unreachable {
                        attempts: attempt,
                        source,
                    });
                }
                tracing::warn!(error = %source, attempt, "webhook unreachable; retrying");
                true
            }
        };
        debug_assert!(retryable);
        tokio::time::sleep(wait).await;
        wait = wait.saturating_mul(2);
        attempt += 1;
    }
}

/// The Slack-compatible message for one anomaly event: a one-line `text` (what every
/// Slack-compatible receiver shows) and an attachment coloured by severity with the evidence.
pub fn message(event: &AnomalyDetected, chart_url: Option<&str>) -> Value {
    let headline = format!(
        "{} {} on {} {} at {} (score {:.2}; {}){}",
        event.severity.as_str().to_uppercase(),
        event.kind,
        event.symbol,
        event.interval,
        event.peak_time.to_rfc3339(),
        event.score,
        event
            .methods
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        match (event.change, event.previous_severity) {
            (Change::SeverityRaised, Some(previous)) => format!(" — raised from {previous}"),
            _ => String::new(),
        }
    );
    let mut attachment = json!({
        "color": colour(event.severity),
        "fallback": headline,
        "fields": [
            {"title": "from", "value": event.start_time.to_rfc3339(), "short": true},
            {"title": "to", "value": event.end_time.to_rfc3339(), "short": true},
            {"title": "event", "value": event.id.to_string(), "short": true},
            {"title": "candles", "value": event.candles.to_string(), "short": true},
        ],
    });
    if let Some(url) = chart_url {
        attachment["title"] = json!("chart");
        attachment["title_link"] = json!(format!(
            "{}/chart/{}",
            url.trim_end_matches('/'),
            event.symbol
        ));
    }
    json!({ "text": format!("tickwatch: {headline}"), "attachments": [attachment] })
}

fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Low => "#868e96",
        Severity::Medium => "#f59f00",
        Severity::High => "#e8590c",
        Severity::Critical => "#c92a2a",
    }
}
