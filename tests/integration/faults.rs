//! The fault suite: the library against a PostgreSQL that is frozen (SIGSTOP), stopped or has
//! its connections killed, each on a cluster of the test's own, and against sources that
//! answer 429, 5xx, time out or cut their bodies short. Every call must end within its
//! deadline with an error that says what happened and whether a retry can help, and once the
//! fault is over the candle counts must be exact: nothing lost, nothing stored twice.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use tickwatch::collect::{CollectError, Collector};
use tickwatch::db::{COOL_DOWN, Db, DbError};
use tickwatch::detect::run::{Detection, Request, RunError};
use tickwatch::model::{Interval, Provider};
use tickwatch::providers::SyntheticSource;
use tickwatch_tests::{Cluster, TestDb, hours_ago, sym, watch, watched};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::collector::{kline, settings_for};

/// Short deadlines, so that the suite is quick: a statement may run 500 ms, a silent server is
/// given up after 1.5 s, a connection must open within 1 s.
const DEADLINES: [(&str, &str); 4] = [
    ("DB_STATEMENT_TIMEOUT_MS", "500"),
    ("DB_CONNECT_TIMEOUT_MS", "1000"),
    ("DB_POOL_WAIT_MS", "1000"),
    ("DB_POOL_SIZE", "2"),
];
/// The statement timeout plus the client's margin.
const PATIENCE: Duration = Duration::from_millis(1500);

async fn db_on(cluster: &Cluster) -> Db {
    let db = tickwatch_tests::connect(&cluster.url, &DEADLINES).await;
    db.migrate().await.expect("migrations apply");
    db
}

/// Runs `call`, returning its result and how long it took.
async fn timed<T>(call: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let result = call.await;
    (result, started.elapsed())
}

/// Waits out the cool-down of a failure, then checks the database answers again.
async fn answers_again(db: &Db) {
    tokio::time::sleep(COOL_DOWN).await;
    db.ping().await.expect("the database answers again");
}

// ---- The database --------------------------------------------------------------------------

#[tokio::test]
async fn a_frozen_server_fails_each_call_within_its_deadline_then_at_once_until_it_answers() {
    let cluster = Cluster::start().await;
    let db = db_on(&cluster).await;
    db.ping().await.expect("a warm connection");

    cluster.freeze().await;
    let (result, waited) = timed(db.ping()).await;
    let error = result.expect_err("nothing answers");
    assert!(error.is_unavailable(), "{error}");
    assert!(error.to_string().contains("did not answer"), "{error}");
    assert!(
        waited >= PATIENCE && waited < PATIENCE + Duration::from_secs(1),
        "{waited:?}"
    );

    // Until the database answers again, the next callers are refused at once.
    let (result, waited) = timed(db.client()).await;
    assert!(matches!(result, Err(DbError::Cooling(_))), "{result:?}");
    assert!(waited < Duration::from_millis(50), "{waited:?}");

    cluster.thaw().await;
    answers_again(&db).await;
}

#[tokio::test]
async fn a_frozen_postmaster_lets_open_sessions_work_and_fails_new_ones_within_the_connect_timeout()
{
    let cluster = Cluster::start().await;
    let db = db_on(&cluster).await;
    let open = db.client().await.expect("a session");
    open.simple_query("SELECT 1").await.expect("answers");

    cluster.freeze_postmaster().await;
    open.simple_query("SELECT 1")
        .await
        .expect("an open session is served by its own backend");
    // The pool holds two; the second must be opened, and the postmaster does not answer.
    let (result, waited) = timed(db.client()).await;
    let error = result.expect_err("no new session");
    assert!(error.is_unavailable(), "{error}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    drop(open);

    cluster.thaw().await;
    answers_again(&db).await;
}

#[tokio::test]
async fn a_stopped_server_is_refused_in_milliseconds_and_used_again_once_restarted() {
    let cluster = Cluster::start().await;
    let db = db_on(&cluster).await;
    db.ping().await.expect("a warm connection");

    cluster.stop().await;
    for _ in 0..3 {
        let (result, waited) = timed(db.ping()).await;
        let error = result.expect_err("stopped");
        assert!(error.is_unavailable(), "{error}");
        assert!(waited < Duration::from_millis(500), "{waited:?}");
    }

    cluster.start_again().await;
    answers_again(&db).await;
}

#[tokio::test]
async fn killed_connections_cost_at_most_one_failed_call_each() {
    let cluster = Cluster::start().await;
    let db = db_on(&cluster).await;
    for round in 0..3 {
        let (a, b) = (db.client().await.expect("a"), db.client().await.expect("b"));
        drop((a, b));
        assert!(cluster.kill_connections().await >= 1, "round {round}");
        let mut failures = 0;
        let mut answered = false;
        for _ in 0..3 {
            match db.ping().await {
                Ok(()) => {
                    answered = true;
                    break;
                }
                Err(error) => {
                    assert!(error.is_unavailable(), "{error}");
                    assert!(
                        !matches!(error, DbError::Cooling(_)),
                        "a killed session is no outage"
                    );
                    failures += 1;
                }
            }
        }
        assert!(
            answered && failures <= 2,
            "round {round}: {failures} failures"
        );
    }
}

#[tokio::test]
async fn a_live_server_cancels_a_statement_past_its_timeout_and_the_session_stays_usable() {
    let cluster = Cluster::start().await;
    let db = db_on(&cluster).await;
    let client = db.client().await.expect("a session");
    let (result, waited) = timed(client.simple_query("SELECT pg_sleep(3)")).await;
    let error = DbError::from(result.expect_err("cancelled"));
    assert!(error.is_unavailable(), "{error}");
    assert!(error.to_string().contains("statement timeout"), "{error}");
    assert!(
        waited >= Duration::from_millis(500) && waited < PATIENCE,
        "the server's own timeout comes first: {waited:?}"
    );
    client
        .simple_query("SELECT 1")
        .await
        .expect("the session is still good");
    drop(client);
    let again = db.client().await;
    assert!(
        again.is_ok(),
        "no cool-down, the server answered: {again:?}"
    );
}

// ---- The collector and the detector ----------------------------------------------------------

fn collector_on(db: &Db) -> Collector {
    let server_uri = "http://127.0.0.1:9";
    let mut settings = tickwatch::config::CollectorSettings::defaults();
    settings.binance.base_url = server_uri.to_owned();
    settings.batch_size = 250;
    Collector::builder(settings)
        .database(db.clone())
        .build()
        .expect("a collector")
}

async fn watch_on(db: &Db, symbol: &str, interval: Interval) {
    let entry = tickwatch::model::WatchedSymbol {
        interval,
        ..watched(symbol)
    };
    tickwatch::db::symbols::upsert(&db.client().await.expect("session"), &entry)
        .await
        .expect("watch");
}

/// (candles, distinct keys) of `symbol`, read outside the pool's deadlines.
async fn counts(cluster: &Cluster, symbol: &str) -> (i64, i64) {
    let (client, connection) = tokio_postgres::connect(&cluster.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT (interval, open_time)) FROM candles WHERE symbol = $1",
            &[&symbol],
        )
        .await
        .expect("count");
    (row.get(0), row.get(1))
}

/// Whole synthetic blocks, in the past: a range a backfill covers bucket for bucket.
fn backfill_range(minutes: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let anchor = SyntheticSource::anchor();
    let to = anchor + TimeDelta::minutes((Utc::now() - anchor).num_minutes() / 1_000 * 1_000);
    (to - TimeDelta::minutes(minutes), to)
}

#[tokio::test]
async fn a_scheduled_collection_against_a_frozen_server_gives_up_retryably_and_the_next_stores_all()
{
    let cluster = Cluster::start().await;
    let db = db_on(&cluster).await;
    for symbol in ["SYNA", "SYNB", "SYNC"] {
        watch_on(&db, symbol, Interval::OneDay).await;
    }
    let collector = collector_on(&db);

    cluster.freeze().await;
    let (result, waited) = timed(collector.collect_due(Utc::now())).await;
    let error = result.expect_err("nothing answers");
    assert!(error.is_retryable(), "{error}");
    assert!(error.to_string().contains("did not answer"), "{error}");
    assert!(waited < PATIENCE + Duration::from_secs(1), "{waited:?}");

    cluster.thaw().await;
    answers_again(&db).await;
    let report = collector.collect_due(Utc::now()).await.expect("stored");
    assert_eq!(report.failed, 0, "{report:?}");
    // The synthetic source's latest data is yesterday's and today's day candle.
    for symbol in ["SYNA", "SYNB", "SYNC"] {
        assert_eq!(counts(&cluster, symbol).await, (2, 2), "{symbol}");
    }
    collector.collect(&[sym("SYNA")]).await.expect("again");
    assert_eq!(
        counts(&cluster, "SYNA").await,
        (2, 2),
        "nothing stored twice"
    );
}

#[tokio::test]
async fn a_backfill_frozen_midway_stops_within_its_deadline_and_a_rerun_stores_every_candle_once() {
    let cluster = Cluster::start().await;
    let db = db_on(&cluster).await;
    watch_on(&db, "SYNA", Interval::OneMinute).await;
    watch_on(&db, "SYNB", Interval::OneMinute).await;
    let collector = collector_on(&db);
    let (from, to) = backfill_range(6_000);
    let both = [sym("SYNA"), sym("SYNB")];

    let run = collector.backfill(&both, from, to);
    let freeze = async {
        while counts(&cluster, "SYNA").await.0 < 1_000 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cluster.freeze().await;
        Instant::now()
    };
    let (result, frozen_at) = tokio::join!(run, freeze);
    let waited = frozen_at.elapsed();
    assert!(waited < PATIENCE + Duration::from_secs(2), "{waited:?}");
    let failed: Vec<_> = match &result {
        Ok(report) => report
            .outcomes
            .iter()
            .filter_map(|o| o.error.clone())
            .collect(),
        Err(error) => error
            .report()
            .map(|r| r.outcomes.iter().filter_map(|o| o.error.clone()).collect())
            .unwrap_or_default(),
    };
    assert!(!failed.is_empty(), "the run says it gave up: {result:?}");
    for error in &failed {
        assert_eq!(error.code, "database");
        assert!(error.retryable, "{error:?}");
    }

    cluster.thaw().await;
    answers_again(&db).await;
    collector
        .backfill(&both, from, to)
        .await
        .expect("the rerun completes");
    for symbol in ["SYNA", "SYNB"] {
        assert_eq!(counts(&cluster, symbol).await, (6_000, 6_000), "{symbol}");
    }
}

#[tokio::test]
async fn a_backfill_whose_connections_keep_being_killed_stores_every_candle_once_after_a_rerun() {
    let cluster = Cluster::start().await;
    let db = db_on(&cluster).await;
    watch_on(&db, "SYNA", Interval::OneMinute).await;
    let collector = collector_on(&db);
    let (from, to) = backfill_range(8_000);

    let done = AtomicBool::new(false);
    let run = async {
        let result = collector.backfill(&[sym("SYNA")], from, to).await;
        done.store(true, Ordering::Relaxed);
        result
    };
    let killer = async {
        let mut killed = 0;
        while !done.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(15)).await;
            killed += cluster.kill_connections().await;
        }
        killed
    };
    let (first, killed) = tokio::join!(run, killer);
    assert!(killed > 0, "the fault happened");
    if let Err(error) = &first {
        assert!(error.is_retryable(), "{error}");
    }
    // Retried as EventBridge retries a failed invocation: a session killed just before the
    // retry may still cost it its first statement.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match collector.backfill(&[sym("SYNA")], from, to).await {
            Ok(report) if report.failed == 0 => break,
            Ok(report) => assert!(attempts < 3, "{report:?}"),
            Err(error) => {
                assert!(error.is_retryable(), "{error}");
                assert!(attempts < 3, "{error}");
            }
        }
    }
    assert_eq!(counts(&cluster, "SYNA").await, (8_000, 8_000));
}

#[tokio::test]
async fn a_detector_run_against_a_frozen_server_gives_up_retryably() {
    let cluster = Cluster::start().await;
    let db = db_on(&cluster).await;
    watch_on(&db, "SYNA", Interval::OneMinute).await;
    let collector = collector_on(&db);
    let (from, to) = backfill_range(1_000);
    collector
        .backfill(&[sym("SYNA")], from, to)
        .await
        .expect("history");
    let detection = Detection::from_env(&tickwatch::config::Env::default()).expect("defaults");

    cluster.freeze().await;
    let (result, waited) = timed(tickwatch::detect::run::run(
        &db,
        &detection,
        &Request::Scheduled,
        Utc::now(),
    ))
    .await;
    let error = result.expect_err("nothing answers");
    assert!(matches!(error, RunError::Db(_)), "{error}");
    assert!(error.is_retryable());
    assert!(waited < PATIENCE + Duration::from_secs(1), "{waited:?}");

    cluster.thaw().await;
    answers_again(&db).await;
    let report = tickwatch::detect::run::run(&db, &detection, &Request::Scheduled, Utc::now())
        .await
        .expect("runs");
    assert_eq!(report.series_scanned, 1);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
}

// ---- Sources ------------------------------------------------------------------------------

/// A source that promises a body longer than it sends, then hangs up.
async fn truncating_server(body: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let cut = &body[..body.len() / 2];
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{cut}",
                body.len()
            );
        }
    });
    format!("http://{address}")
}

async fn stored_hours(test_db: &TestDb) -> Vec<(DateTime<Utc>, String)> {
    crate::collector::stored(test_db, "BTC", Interval::OneHour)
        .await
        .into_iter()
        .map(|c| (c.open_time, c.close.to_string()))
        .collect()
}

#[tokio::test]
async fn a_source_failing_every_way_loses_nothing_and_duplicates_nothing_once_it_recovers() {
    let test_db = TestDb::migrated().await;
    watch(&test_db, "BTC", Provider::Binance, "BTCUSDT").await;
    let klines = |last_close: &str| {
        json!([
            kline(hours_ago(4), "10", "12", "9", "11", "1"),
            kline(hours_ago(3), "11", "12", "10", "11.5", "1"),
            kline(hours_ago(2), "11.5", "13", "11", "12", "1"),
            kline(hours_ago(1), "12", "13", "11", "12.5", "1"),
            kline(hours_ago(0), "12.5", "14", "12", last_close, "1"),
        ])
    };
    let server = MockServer::start().await;
    let truncating = truncating_server(klines("13").to_string()).await;
    let collect = |base_url: &str| {
        let mut settings = settings_for(&server);
        settings.binance.base_url = base_url.to_owned();
        Collector::builder(settings)
            .database(test_db.db.clone())
            .build()
            .expect("a collector")
    };
    let failing_responses = [
        ResponseTemplate::new(429).insert_header("Retry-After", "600"),
        ResponseTemplate::new(503)
            .insert_header("content-type", "text/html")
            .set_body_string("<html><body><h1>503 Service Unavailable</h1></body></html>"),
        ResponseTemplate::new(200)
            .set_body_json(klines("13"))
            .set_delay(Duration::from_secs(3)),
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_string(&klines("13").to_string()[..200]),
    ];
    let answer_with = |response: ResponseTemplate| {
        let server = &server;
        async move {
            server.reset().await;
            Mock::given(method("GET"))
                .and(path("/api/v3/klines"))
                .respond_with(response)
                .mount(server)
                .await;
        }
    };
    for response in failing_responses {
        answer_with(response).await;
        let result = collect(&server.uri()).collect(&[sym("BTC")]).await;
        let error = result.expect_err("nothing usable");
        assert!(
            matches!(error, CollectError::NothingStored { .. }),
            "{error}"
        );
        assert_eq!(stored_hours(&test_db).await, [], "{error}");
    }
    let error = collect(&truncating)
        .collect(&[sym("BTC")])
        .await
        .expect_err("a cut body");
    assert!(error.is_retryable(), "{error}");
    assert_eq!(stored_hours(&test_db).await, []);

    // The source recovers: every candle it sends is stored, exactly once; sent again with the
    // newest candle moved on, one row changes and none is added.
    for (last_close, changed) in [("13", 5), ("13.5", 1)] {
        answer_with(ResponseTemplate::new(200).set_body_json(klines(last_close))).await;
        let report = collect(&server.uri())
            .collect(&[sym("BTC")])
            .await
            .expect("stored");
        assert_eq!(report.stored, changed, "close {last_close}");
    }
    let rows = stored_hours(&test_db).await;
    let times: Vec<_> = rows.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        times,
        [
            hours_ago(4),
            hours_ago(3),
            hours_ago(2),
            hours_ago(1),
            hours_ago(0)
        ]
    );
    assert_eq!(rows[4].1, "13.5");
}
