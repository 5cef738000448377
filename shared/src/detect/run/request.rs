//! The events the detector accepts, parsed by serde: EventBridge's "Scheduled Event", and the
//! manual `rescan` payload. Anything else is refused with the reason, before any work starts.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::model::Symbol;

/// At most this many symbols in one rescan.
pub const MAX_SYMBOLS: usize = 100;

/// Why an event is not a request the detector accepts; retrying the same event cannot help.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The payload is JSON but not an object.
    #[error("expected a JSON object")]
    NotAnObject,
    /// `action` names something other than `rescan`; the value is the event's own.
    #[error("unknown action {0}; the only action is \"rescan\"")]
    UnknownAction(serde_json::Value),
    /// The rescan payload has a missing, unknown or malformed field.
    #[error("rescan: {0}")]
    Rescan(#[source] serde_json::Error),
    /// A rescan with no symbols to recompute.
    #[error("rescan needs a non-empty \"symbols\" array")]
    NoSymbols,
    #[error("rescan names {0} symbols; at most {MAX_SYMBOLS} per event")]
    /// More than [`MAX_SYMBOLS`] symbols; the count given.
    TooManySymbols(usize),
    /// The rescan range is empty.
    #[error("rescan: \"to\" is before \"from\"")]
    ToBeforeFrom,
    /// `source` is `aws.events`, but the envelope did not parse.
    #[error("scheduled event: {0}")]
    Scheduled(#[source] serde_json::Error),
    /// An object with neither an `action` nor `"source": "aws.events"`.
    #[error("neither a scheduled event (source \"aws.events\") nor {{\"action\": \"rescan\", …}}")]
    Unrecognised,
}

/// What an invocation was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// The EventBridge schedule: every enabled series, from its watermark (or from where a
    /// changed candle asks it to recompute).
    Scheduled,
    /// `{"action": "rescan", "symbols": [...], "from": "…", "to": "…"?}`: recompute a range,
    /// replacing the scores and events earlier runs stored in it.
    Rescan {
        /// Watched symbols to recompute, duplicates dropped; at most [`MAX_SYMBOLS`].
        symbols: Vec<Symbol>,
        /// Open time of the first candle recomputed (inclusive).
        from: DateTime<Utc>,
        /// Open time to stop at; `None`, or any time past the newest closed candle, stops at
        /// that candle.
        to: Option<DateTime<Utc>>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RescanPayload {
    #[allow(dead_code, reason = "the tag, already read")]
    action: String,
    symbols: Vec<Symbol>,
    from: Rfc3339,
    #[serde(default)]
    to: Option<Rfc3339>,
}

/// An RFC 3339 time.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct Rfc3339(DateTime<Utc>);

impl TryFrom<String> for Rfc3339 {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        DateTime::parse_from_rfc3339(&text)
            .map(|t| Self(t.with_timezone(&Utc)))
            .map_err(|_| {
                format!(
                    "{:?} is not an RFC 3339 time",
                    text.chars().take(40).collect::<String>()
                )
            })
    }
}

impl Request {
    /// Recognises a scheduled event (`source` `aws.events`) or a rescan payload; anything else
    /// is refused with the reason.
    pub fn parse(event: &serde_json::Value) -> Result<Self, RequestError> {
        let object = event.as_object().ok_or(RequestError::NotAnObject)?;
        if let Some(action) = object.get("action") {
            if action != "rescan" {
                return Err(RequestError::UnknownAction(action.clone()));
            }
            let p: RescanPayload =
                serde_json::from_value(event.clone()).map_err(RequestError::Rescan)?;
            if p.symbols.is_empty() {
                return Err(RequestError::NoSymbols);
            }
            if p.symbols.len() > MAX_SYMBOLS {
                return Err(RequestError::TooManySymbols(p.symbols.len()));
            }
            let (from, to) = (p.from.0, p.to.map(|t| t.0));
            if to.is_some_and(|to| to < from) {
                return Err(RequestError::ToBeforeFrom);
            }
            let mut symbols = p.symbols;
            let mut seen = std::collections::HashSet::new();
            symbols.retain(|s| seen.insert(s.clone()));
            return Ok(Self::Rescan { symbols, from, to });
        }
        if object.get("source").and_then(|s| s.as_str()) == Some("aws.events") {
            let _: EventBridgeEvent =
                serde_json::from_value(event.clone()).map_err(RequestError::Scheduled)?;
            return Ok(Self::Scheduled);
        }
        Err(RequestError::Unrecognised)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_detector_event_parses() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("events/ exists") {
            let path = entry.expect("readable entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if !(name.starts_with("detector-") && name.ends_with(".json")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable event");
            let event: serde_json::Value = serde_json::from_str(&text).expect("event is JSON");
            Request::parse(&event).unwrap_or_else(|e| panic!("{name}: {e}"));
            seen += 1;
        }
        assert!(seen >= 2, "only {seen} detector events");
    }

    #[test]
    fn malformed_events_are_refused_with_a_reason_and_not_retried() {
        for (event, needle) in [
            (serde_json::json!([]), "object"),
            (serde_json::json!({"hello": 1}), "neither"),
            (serde_json::json!({"action": "purge"}), "rescan"),
            (
                serde_json::json!({"action": "rescan", "symbols": [], "from": "2026-01-01T00:00:00Z"}),
                "non-empty",
            ),
            (
                serde_json::json!({"action": "rescan", "symbols": ["btc!"], "from": "2026-01-01T00:00:00Z"}),
                "symbol",
            ),
            (
                serde_json::json!({"action": "rescan", "symbols": ["BTC"]}),
                "from",
            ),
            (
                serde_json::json!({"action": "rescan", "symbols": ["BTC"], "from": "yesterday"}),
                "RFC 3339",
            ),
            (
                serde_json::json!({"action": "rescan", "symbols": ["BTC"], "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
                "before",
            ),
            (
                serde_json::json!({"action": "rescan", "symbols": ["BTC"], "from": "2026-02-01T00:00:00Z", "mode": "fast"}),
                "unknown field",
            ),
            (
                serde_json::json!({"source": "aws.events", "detail-type": 3}),
                "scheduled event",
            ),
        ] {
            let err = super::super::RunError::from(
                Request::parse(&event).expect_err("should be refused"),
            );
            assert!(!err.is_retryable());
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn a_rescan_names_each_symbol_once() {
        let request = Request::parse(&serde_json::json!({
            "action": "rescan", "symbols": ["BTC", "ETH", "BTC"], "from": "2026-01-01T00:00:00Z"
        }))
        .expect("valid");
        let Request::Rescan { symbols, to, .. } = request else {
            panic!("a rescan");
        };
        assert_eq!(symbols.len(), 2);
        assert_eq!(to, None);
    }
}
