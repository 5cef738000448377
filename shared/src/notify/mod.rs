//! Alerts and data events leaving the pipeline.
//!
//! The detector runs in the VPC with no way out, so it does not send anything itself: at the
//! end of a run it takes what is due from the database ([`crate::db::announcements`]) and
//! returns it. In the cloud the Lambda service hands that result to the notifier (the
//! detector's on-success destination), which runs outside the VPC; locally `make run` calls
//! [`Notifier::deliver`] with it directly. Delivery never feeds back into detection: a
//! failing webhook or bus is logged and counted, and the next run goes on.

pub mod event;
pub mod publish;
pub mod webhook;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::config::{ConfigError, Env};
use crate::model::Severity;
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
    pub webhook_url: Option<reqwest::Url>,
    pub topic_arn: Option<String>,
    pub event_bus: Option<String>,
    /// Where the chart is served, for links in alerts.
    pub chart_url: Option<String>,
    pub retry: RetryPolicy,
}

impl NotifySettings {
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

/// What one delivery did. Failures are counted here and logged; they never fail the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub events: usize,
    /// Items of the payload that were not data events, refused with a reason in the log.
    pub rejected: usize,
    pub on_bus: usize,
    pub bus_failures: usize,
    pub alerts: usize,
    pub webhook_sent: usize,
    pub webhook_failures: usize,
    pub topic_sent: usize,
    pub topic_failures: usize,
}

/// Sends data events and alerts where [`NotifySettings`] says.
#[derive(Debug, Clone)]
pub struct Notifier {
    pub settings: NotifySettings,
    http: reqwest::Client,
    sns: Option<aws_sdk_sns::Client>,
    bus: Option<aws_sdk_eventbridge::Client>,
}

impl Notifier {
    /// `aws` is needed only when a topic or a bus is configured.
    pub async fn new(
        settings: NotifySettings,
        http: reqwest::Client,
        aws: &crate::aws::Aws,
    ) -> Self {
        let needs_aws = settings.topic_arn.is_some() || settings.event_bus.is_some();
        let config = if needs_aws {
            Some(aws.config().await)
        } else {
            None
        };
        Self {
            sns: settings
                .topic_arn
                .as_ref()
                .and(config)
                .map(aws_sdk_sns::Client::new),
            bus: settings
                .event_bus
                .as_ref()
                .and(config)
                .map(aws_sdk_eventbridge::Client::new),
            settings,
            http,
        }
    }

    /// Reads the events out of a detector result — the Lambda destination's record
    /// (`responsePayload.events`) or the result itself (`events`) — and delivers them.
    pub async fn deliver_payload(&self, payload: &Value, now: DateTime<Utc>) -> DeliveryReport {
        let (events, rejected) = events_of(payload);
        let mut report = self.deliver(&events, now).await;
        report.rejected = rejected;
        report
    }

    /// Logs every event, puts it on the bus, and sends the alerts to the webhook and the topic.
    pub async fn deliver(&self, events: &[DataEvent], now: DateTime<Utc>) -> DeliveryReport {
        let mut report = DeliveryReport {
            events: events.len(),
            ..DeliveryReport::default()
        };
        for event in events {
            let json = serde_json::to_string(event).unwrap_or_default();
            tracing::info!(kind = event.kind(), event = %json, "data event");
        }
        if let (Some(client), Some(bus)) = (&self.bus, &self.settings.event_bus) {
            match publish::to_bus(client, bus, events).await {
                Ok(sent) => report.on_bus = sent,
                Err(error) => {
                    tracing::error!(error = %error, source = ?std::error::Error::source(&error), "data events not put on the bus");
                    report.bus_failures = 1;
                }
            }
        }
        let chart_url = self.settings.chart_url.as_deref();
        for event in events {
            let DataEvent::AnomalyDetected(anomaly) = event else {
                continue;
            };
            if !self.settings.alerts(anomaly, now) {
                continue;
            }
            report.alerts += 1;
            if let Some(url) = &self.settings.webhook_url {
                let body = webhook::message(anomaly, chart_url);
                match webhook::post(&self.http, url, &body, self.settings.retry).await {
                    Ok(attempts) => {
                        tracing::info!(id = anomaly.id, attempts, "alert posted to the webhook");
                        report.webhook_sent += 1;
                    }
                    Err(error) => {
                        tracing::error!(id = anomaly.id, error = %error, "alert not delivered to the webhook");
                        report.webhook_failures += 1;
                    }
                }
            }
            if let (Some(client), Some(topic)) = (&self.sns, &self.settings.topic_arn) {
                match publish::to_topic(client, topic, anomaly, chart_url).await {
                    Ok(()) => report.topic_sent += 1,
                    Err(error) => {
                        tracing::error!(id = anomaly.id, error = %error, source = ?std::error::Error::source(&error), "alert not published to SNS");
                        report.topic_failures += 1;
                    }
                }
            }
        }
        tracing::info!(
            events = report.events,
            rejected = report.rejected,
            on_bus = report.on_bus,
            alerts = report.alerts,
            webhook_failures = report.webhook_failures,
            topic_failures = report.topic_failures,
            "notifier delivered"
        );
        report
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
