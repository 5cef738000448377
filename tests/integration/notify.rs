//! Data events and alerts. What the detector hands the notifier matches the committed JSON
//! Schemas; each event is announced once, and once more when its severity rises; the webhook
//! is retried on 5xx, 429, timeouts and refused connections but not on other 4xx, and a
//! failing one never stops the rest; SNS and EventBridge receive them (LocalStack, real SDK).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use tickwatch::db::candles::{self, UpsertMode};
use tickwatch::detect::run::due_events;
use tickwatch::model::{AnomalyKind, Interval, Method, Severity, Symbol};
use tickwatch::notify::event::{AnomalyDetected, Change, DataEvent};
use tickwatch::notify::webhook::{self, RetryPolicy, WebhookError};
use tickwatch::notify::{Notifier, NotifySettings};
use tickwatch_tests::{TestDb, local_aws};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::detector::{history, scheduled, seed};

fn schema(kind: &str) -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/events")
        .join(format!("{kind}.v1.json"));
    let text = std::fs::read_to_string(&path).expect("the schema is committed");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("a valid JSON Schema")
}

/// Checks `event` as it is serialised against the schema of its type.
fn assert_matches_schema(event: &DataEvent) {
    let json = serde_json::to_value(event).expect("serialisable");
    let validator = schema(event.kind());
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{json}: {errors:?}");
}

fn anomalies(events: &[DataEvent]) -> Vec<&AnomalyDetected> {
    events
        .iter()
        .filter_map(|e| match e {
            DataEvent::AnomalyDetected(a) => Some(a),
            DataEvent::CandlesStored(_) => None,
        })
        .collect()
}

/// The names a schema allows for `field` (an `enum`, or the `enum` of its array's items).
fn schema_names(kind: &str, field: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/events")
        .join(format!("{kind}.v1.json"));
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("committed")).expect("JSON");
    let property = &schema["properties"][field];
    let names = property
        .get("enum")
        .or_else(|| property["items"].get("enum"))
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{kind}.{field} has an enum"));
    names
        .iter()
        .map(|n| n.as_str().expect("a name").to_owned())
        .collect()
}

#[test]
fn the_schemas_name_every_method_kind_and_interval_the_model_has() {
    let model = |names: Vec<&str>| names.into_iter().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        schema_names("anomaly.detected", "methods"),
        model(Method::ALL.iter().map(|m| m.as_str()).collect())
    );
    assert_eq!(
        schema_names("anomaly.detected", "kind"),
        model(AnomalyKind::ALL.iter().map(|k| k.as_str()).collect())
    );
    assert_eq!(
        schema_names("anomaly.detected", "interval"),
        model(Interval::ALL.iter().map(|i| i.as_str()).collect())
    );
}

#[tokio::test]
async fn what_the_detector_hands_on_matches_the_committed_schemas() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    seed(&test_db, "BTC", json!({}), &history("BTC", 600, now)).await;
    scheduled(&test_db, 250, now).await;
    let events = due_events(&test_db.db).await;
    let stored: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            DataEvent::CandlesStored(s) => Some(s),
            DataEvent::AnomalyDetected(_) => None,
        })
        .collect();
    assert_eq!(stored.len(), 1, "one per series");
    assert_eq!(stored[0].candles, 600);
    assert!(!anomalies(&events).is_empty(), "the injected anomalies");
    for event in &events {
        assert_matches_schema(event);
        let back: DataEvent =
            serde_json::from_value(serde_json::to_value(event).expect("json")).expect("parses");
        assert_eq!(&back, event);
    }
    // The schemas refuse what a consumer could not rely on.
    let mut json = serde_json::to_value(&events[0]).expect("json");
    json["interval"] = json!("7m");
    assert!(!schema("candles.stored").is_valid(&json));
    let first = anomalies(&events)[0];
    let mut json = serde_json::to_value(DataEvent::AnomalyDetected(first.clone())).expect("json");
    json.as_object_mut().expect("object").remove("severity");
    assert!(!schema("anomaly.detected").is_valid(&json));
}

#[tokio::test]
async fn each_event_is_announced_once_and_once_more_when_its_severity_rises() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    let candles = history("ETH", 600, now);
    seed(&test_db, "ETH", json!({}), &candles).await;
    scheduled(&test_db, 250, now).await;
    let first = due_events(&test_db.db).await;
    let announced = anomalies(&first).len();
    assert!(announced > 0);
    assert!(anomalies(&first).iter().all(|a| a.change == Change::New));
    assert!(due_events(&test_db.db).await.is_empty(), "taken once");

    // A re-run and a full rescan that change nothing announce nothing.
    scheduled(&test_db, 250, now).await;
    let client = test_db.raw().await;
    client
        .execute(
            "UPDATE detector_state SET rescan_from = \
             (SELECT min(open_time) FROM candles WHERE symbol = 'ETH') WHERE symbol = 'ETH'",
            &[],
        )
        .await
        .expect("ask for a rescan");
    scheduled(&test_db, 250, now).await;
    assert!(due_events(&test_db.db).await.is_empty(), "nothing new");

    // A severity that rises is announced once more, with the severity announced before.
    let row = client
        .query_one(
            "SELECT id, severity FROM anomalies WHERE severity <> 'critical' ORDER BY id LIMIT 1",
            &[],
        )
        .await
        .expect("an event below critical");
    let (id, before): (i64, String) = (row.get(0), row.get(1));
    client
        .execute(
            "UPDATE anomalies SET severity = 'critical' WHERE id = $1",
            &[&id],
        )
        .await
        .expect("raise");
    let raised = due_events(&test_db.db).await;
    let raised = anomalies(&raised);
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].id, id);
    assert_eq!(raised[0].change, Change::SeverityRaised);
    assert_eq!(
        raised[0].previous_severity.map(Severity::as_str),
        Some(before.as_str())
    );
    assert_eq!(raised[0].severity, Severity::Critical);
    client
        .execute(
            "UPDATE anomalies SET severity = 'low' WHERE id = $1",
            &[&id],
        )
        .await
        .expect("lower");
    assert!(
        due_events(&test_db.db).await.is_empty(),
        "a fall is not news"
    );

    // A corrected candle is a candles.stored of one candle.
    let mut corrected = candles[10].clone();
    corrected.close = corrected.high;
    candles::upsert(&client, &[corrected.clone()], UpsertMode::Replace)
        .await
        .expect("correction");
    match due_events(&test_db.db).await.as_slice() {
        [DataEvent::CandlesStored(stored)] => {
            assert_eq!(stored.candles, 1);
            assert_eq!(stored.first_open_time, corrected.open_time);
            assert_eq!(stored.last_open_time, corrected.open_time);
        }
        other => panic!("expected one candles.stored, got {other:?}"),
    }
}

fn sample(id: i64, severity: Severity, end_time: DateTime<Utc>) -> AnomalyDetected {
    AnomalyDetected {
        version: 1,
        id,
        change: Change::New,
        previous_severity: None,
        symbol: Symbol::parse("BTC").expect("symbol"),
        interval: Interval::OneHour,
        start_time: end_time - TimeDelta::hours(2),
        end_time,
        peak_time: end_time - TimeDelta::hours(1),
        candles: 3,
        score: 0.91,
        severity,
        kind: AnomalyKind::Spike,
        methods: vec![Method::ZScore, Method::Iqr],
        details: json!({"zscore": {"statistic": 9.2}}),
    }
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(10),
        timeout: Duration::from_millis(300),
    }
}

fn settings(webhook: Option<&str>) -> NotifySettings {
    let mut settings =
        NotifySettings::from_env(&tickwatch::config::Env::default()).expect("defaults");
    settings.webhook_url = webhook.map(|u| u.parse().expect("url"));
    settings.retry = quick();
    settings
}

#[tokio::test]
async fn the_webhook_is_retried_on_5xx_and_429_until_it_takes_the_alert() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            "text/html",
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let body = webhook::message(
        &sample(7, Severity::High, Utc::now()),
        Some("http://127.0.0.1:8080"),
    );
    let url = server.uri().parse().expect("url");
    let attempts = webhook::post(
        &tickwatch::net::http_client_builder()
            .build()
            .expect("client"),
        &url,
        &body,
        quick(),
    )
    .await
    .expect("delivered on the third attempt");
    assert_eq!(attempts, 3);
    let received = server.received_requests().await.expect("recorded");
    assert_eq!(received.len(), 3);
    let sent: Value = serde_json::from_slice(&received[2].body).expect("JSON");
    let text = sent["text"].as_str().expect("Slack's text field");
    assert!(text.contains("HIGH spike on BTC 1h"), "{text}");
    assert_eq!(
        sent["attachments"][0]["title_link"],
        "http://127.0.0.1:8080/chart/BTC"
    );
}

#[tokio::test]
async fn a_4xx_is_final_and_timeouts_and_refused_connections_give_up_after_the_attempts() {
    let body = webhook::message(&sample(7, Severity::High, Utc::now()), None);
    let http = tickwatch::net::http_client_builder()
        .build()
        .expect("client");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no_service"))
        .mount(&server)
        .await;
    let url = server.uri().parse().expect("url");
    let error = webhook::post(&http, &url, &body, quick())
        .await
        .expect_err("refused");
    assert!(
        matches!(
            error,
            WebhookError::Status {
                status: 404,
                attempts: 1
            }
        ),
        "{error}"
    );

    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&slow)
        .await;
    let url = slow.uri().parse().expect("url");
    let started = Instant::now();
    let error = webhook::post(&http, &url, &body, quick())
        .await
        .expect_err("too slow");
    assert!(
        matches!(error, WebhookError::Unreachable { attempts: 3, .. }),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded: {:?}",
        started.elapsed()
    );

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.local_addr().expect("address")
    };
    let url = format!("http://{closed}/hook").parse().expect("url");
    let error = webhook::post(&http, &url, &body, quick())
        .await
        .expect_err("nobody there");
    assert!(
        matches!(error, WebhookError::Unreachable { attempts: 3, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn only_recent_events_at_or_above_the_severity_are_alerts_and_a_dead_webhook_blocks_nothing()
{
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let notifier = Notifier::new(
        settings(Some(&server.uri())),
        tickwatch::net::http_client_builder()
            .build()
            .expect("client"),
        &tickwatch::aws::Aws::lazy(),
    )
    .await;
    let now = Utc::now();
    let payload = json!({
        "version": "1.0",
        "requestContext": {"condition": "Success"},
        "responsePayload": {
            "series_scanned": 1,
            "events": [
                DataEvent::AnomalyDetected(sample(1, Severity::High, now)),
                DataEvent::AnomalyDetected(sample(2, Severity::Medium, now)),
                DataEvent::AnomalyDetected(sample(3, Severity::Critical, now - TimeDelta::days(30))),
                DataEvent::AnomalyDetected(sample(4, Severity::Critical, now)),
                {"type": "anomaly.detected", "version": 1, "id": "not a number"},
                {"type": "something.else"},
            ]
        }
    });
    let report = notifier.deliver_payload(&payload, now).await;
    assert_eq!(report.events, 4);
    assert_eq!(report.rejected, 2);
    assert_eq!(report.alerts, 2, "high and critical, recent");
    assert_eq!(report.webhook_sent, 0);
    assert_eq!(report.webhook_failures, 2);
    let received = server.received_requests().await.expect("recorded");
    assert_eq!(received.len(), 2 * quick().attempts as usize);
    let ids: Vec<String> = received
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).expect("json")["attachments"][0]["fields"]
                    [2]["value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
        })
        .collect();
    assert!(ids.iter().all(|id| id == "1" || id == "4"), "{ids:?}");
}

/// Receives every message waiting on `queue`, polling until `want` arrived or time is up.
async fn drain(sqs: &aws_sdk_sqs::Client, queue: &str, want: usize) -> Vec<String> {
    let mut bodies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while bodies.len() < want && Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        for message in out.messages() {
            bodies.push(message.body().unwrap_or_default().to_owned());
        }
    }
    bodies
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("queue")
        .queue_url()
        .expect("url")
        .to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("arn")
        .clone();
    (url, arn)
}

#[tokio::test]
async fn data_events_reach_the_bus_and_alerts_the_topic() {
    let config = local_aws().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let sqs = aws_sdk_sqs::Client::new(&config);
    let sns = aws_sdk_sns::Client::new(&config);
    let bridge = aws_sdk_eventbridge::Client::new(&config);

    let topic = sns
        .create_topic()
        .name(format!("alerts-{suffix}"))
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .expect("arn")
        .to_owned();
    let (alerts_url, alerts_arn) = queue(&sqs, &format!("alerts-{suffix}")).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&alerts_arn)
        .send()
        .await
        .expect("subscribe");

    let bus = format!("tickwatch-{suffix}");
    bridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("bus");
    let (events_url, events_arn) = queue(&sqs, &format!("events-{suffix}")).await;
    bridge
        .put_rule()
        .name(format!("all-{suffix}"))
        .event_bus_name(&bus)
        .event_pattern(r#"{"source": ["tickwatch"]}"#)
        .send()
        .await
        .expect("rule");
    bridge
        .put_targets()
        .rule(format!("all-{suffix}"))
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&events_arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("target");

    let mut settings = settings(None);
    settings.topic_arn = Some(topic);
    settings.event_bus = Some(bus.clone());
    let notifier = Notifier::new(
        settings,
        tickwatch::net::http_client_builder()
            .build()
            .expect("client"),
        &tickwatch::aws::Aws::from_config(config.clone()),
    )
    .await;
    let now = Utc::now();
    let stored = json!({
        "type": "candles.stored", "version": 1, "symbol": "BTC", "interval": "1h",
        "candles": 12, "first_open_time": "2026-01-01T00:00:00Z",
        "last_open_time": "2026-01-01T11:00:00Z", "stored_at": "2026-01-01T12:00:05Z"
    });
    let mut events: Vec<DataEvent> = (1..=11)
        .map(|id| DataEvent::AnomalyDetected(sample(id, Severity::Low, now)))
        .collect();
    events.push(DataEvent::AnomalyDetected(sample(
        99,
        Severity::Critical,
        now,
    )));
    events.push(serde_json::from_value(stored).expect("a candles.stored"));
    let report = notifier.deliver(&events, now).await;
    assert_eq!(report.on_bus, 13, "two PutEvents calls");
    assert_eq!((report.alerts, report.topic_sent), (1, 1));

    let on_bus = drain(&sqs, &events_url, 13).await;
    assert_eq!(on_bus.len(), 13);
    for body in &on_bus {
        let envelope: Value = serde_json::from_str(body).expect("an EventBridge event");
        assert_eq!(envelope["source"], "tickwatch");
        let detail = &envelope["detail"];
        assert_eq!(envelope["detail-type"], detail["type"]);
        let kind = detail["type"].as_str().expect("type");
        let errors: Vec<String> = schema(kind)
            .iter_errors(detail)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{detail}: {errors:?}");
    }
    let alerts = drain(&sqs, &alerts_url, 1).await;
    assert_eq!(alerts.len(), 1);
    let notification: Value = serde_json::from_str(&alerts[0]).expect("an SNS notification");
    assert_eq!(notification["Subject"], "tickwatch: critical spike on BTC");
    let message: Value =
        serde_json::from_str(notification["Message"].as_str().expect("message")).expect("JSON");
    assert!(
        message["text"]
            .as_str()
            .is_some_and(|t| t.contains("CRITICAL"))
    );
    assert_eq!(
        notification["MessageAttributes"]["severity"]["Value"],
        "critical"
    );

    // With AWS unreachable the data events and the SNS alert are lost (logged, counted) and
    // the webhook still gets its alert.
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.local_addr().expect("address")
    };
    let unreachable = config
        .into_builder()
        .endpoint_url(format!("http://{closed}"))
        .build();
    let mut cut_off = notifier.settings.clone();
    cut_off.webhook_url = Some(hook.uri().parse().expect("url"));
    let cut_off = Notifier::new(
        cut_off,
        tickwatch::net::http_client_builder()
            .build()
            .expect("client"),
        &tickwatch::aws::Aws::from_config(unreachable),
    )
    .await;
    let report = cut_off.deliver(&events, now).await;
    assert_eq!(report.bus_failures, 1);
    assert_eq!(report.topic_failures, 1);
    assert_eq!(report.webhook_sent, 1);
}
