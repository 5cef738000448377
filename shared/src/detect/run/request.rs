//! The events the detector accepts, parsed by serde: EventBridge's "Scheduled Event", and the
//! manual `rescan` payload. Anything else is refused with the reason, before any work starts.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::RunError;
use crate::model::Symbol;

/// At most this many symbols in one rescan.
pub const MAX_SYMBOLS: usize = 100;

/// What an invocation was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// The EventBridge schedule: every enabled series, from its watermark (or from where a
    /// changed candle asks it to recompute).
    Scheduled,
    /// `{"action": "rescan", "symbols": [...], "from": "…", "to": "…"?}`: recompute a range,
    /// replacing the scores and events earlier runs stored in it.
    Rescan {
        symbols: Vec<Symbol>,
        from: DateTime<Utc>,
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
    pub fn parse(event: &serde_json::Value) -> Result<Self, RunError> {
        let invalid = |m: String| RunError::InvalidEvent(m);
        let object = event
            .as_object()
            .ok_or_else(|| invalid("expected a JSON object".into()))?;
        if let Some(action) = object.get("action") {
            if action != "rescan" {
                return Err(invalid(format!(
                    "unknown action {action}; the only action is \"rescan\""
                )));
            }
            let p: RescanPayload = serde_json::from_value(event.clone())
                .map_err(|e| invalid(format!("rescan: {e}")))?;
            if p.symbols.is_empty() {
                return Err(invalid("rescan needs a non-empty \"symbols\" array".into()));
            }
            if p.symbols.len() > MAX_SYMBOLS {
                return Err(invalid(format!(
                    "rescan names {} symbols; at most {MAX_SYMBOLS} per event",
                    p.symbols.len()
                )));
            }
            let (from, to) = (p.from.0, p.to.map(|t| t.0));
            if to.is_some_and(|to| to < from) {
                return Err(invalid("rescan: \"to\" is before \"from\"".into()));
            }
            let mut symbols = p.symbols;
            let mut seen = std::collections::HashSet::new();
            symbols.retain(|s| seen.insert(s.clone()));
            return Ok(Self::Rescan { symbols, from, to });
        }
        if object.get("source").and_then(|s| s.as_str()) == Some("aws.events") {
            let _: EventBridgeEvent = serde_json::from_value(event.clone())
                .map_err(|e| invalid(format!("scheduled event: {e}")))?;
            return Ok(Self::Scheduled);
        }
        Err(invalid(
            "neither a scheduled event (source \"aws.events\") nor {\"action\": \"rescan\", …}"
                .into(),
        ))
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
            let err = Request::parse(&event).expect_err("should be refused");
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
