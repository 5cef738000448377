//! The sample events in `events/` are what `make invoke-*` sends; each must parse as the event
//! type its function receives, so the samples cannot rot.

use std::path::PathBuf;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn samples(prefix: &str) -> Vec<(String, String)> {
    let mut found: Vec<_> = std::fs::read_dir(events_dir())
        .expect("events/ exists")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix) && name.ends_with(".json"))
        .map(|name| {
            let text = std::fs::read_to_string(events_dir().join(&name)).expect("readable sample");
            (name, text)
        })
        .collect();
    found.sort();
    found
}

#[test]
fn every_api_sample_is_an_http_api_payload_2_0_request() {
    let found = samples("api-");
    assert!(found.len() >= 2, "expected api samples, found {found:?}");
    for (name, text) in found {
        let request: ApiGatewayV2httpRequest =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(request.version.as_deref(), Some("2.0"), "{name}");
        assert!(
            request
                .raw_path
                .as_deref()
                .is_some_and(|p| p.starts_with('/')),
            "{name}"
        );
        assert!(
            request.request_context.request_id.is_some(),
            "{name}: a request id"
        );
    }
}

#[test]
fn the_planner_writer_and_migrator_samples_parse_as_their_events() {
    use tickwatch::collect::{CandleBatch, CollectorEvent};
    let read = |name: &str| std::fs::read_to_string(events_dir().join(name)).expect("a sample");
    let planner: serde_json::Value =
        serde_json::from_str(&read("planner-scheduled.json")).expect("json");
    assert!(matches!(
        CollectorEvent::parse(planner, chrono::Utc::now()),
        Ok(CollectorEvent::Scheduled { .. })
    ));
    let writer: aws_lambda_events::sqs::SqsEvent =
        serde_json::from_str(&read("writer-sqs.json")).expect("an SQS event");
    for record in &writer.records {
        CandleBatch::decode(record.body.as_deref().unwrap_or_default()).expect("a candle batch");
    }
    let migrator: serde_json::Value =
        serde_json::from_str(&read("migrator-migrate.json")).expect("json");
    assert_eq!(migrator["action"], "migrate");
}
