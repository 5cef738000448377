//! The AWS ends of the notifier: every data event onto the EventBridge bus, alerts onto the
//! SNS topic.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::event::{AnomalyDetected, DataEvent, SOURCE};
use super::webhook;

/// At most this many entries per `PutEvents` call (the service's limit).
const PUT_EVENTS_BATCH: usize = 10;

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The call itself failed (network, permissions, throttling).
    #[error("EventBridge PutEvents failed")]
    PutEvents(#[source] Box<aws_sdk_eventbridge::Error>),
    /// The call went through but the bus refused some entries, even on the second try.
    #[error("EventBridge refused {failed} of {sent} event(s): {first_error}")]
    Refused {
        /// Entries still refused after the retry.
        failed: usize,
        /// Entries accepted plus those still refused.
        sent: usize,
        /// The service's message (or, lacking one, its code) for the first refused entry.
        first_error: String,
    },
    /// The SNS call failed.
    #[error("SNS Publish failed")]
    Sns(#[source] Box<aws_sdk_sns::Error>),
    /// An event could not be turned into JSON; a bug, not worth a retry.
    #[error("an event could not be serialised")]
    Serialise(#[source] serde_json::Error),
}

/// Puts `events` on `bus` (source `tickwatch`, detail-type the event's type, detail the event),
/// ten per call. Entries the service refuses are sent once more; what is still refused is an
/// error naming the count.
pub async fn to_bus(
    client: &aws_sdk_eventbridge::Client,
    bus: &str,
    events: &[DataEvent],
) -> Result<usize, PublishError> {
    let mut sent = 0;
    for chunk in events.chunks(PUT_EVENTS_BATCH) {
        let mut entries = chunk
            .iter()
            .map(|event| {
                Ok(PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source(SOURCE)
                    .detail_type(event.kind())
                    .detail(serde_json::to_string(event).map_err(PublishError::Serialise)?)
                    .build())
            })
            .collect::<Result<Vec<_>, PublishError>>()?;
        for attempt in 1..=2 {
            let output = client
                .put_events()
                .set_entries(Some(entries.clone()))
                .send()
                .await
                .map_err(|e| PublishError::PutEvents(Box::new(e.into())))?;
            if output.failed_entry_count() == 0 {
                sent += entries.len();
                break;
            }
            // Results are in request order; keep the refused entries for the retry.
            let results = output.entries();
            let refused: Vec<PutEventsRequestEntry> = entries
                .iter()
                .zip(results)
                .filter(|(_, r)| r.error_code().is_some())
                .map(|(e, _)| e.clone())
                .collect();
            sent += entries.len() - refused.len();
            if attempt == 2 {
                let first_error = results
                    .iter()
                    .find_map(|r| r.error_message().or(r.error_code()))
                    .unwrap_or("unknown")
                    .to_owned();
                return Err(PublishError::Refused {
                    failed: refused.len(),
                    sent: sent + refused.len(),
                    first_error,
                });
            }
            entries = refused;
        }
    }
    Ok(sent)
}

/// Publishes one alert to the SNS topic: the subject a person reads in a mail client, the
/// Slack-compatible message as the body, the event's type and severity as attributes for
/// subscription filters.
pub async fn to_topic(
    client: &aws_sdk_sns::Client,
    topic_arn: &str,
    event: &AnomalyDetected,
    chart_url: Option<&str>,
) -> Result<(), PublishError> {
    let message = webhook::message(event, chart_url);
    let subject: String = format!(
        "tickwatch: {} {} on {}",
        event.severity, event.kind, event.symbol
    )
    .chars()
    .take(100)
    .collect();
    let string = |value: &str| {
        aws_sdk_sns::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .expect("data type is set")
    };
    client
        .publish()
        .topic_arn(topic_arn)
        .subject(subject)
        .message(serde_json::to_string(&message).map_err(PublishError::Serialise)?)
        .message_attributes("type", string("anomaly.detected"))
        .message_attributes("severity", string(event.severity.as_str()))
        .send()
        .await
        .map_err(|e| PublishError::Sns(Box::new(e.into())))?;
    Ok(())
}
