//! The detector against a real PostgreSQL: every closed candle gets a score, anomalies are
//! events, re-runs and concurrent runs change nothing twice, any split of the work gives the
//! scores and events of one full rescan, and a candle written behind the watermark (a late
//! backfill, a correction, a deletion) is rescanned without anyone asking — also one written
//! behind the first page of a series' first scan.

use chrono::{DateTime, TimeDelta, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use tickwatch::config::Env;
use tickwatch::db::candles::{self, UpsertMode};
use tickwatch::db::{anomalies, detector_state, symbols};
use tickwatch::detect::run::{Detection, Request, RunReport, run};
use tickwatch::detect::{DetectorConfig, Scorer, Series};
use tickwatch::model::{Candle, Interval, WatchedSymbol};
use tickwatch::providers::synthetic::{SyntheticParams, generate};
use tickwatch_tests::{TestDb, sym};

pub(crate) fn watched(symbol: &str, overrides: serde_json::Value) -> WatchedSymbol {
    WatchedSymbol {
        detector_overrides: overrides,
        ..tickwatch_tests::watched(symbol)
    }
}

/// `count` closed hourly candles ending with the last closed hour, with injected anomalies.
pub(crate) fn history(symbol: &str, count: usize, now: DateTime<Utc>) -> Vec<Candle> {
    let start = Interval::OneHour.bucket_start(now) - TimeDelta::hours(count as i64);
    generate(
        &sym(symbol),
        Interval::OneHour,
        start,
        count,
        &SyntheticParams {
            anomaly_every: Some(150),
            warm_up: 100,
            ..SyntheticParams::default()
        },
    )
    .candles
}

fn compact() -> DetectorConfig {
    tickwatch_tests::compact_detector_config()
}

pub(crate) fn detection(page_size: usize) -> Detection {
    let mut detection = Detection::from_env(&Env::default()).expect("default settings");
    detection.config = compact();
    detection.page_size = page_size;
    detection
}

pub(crate) async fn seed(
    test_db: &TestDb,
    symbol: &str,
    overrides: serde_json::Value,
    candles: &[Candle],
) {
    let client = test_db.raw().await;
    symbols::upsert(&client, &watched(symbol, overrides))
        .await
        .expect("watch list");
    candles::upsert(&client, candles, UpsertMode::Replace)
        .await
        .expect("candles");
}

pub(crate) async fn scheduled(test_db: &TestDb, page_size: usize, now: DateTime<Utc>) -> RunReport {
    run(&test_db.db, &detection(page_size), &Request::Scheduled, now)
        .await
        .expect("run")
}

/// Every stored score of a series, exactly as stored (floats as bits, JSON as text).
async fn scores(test_db: &TestDb, symbol: &str) -> Vec<String> {
    let client = test_db.raw().await;
    client
        .query(
            "SELECT open_time, p, score, severity, readings::text, facts::text
             FROM candle_scores WHERE symbol = $1 ORDER BY open_time",
            &[&symbol],
        )
        .await
        .expect("scores")
        .iter()
        .map(|r| {
            let bits = |i: usize| r.get::<_, Option<f64>>(i).map(f64::to_bits);
            format!(
                "{} {:?} {:?} {:?} {} {:?}",
                r.get::<_, DateTime<Utc>>(0),
                bits(1),
                bits(2),
                r.get::<_, Option<String>>(3),
                r.get::<_, String>(4),
                r.get::<_, Option<String>>(5),
            )
        })
        .collect()
}

/// Every stored event of a series without its identity and timestamps.
async fn events(test_db: &TestDb, symbol: &str) -> Vec<String> {
    let client = test_db.raw().await;
    anomalies::for_series(&client, &sym(symbol), Interval::OneHour)
        .await
        .expect("events")
        .into_iter()
        .map(|e| {
            let a = e.anomaly;
            format!(
                "{} {} {} {} {} {} {} {:?} {}",
                a.start_time,
                a.end_time,
                a.peak_time,
                a.candles,
                a.score.value().to_bits(),
                a.severity,
                a.kind,
                a.methods,
                a.details
            )
        })
        .collect()
}

/// What one full pass over the candles gives, computed in memory.
fn expected_scores(candles: &[Candle]) -> usize {
    let scorer = Scorer::new(&compact()).expect("valid");
    scorer
        .score(&Series::new(candles), 0)
        .iter()
        .filter(|s| s.p.is_some())
        .count()
}

#[tokio::test]
async fn a_scheduled_run_scores_every_closed_candle_and_a_rerun_changes_nothing() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    let candles = history("BTC", 1_200, now);
    seed(&test_db, "BTC", serde_json::json!({}), &candles).await;

    let first = scheduled(&test_db, 5_000, now).await;
    assert_eq!(first.series_scanned, 1);
    assert_eq!(first.candles_scanned, candles.len() as u64);
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert_eq!(first.scores_written, candles.len() as u64);
    let stored = scores(&test_db, "BTC").await;
    assert_eq!(stored.len(), candles.len());
    let judged = stored.iter().filter(|s| !s.contains(" None None ")).count();
    assert_eq!(judged, expected_scores(&candles));
    let found = events(&test_db, "BTC").await;
    assert!(!found.is_empty(), "injected anomalies make events");
    assert_eq!(first.events_opened, found.len() as u64);
    let client = test_db.raw().await;
    let state = detector_state::get(&client, &sym("BTC"), Interval::OneHour)
        .await
        .expect("state")
        .expect("scanned");
    assert_eq!(state.watermark, candles.last().map(|c| c.open_time));
    assert_eq!(
        state.rescan_from, None,
        "the run served the trigger's request"
    );
    let rows = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .query(sql, &[])
                .await
                .expect("rows")
                .iter()
                .map(|r| format!("{:?}", r.get::<_, DateTime<Utc>>(1)))
                .collect::<Vec<_>>()
        }
    };
    let scored_at = rows("SELECT open_time, scored_at FROM candle_scores ORDER BY 1").await;
    let updated_at = rows("SELECT id, updated_at FROM anomalies ORDER BY 1").await;

    let second = scheduled(&test_db, 5_000, now).await;
    assert_eq!((second.candles_scanned, second.scores_written), (0, 0));
    // Nothing closed since: the run says so, and when the candle being built closes.
    assert_eq!((first.series_current, second.series_current), (0, 1));
    assert_eq!(first.why_nothing_scanned(), None);
    assert!(second.why_nothing_scanned().is_some());
    assert_eq!(
        second.next_candle_closes,
        Some(Interval::OneHour.bucket_start(now) + TimeDelta::hours(1))
    );
    assert_eq!((second.events_opened, second.events_updated), (0, 0));
    assert_eq!(
        rows("SELECT open_time, scored_at FROM candle_scores ORDER BY 1").await,
        scored_at
    );
    assert_eq!(
        rows("SELECT id, updated_at FROM anomalies ORDER BY 1").await,
        updated_at
    );
    // An hour later the candle that was being built has closed, and it is judged.
    let later = now + TimeDelta::hours(1);
    let closed = history("BTC", 1, later);
    candles::upsert(&client, &closed, UpsertMode::Replace)
        .await
        .expect("candle");
    let third = scheduled(&test_db, 5_000, later).await;
    assert_eq!((third.candles_scanned, third.series_current), (1, 0));
}

/// Candles arrive in random chunks (some of them late, behind what was already scanned), the
/// detector runs between arrivals with a random page size; the result must be exactly what one
/// full rescan of the final candles stores.
#[tokio::test]
async fn any_page_size_and_any_arrival_order_give_the_scores_and_events_of_one_full_rescan() {
    let now = Utc::now();
    let candles = history("ETH", 1_300, now);
    let reference = TestDb::migrated().await;
    seed(&reference, "ETH", serde_json::json!({}), &candles).await;
    let full = run(
        &reference.db,
        &detection(100_000),
        &Request::Rescan {
            symbols: vec![sym("ETH")],
            from: candles[0].open_time,
            to: None,
        },
        now,
    )
    .await
    .expect("full rescan");
    assert_eq!(full.candles_scanned, candles.len() as u64);
    let expected_scores = scores(&reference, "ETH").await;
    let expected_events = events(&reference, "ETH").await;
    assert!(expected_events.len() >= 3, "{expected_events:?}");

    for seed_value in [1_u64, 2, 3] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed_value);
        let test_db = TestDb::migrated().await;
        seed(&test_db, "ETH", serde_json::json!({}), &[]).await;
        let client = test_db.raw().await;
        // Arrival order: the candles in chunks, a few chunks held back and delivered late.
        let mut chunks: Vec<&[Candle]> = Vec::new();
        let mut at = 0;
        while at < candles.len() {
            let size = rng.random_range(1..400).min(candles.len() - at);
            chunks.push(&candles[at..at + size]);
            at += size;
        }
        let mut late = Vec::new();
        for _ in 0..2 {
            let i = rng.random_range(0..chunks.len() - 1);
            late.push(chunks.remove(i));
        }
        chunks.extend(late);
        for chunk in chunks {
            candles::upsert(&client, chunk, UpsertMode::Replace)
                .await
                .expect("candles");
            let page_size = rng.random_range(10..600);
            let report = scheduled(&test_db, page_size, now).await;
            assert!(report.failures.is_empty(), "{:?}", report.failures);
        }
        assert_eq!(
            scores(&test_db, "ETH").await,
            expected_scores,
            "seed {seed_value}: scores"
        );
        assert_eq!(
            events(&test_db, "ETH").await,
            expected_events,
            "seed {seed_value}: events"
        );
    }
}

#[tokio::test]
async fn a_corrected_or_deleted_candle_behind_the_watermark_is_rescanned_from_there() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    let candles = history("SOL", 900, now);
    seed(&test_db, "SOL", serde_json::json!({}), &candles).await;
    scheduled(&test_db, 5_000, now).await;
    let client = test_db.raw().await;

    // A correction far behind the watermark: the trigger records it.
    let mut corrected = candles[600].clone();
    corrected.close *= Decimal::new(13, 1);
    corrected.high = corrected.high.max(corrected.close);
    candles::upsert(&client, &[corrected.clone()], UpsertMode::Replace)
        .await
        .expect("correction");
    let state = detector_state::get(&client, &sym("SOL"), Interval::OneHour)
        .await
        .expect("state")
        .expect("scanned");
    assert_eq!(state.rescan_from, Some(corrected.open_time));

    let report = scheduled(&test_db, 5_000, now).await;
    assert_eq!(report.candles_rescanned, 300);
    let mut now_stored = candles.clone();
    now_stored[600] = corrected;
    let reference = TestDb::migrated().await;
    seed(&reference, "SOL", serde_json::json!({}), &now_stored).await;
    scheduled(&reference, 5_000, now).await;
    assert_eq!(
        scores(&test_db, "SOL").await,
        scores(&reference, "SOL").await
    );
    assert_eq!(
        events(&test_db, "SOL").await,
        events(&reference, "SOL").await
    );
    let at = candles[600].open_time;
    assert!(
        events(&test_db, "SOL")
            .await
            .iter()
            .any(|e| e.contains(&at.to_string())),
        "the 30 % correction is an event"
    );

    // A deletion: the score goes with the candle and the rest is recomputed.
    assert!(
        candles::delete(&client, &sym("SOL"), Interval::OneHour, at)
            .await
            .expect("delete")
    );
    let report = scheduled(&test_db, 5_000, now).await;
    assert_eq!(report.candles_rescanned, 299);
    candles::delete(&reference.raw().await, &sym("SOL"), Interval::OneHour, at)
        .await
        .expect("delete");
    run(
        &reference.db,
        &detection(5_000),
        &Request::Rescan {
            symbols: vec![sym("SOL")],
            from: candles[0].open_time,
            to: None,
        },
        now,
    )
    .await
    .expect("rescan");
    assert_eq!(
        scores(&test_db, "SOL").await,
        scores(&reference, "SOL").await
    );
    assert_eq!(
        events(&test_db, "SOL").await,
        events(&reference, "SOL").await
    );
    let state = detector_state::get(&client, &sym("SOL"), Interval::OneHour)
        .await
        .expect("state")
        .expect("scanned");
    assert_eq!(state.rescan_from, None);
}

#[tokio::test]
async fn a_candle_written_behind_the_first_page_while_it_is_scored_is_rescanned() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    let candles = history("ADA", 600, now);
    let late = candles[300].clone();
    let on_time: Vec<Candle> = candles
        .iter()
        .filter(|c| c.open_time != late.open_time)
        .cloned()
        .collect();
    seed(&test_db, "ADA", serde_json::json!({}), &on_time).await;
    let client = test_db.raw().await;
    let state = || async {
        detector_state::get(&client, &sym("ADA"), Interval::OneHour)
            .await
            .expect("state")
    };
    let first = state().await.expect("the first write created the row");
    assert_eq!(first.watermark, None, "never scanned");

    // The first page of the first scan, step by step as the scan takes them: it reads the
    // state and the candles in its transaction ...
    let mut scan = test_db.db.client().await.expect("connection");
    let tx = scan.transaction().await.expect("transaction");
    let read = detector_state::get(&tx, &sym("ADA"), Interval::OneHour)
        .await
        .expect("state");
    // ... a backfill writes the missing candle behind the page and commits meanwhile ...
    candles::upsert(&client, std::slice::from_ref(&late), UpsertMode::Replace)
        .await
        .expect("late candle");
    // ... and the page finishes with the watermark at the last candle it read.
    let last = on_time.last().expect("candles").open_time;
    detector_state::finish_page(
        &tx,
        &sym("ADA"),
        Interval::OneHour,
        Some(last),
        read.map(|s| s.writes),
        None,
    )
    .await
    .expect("finish");
    tx.commit().await.expect("commit");
    let after = state().await.expect("row");
    assert_eq!(after.watermark, Some(last));
    // The page cannot tell where the write went, so the request covers what it read.
    assert!(
        after.rescan_from.is_some_and(|r| r <= late.open_time),
        "the late write is recorded: {after:?}"
    );

    // The next scheduled run recomputes from the late candle without being asked.
    let report = scheduled(&test_db, 5_000, now).await;
    assert!(report.candles_rescanned > 0, "{report:?}");
    let scored: i64 = client
        .query_one(
            "SELECT count(*) FROM candle_scores WHERE symbol = 'ADA' AND open_time = $1",
            &[&late.open_time],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(scored, 1, "the late candle has its score");
    assert_eq!(state().await.expect("row").rescan_from, None);
}

#[tokio::test]
async fn two_runs_at_once_scan_each_candle_once() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    let candles = history("ADA", 900, now);
    seed(&test_db, "ADA", serde_json::json!({}), &candles).await;

    let (a, b) = tokio::join!(scheduled(&test_db, 300, now), scheduled(&test_db, 300, now));
    assert_eq!(a.candles_scanned + b.candles_scanned, candles.len() as u64);
    assert_eq!(
        a.events_opened + b.events_opened,
        events(&test_db, "ADA").await.len() as u64
    );
    let reference = TestDb::migrated().await;
    seed(&reference, "ADA", serde_json::json!({}), &candles).await;
    scheduled(&reference, 5_000, now).await;
    assert_eq!(
        scores(&test_db, "ADA").await,
        scores(&reference, "ADA").await
    );
    assert_eq!(
        events(&test_db, "ADA").await,
        events(&reference, "ADA").await
    );
}

#[tokio::test]
async fn a_rescan_with_a_higher_threshold_updates_and_removes_events_keeping_their_ids() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    let candles = history("DOT", 1_000, now);
    seed(&test_db, "DOT", serde_json::json!({}), &candles).await;
    scheduled(&test_db, 5_000, now).await;
    let client = test_db.raw().await;
    let before = anomalies::for_series(&client, &sym("DOT"), Interval::OneHour)
        .await
        .expect("events");
    assert!(before.len() >= 2);

    // A threshold between the events' peaks: some events pass it, some do not.
    let mut peaks: Vec<f64> = before.iter().map(|e| e.anomaly.score.value()).collect();
    peaks.sort_by(f64::total_cmp);
    let threshold = (peaks[peaks.len() / 2] + peaks[peaks.len() - 1]) / 2.0;
    assert!(threshold > peaks[0], "the events' peaks differ: {peaks:?}");
    let client = test_db.raw().await;
    symbols::upsert(
        &client,
        &watched(
            "DOT",
            serde_json::json!({"events": {"threshold": threshold}}),
        ),
    )
    .await
    .expect("overrides");
    let request = Request::parse(&serde_json::json!({
        "action": "rescan", "symbols": ["DOT"], "from": candles[0].open_time.to_rfc3339()
    }))
    .expect("valid rescan");
    let report = run(&test_db.db, &detection(250), &request, now)
        .await
        .expect("rescan");
    assert_eq!(report.candles_scanned, candles.len() as u64);
    assert_eq!(
        report.scores_written, 0,
        "the scores do not depend on the threshold"
    );
    let after = anomalies::for_series(&client, &sym("DOT"), Interval::OneHour)
        .await
        .expect("events");
    assert!(after.len() < before.len(), "fewer events pass {threshold}");
    assert!(!after.is_empty(), "the strongest event passes {threshold}");
    assert!(after.iter().all(|e| e.anomaly.score.value() >= threshold));
    assert_eq!(report.events_deleted as usize, before.len() - after.len());
    assert_eq!(report.events_opened, 0, "surviving events keep their rows");
    for event in &after {
        assert!(before.iter().any(|b| b.id == event.id));
    }

    let again = run(&test_db.db, &detection(250), &request, now)
        .await
        .expect("rescan");
    assert_eq!(
        (
            again.scores_written,
            again.events_opened,
            again.events_updated,
            again.events_deleted
        ),
        (0, 0, 0, 0)
    );
}

#[tokio::test]
async fn bad_overrides_and_unknown_symbols_are_reported_without_stopping_the_others() {
    let test_db = TestDb::migrated().await;
    let now = Utc::now();
    seed(
        &test_db,
        "DOGE",
        serde_json::json!({"zscore": {"window": -1}}),
        &history("DOGE", 400, now),
    )
    .await;
    seed(
        &test_db,
        "LTC",
        serde_json::json!({}),
        &history("LTC", 400, now),
    )
    .await;

    let report = scheduled(&test_db, 5_000, now).await;
    assert_eq!(report.series_scanned, 1);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].symbol, "DOGE");
    assert_eq!(report.failures[0].reason, "invalid_overrides");
    assert!(
        report.failures[0].message.contains("zscore"),
        "{}",
        report.failures[0].message
    );
    assert_eq!(scores(&test_db, "LTC").await.len(), 400);

    let rescan = Request::parse(&serde_json::json!({
        "action": "rescan", "symbols": ["NOPE", "LTC"], "from": "2020-01-01T00:00:00Z"
    }))
    .expect("valid rescan");
    let report = run(&test_db.db, &detection(5_000), &rescan, now)
        .await
        .expect("rescan");
    assert_eq!(report.series_scanned, 1);
    assert_eq!(report.failures[0].reason, "unknown_symbol");
}
