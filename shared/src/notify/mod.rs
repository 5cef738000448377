//! Alerts and data events leaving the pipeline.
//!
//! The detector runs in the VPC with no way out, so it does not send anything itself: at the
//! end of a run it takes what is due from the database ([`crate::db::announcements`]) and
//! returns it. In the cloud the Lambda service hands that result to the notifier (the
//! detector's on-success destination), which runs outside the VPC; locally `make run` calls
//! [`Notifier::deliver`] with it directly. Delivery never feeds back into detection: a
//! failing webhook or bus is logged and counted, and the next run goes on.

#[cfg(feature = "aws-notify")]
mod deliver;
pub mod event;
#[cfg(feature = "aws-notify")]
pub mod publish;
pub mod webhook;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::config::{ConfigError, Env};
use crate::model::Severity;
#[cfg(feature = "aws-notify")]
pub use deliver::{DeliveryReport, Notifier};
use event::AnomalyDetected;
pub use event::DataEvent;
pub use webhook::RetryPolicy;

/// Announcements taken per detector run and kind: the destination's payload limit (256 KB)
/// holds this many with room to spare; the rest waits for the next run.
pub const MAX_EVENTS_PER_RUN: i64 = 100;

/// Who gets what.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// Alerts go out for events at or above this severity.
    pub min_severity: Severity,
    /// Events that ended longer ago than this are history (a backfill, an import): they are
    /// data events, not alerts.
    pub max_age: TimeDelta,
    /// `ALERT_WEBHOOK_URL`: alerts are posted here as chat messages; `None`: no webhook.
    pub webhook_url: Option<reqwest::Url>,
    /// `ALERT_TOPIC_ARN`: alerts are published to this SNS topic; `None`: no topic.
    pub topic_arn: Option<String>,
    /// `EVENT_BUS_NAME`: every data event goes on this EventBridge bus; `None`: logs only.
    pub event_bus: Option<String>,
    /// Where the chart is served, for links in alerts.
    pub chart_url: Option<String>,
    /// Attempts, backoff and timeout of webhook posts.
    pub retry: RetryPolicy,
}

impl NotifySettings {
    /// Reads the `ALERT_*`, `EVENT_BUS_NAME` and `CHART_BASE_URL` variables; fails on a
    /// malformed value, never on an absent one.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let hours: i64 = env.parse_or("ALERT_MAX_AGE_HOURS", 24)?;
        if hours <= 0 {
            return Err(ConfigError::Invalid {
                name: "ALERT_MAX_AGE_HOURS",
                reason: format!("{hours} is not a positive number of hours"),
            });
        }
        Ok(Self {
            min_severity: env
                .parse_with("ALERT_MIN_SEVERITY", |v| {
                    Severity::parse(v).map_err(|e| e.to_string())
                })?
                .unwrap_or(Severity::High),
            max_age: TimeDelta::hours(hours),
            webhook_url: env.parse_with("ALERT_WEBHOOK_URL", |v| {
                let url = reqwest::Url::parse(v).map_err(|e| e.to_string())?;
                match url.scheme() {
                    "http" | "https" => Ok(url),
                    other => Err(format!("{other}: not an http(s) URL")),
                }
            })?,
            topic_arn: env.get("ALERT_TOPIC_ARN"),
            event_bus: env.get("EVENT_BUS_NAME"),
            chart_url: env.get("CHART_BASE_URL"),
            retry: RetryPolicy::default(),
        })
    }

    /// Whether `event` is worth waking someone for now.
    pub fn alerts(&self, event: &AnomalyDetected, now: DateTime<Utc>) -> bool {
        event.severity >= self.min_severity && now - event.end_time <= self.max_age
    }
}

/// The valid data events of a payload and how many items were refused.
pub fn events_of(payload: &Value) -> (Vec<DataEvent>, usize) {
    let items = payload
        .get("responsePayload")
        .unwrap_or(payload)
        .get("events")
        .and_then(Value::as_array);
    let Some(items) = items else {
        tracing::warn!("the payload carries no events array");
        return (Vec::new(), 0);
    };
    let mut events = Vec::with_capacity(items.len());
    let mut rejected = 0;
    for (index, item) in items.iter().enumerate() {
        match serde_json::from_value::<DataEvent>(item.clone()) {
            Ok(event) => events.push(event),
            Err(error) => {
                tracing::warn!(index, error = %error, "not a data event; skipped");
                rejected += 1;
            }
        }
    }
    (events, rejected)
}
