//! The events the collector accepts, parsed strictly: EventBridge's "Scheduled Event", and the
//! manual `collect` and `backfill` payloads. Anything else is refused with a message that says
//! what was expected, before any work starts.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Deserialize;

use super::RunKind;
use crate::model::Symbol;

/// At most this many symbols in one manual payload.
pub const MAX_SYMBOLS: usize = 100;
/// At most this long a backfill range (ten years).
pub const MAX_BACKFILL: TimeDelta = TimeDelta::days(3_660);

/// A parsed collector event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectorEvent {
    /// Collect every enabled symbol that is due at `time` (the schedule's firing time, which
    /// EventBridge keeps on retries).
    Scheduled {
        /// The schedule's firing time; what is due is decided from it, not from the clock.
        time: DateTime<Utc>,
    },
    /// Collect these symbols now.
    Collect {
        /// Between one and [`MAX_SYMBOLS`] symbols, as sent.
        symbols: Vec<Symbol>,
    },
    /// Fetch history for these symbols with `from <= open_time < to`.
    Backfill {
        /// Between one and [`MAX_SYMBOLS`] symbols, as sent.
        symbols: Vec<Symbol>,
        /// Inclusive start of the range.
        from: DateTime<Utc>,
        /// Exclusive end, capped at now; at most [`MAX_BACKFILL`] after `from`.
        to: DateTime<Utc>,
    },
}

/// Why an event was refused: one variant per check, the parser's own error kept as the
/// source where there is one. Every message starts "invalid collector event".
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The payload is JSON, but not an object.
    #[error("invalid collector event: expected a JSON object")]
    NotAnObject,
    /// A manual payload with a known action whose fields did not parse.
    #[error("invalid collector event: {action}: {source}")]
    Payload {
        /// The `action` as sent (JSON).
        action: serde_json::Value,
        /// Which field failed and why.
        #[source]
        source: serde_json::Error,
    },
    /// A manual payload whose `action` is none of the known ones.
    #[error(
        "invalid collector event: unknown action {action}; expected \"scheduled\", \"collect\" or \"backfill\""
    )]
    UnknownAction {
        /// The `action` as sent (JSON).
        action: serde_json::Value,
    },
    /// `symbols` is empty.
    #[error("invalid collector event: \"symbols\" must name at least one symbol")]
    NoSymbols,
    /// `symbols` names more than [`MAX_SYMBOLS`].
    #[error(
        "invalid collector event: \"symbols\" names {count} symbols; at most {MAX_SYMBOLS} per event"
    )]
    TooManySymbols {
        /// How many it named.
        count: usize,
    },
    /// A backfill whose range is empty once `to` is capped at now.
    #[error(
        "invalid collector event: backfill: \"from\" ({from}) must be before \"to\" ({to}, capped at now)"
    )]
    EmptyRange {
        /// Start as sent.
        from: DateTime<Utc>,
        /// End after capping at now.
        to: DateTime<Utc>,
    },
    /// A backfill range longer than [`MAX_BACKFILL`].
    #[error(
        "invalid collector event: backfill: the range spans {days} days; at most {} per event",
        MAX_BACKFILL.num_days()
    )]
    RangeTooLong {
        /// Days the range spans.
        days: i64,
    },
    /// `source` is `aws.events`, but the envelope did not parse.
    #[error("invalid collector event: scheduled event: {0}")]
    ScheduledEnvelope(#[source] serde_json::Error),
    /// An EventBridge event of another detail-type (the rule matches too much).
    #[error("invalid collector event: aws.events detail-type {0:?}; expected \"Scheduled Event\"")]
    NotScheduled(String),
    /// A scheduled event without its firing time.
    #[error("invalid collector event: scheduled event: no \"time\"")]
    NoTime,
    /// Neither an EventBridge event nor a payload with an `action`.
    #[error(
        "invalid collector event: expected an EventBridge Scheduled Event (source \"aws.events\") or a payload with \"action\": \"collect\" or \"backfill\""
    )]
    Unrecognised,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduledPayload {
    #[allow(dead_code, reason = "the tag, already read")]
    action: String,
    time: Moment,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectPayload {
    #[allow(dead_code, reason = "the tag, already read")]
    action: String,
    symbols: Vec<Symbol>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackfillPayload {
    #[allow(dead_code, reason = "the tag, already read")]
    action: String,
    symbols: Vec<Symbol>,
    from: Moment,
    to: Moment,
}

/// An RFC 3339 time, or a plain date meaning its midnight UTC.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct Moment(DateTime<Utc>);

impl TryFrom<String> for Moment {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
            return Ok(Self(at.with_timezone(&Utc)));
        }
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| Self(d.and_utc()))
            .ok_or_else(|| {
                format!(
                    "{:?} is neither an RFC 3339 time nor a YYYY-MM-DD date",
                    text.chars().take(40).collect::<String>()
                )
            })
    }
}

fn check_symbols(mut symbols: Vec<Symbol>) -> Result<Vec<Symbol>, EventError> {
    if symbols.is_empty() {
        return Err(EventError::NoSymbols);
    }
    if symbols.len() > MAX_SYMBOLS {
        return Err(EventError::TooManySymbols {
            count: symbols.len(),
        });
    }
    let mut seen = std::collections::HashSet::new();
    symbols.retain(|s| seen.insert(s.clone()));
    Ok(symbols)
}

impl CollectorEvent {
    /// Which kind of run this event asks for.
    pub fn kind(&self) -> RunKind {
        match self {
            Self::Scheduled { .. } => RunKind::Scheduled,
            Self::Collect { .. } => RunKind::Collect,
            Self::Backfill { .. } => RunKind::Backfill,
        }
    }

    /// The event as a payload [`CollectorEvent::parse`] reads back: what the fetcher sends the
    /// planner function.
    pub fn to_payload(&self) -> serde_json::Value {
        match self {
            Self::Scheduled { time } => {
                serde_json::json!({"action": "scheduled", "time": time.to_rfc3339()})
            }
            Self::Collect { symbols } => {
                serde_json::json!({"action": "collect", "symbols": symbols})
            }
            Self::Backfill { symbols, from, to } => serde_json::json!({
                "action": "backfill", "symbols": symbols,
                "from": from.to_rfc3339(), "to": to.to_rfc3339(),
            }),
        }
    }

    /// Parses an invocation payload. `now` bounds a backfill's end.
    pub fn parse(payload: serde_json::Value, now: DateTime<Utc>) -> Result<Self, EventError> {
        let object = payload.as_object().ok_or(EventError::NotAnObject)?;
        if let Some(action) = object.get("action").cloned() {
            let detail = |source| EventError::Payload {
                action: action.clone(),
                source,
            };
            return match action.as_str() {
                Some("scheduled") => {
                    let p: ScheduledPayload = serde_json::from_value(payload).map_err(detail)?;
                    Ok(Self::Scheduled { time: p.time.0 })
                }
                Some("collect") => {
                    let p: CollectPayload = serde_json::from_value(payload).map_err(detail)?;
                    Ok(Self::Collect {
                        symbols: check_symbols(p.symbols)?,
                    })
                }
                Some("backfill") => {
                    let p: BackfillPayload = serde_json::from_value(payload).map_err(detail)?;
                    let (from, to) = (p.from.0, p.to.0.min(now));
                    if from >= to {
                        return Err(EventError::EmptyRange { from, to });
                    }
                    if to - from > MAX_BACKFILL {
                        return Err(EventError::RangeTooLong {
                            days: (to - from).num_days(),
                        });
                    }
                    Ok(Self::Backfill {
                        symbols: check_symbols(p.symbols)?,
                        from,
                        to,
                    })
                }
                _ => Err(EventError::UnknownAction { action }),
            };
        }
        let is_scheduled = object.get("source").and_then(|s| s.as_str()) == Some("aws.events");
        if is_scheduled {
            let event: EventBridgeEvent =
                serde_json::from_value(payload).map_err(EventError::ScheduledEnvelope)?;
            if event.detail_type != "Scheduled Event" {
                return Err(EventError::NotScheduled(event.detail_type));
            }
            let time = event.time.ok_or(EventError::NoTime)?;
            return Ok(Self::Scheduled { time });
        }
        Err(EventError::Unrecognised)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn parse(value: serde_json::Value) -> Result<CollectorEvent, EventError> {
        CollectorEvent::parse(value, now())
    }

    #[test]
    fn the_scheduled_event_shape_parses() {
        let event = parse(json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-01T11:55:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/tickwatch-collect"],
            "detail": {}
        }))
        .expect("valid");
        assert!(matches!(event, CollectorEvent::Scheduled { .. }));
    }

    #[test]
    fn manual_payloads_parse_and_deduplicate_symbols() {
        let event =
            parse(json!({"action": "collect", "symbols": ["btc", "BTC", "ETH"]})).expect("valid");
        assert_eq!(
            event,
            CollectorEvent::Collect {
                symbols: vec![
                    Symbol::parse("BTC").expect("valid"),
                    Symbol::parse("ETH").expect("valid")
                ]
            }
        );
        let event = parse(json!({"action": "backfill", "symbols": ["BTC"],
            "from": "2026-01-01", "to": "2030-01-01T00:00:00Z"}))
        .expect("valid");
        let CollectorEvent::Backfill { to, .. } = event else {
            panic!("a backfill")
        };
        assert_eq!(to, now(), "the end is capped at now");
    }

    #[test]
    fn every_event_survives_the_trip_to_the_planner() {
        for event in [
            CollectorEvent::Scheduled { time: now() },
            CollectorEvent::Collect {
                symbols: vec![Symbol::parse("BTC").expect("valid")],
            },
            CollectorEvent::Backfill {
                symbols: vec![Symbol::parse("ETH").expect("valid")],
                from: now() - TimeDelta::days(3),
                to: now(),
            },
        ] {
            assert_eq!(parse(event.to_payload()).expect("reads back"), event);
        }
    }

    #[test]
    fn bad_events_are_refused_with_a_reason() {
        for (payload, expected) in [
            (json!([]), "JSON object"),
            (json!({"hello": 1}), "Scheduled Event"),
            (json!({"action": "delete"}), "unknown action"),
            (json!({"action": "collect"}), "missing field `symbols`"),
            (json!({"action": "collect", "symbols": []}), "at least one"),
            (
                json!({"action": "collect", "symbols": ["B TC"]}),
                "only letters",
            ),
            (
                json!({"action": "collect", "symbols": ["BTC"], "extra": 1}),
                "unknown field",
            ),
            (
                json!({"action": "backfill", "symbols": ["BTC"], "from": "2026-02-01", "to": "2026-01-01"}),
                "must be before",
            ),
            (
                json!({"action": "backfill", "symbols": ["BTC"], "from": "yesterday", "to": "2026-01-01"}),
                "RFC 3339",
            ),
            (
                json!({"source": "aws.events", "detail-type": "EC2 Instance State-change Notification", "detail": {}, "time": "2026-11-01T11:55:00Z"}),
                "detail-type",
            ),
        ] {
            let err = parse(payload.clone()).expect_err("refused");
            assert!(err.to_string().contains(expected), "{payload}: {err}");
        }
    }
}
