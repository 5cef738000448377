//! Delivery: the notifier's half of [`super`], the only part that talks to SNS and
//! EventBridge, so only the notifier (feature `aws-notify`) links their SDKs.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{DataEvent, NotifySettings, events_of, publish, webhook};
/// What one delivery did. Failures are counted here and logged; they never fail the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Data events handed in, every one logged.
    pub events: usize,
    /// Items of the payload that were not data events, refused with a reason in the log.
    pub rejected: usize,
    /// Events the bus accepted (0 when no bus is configured).
    pub on_bus: usize,
    /// 1 when putting the events on the bus failed (after its one retry of refused entries).
    pub bus_failures: usize,
    /// Anomaly events severe and recent enough to alert on.
    pub alerts: usize,
    /// Alerts the webhook accepted.
    pub webhook_sent: usize,
    /// Alerts the webhook still refused after every attempt.
    pub webhook_failures: usize,
    /// Alerts published to the SNS topic.
    pub topic_sent: usize,
    /// Alerts that could not be published to the topic.
    pub topic_failures: usize,
}

/// Sends data events and alerts where [`NotifySettings`] says.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// Where events and alerts go; read on every delivery.
    pub settings: NotifySettings,
    http: reqwest::Client,
    sns: Option<aws_sdk_sns::Client>,
    bus: Option<aws_sdk_eventbridge::Client>,
}

impl Notifier {
    /// The notifier function's start: logging, the settings, the process's HTTP client, and
    /// the SDK clients its settings ask for.
    pub async fn from_env(env: &crate::config::Env) -> Result<Self, crate::startup::StartupError> {
        use crate::startup::StartupError;
        let observability = crate::config::Observability::from_env(env)?;
        crate::telemetry::init(observability.log_format, observability.log_filter.clone());
        let settings = NotifySettings::from_env(env)?;
        let http = crate::providers::http::build_client(&crate::config::HttpSettings::default())
            .map_err(StartupError::HttpClient)?;
        Ok(Self::new(settings, http, &crate::aws::Aws::lazy()).await)
    }

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
