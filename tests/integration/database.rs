use chrono::{TimeDelta, TimeZone, Utc};
use rust_decimal::{Decimal, dec};
use tickwatch::db::candles::{self, UpsertMode};
use tickwatch::db::{anomalies, detector_state, symbols};
use tickwatch::detect::events::Event;
use tickwatch::model::{
    AnomalyKind, Candle, CandleInput, CandleSource, Interval, Method, Provider, Severity, Symbol,
};
use tickwatch_tests::{TestDb, sym, watch_synthetic, watched};

/// Every stored candle of one series, oldest first: what a test reads back after writing.
async fn stored_series(
    client: &impl deadpool_postgres::GenericClient,
    symbol: &Symbol,
    interval: Interval,
) -> Vec<Candle> {
    candles::range_ascending(
        client,
        symbol,
        interval,
        tickwatch::model::EARLIEST,
        tickwatch::model::LATEST,
        100_000,
    )
    .await
    .expect("read the series back")
}

fn candle(symbol: &str, hour: u32, close: Decimal) -> Candle {
    let open_time = Utc
        .with_ymd_and_hms(2026, 1, 1, hour, 0, 0)
        .single()
        .expect("valid time");
    Candle::validate(
        CandleInput {
            symbol: sym(symbol),
            interval: Interval::OneHour,
            open_time,
            open: close,
            high: close,
            low: close,
            close,
            volume: Some(dec!(1)),
            source: Provider::Synthetic,
        },
        Utc::now(),
    )
    .expect("valid candle")
}

#[tokio::test]
async fn the_watch_list_supports_insert_replace_list_and_delete() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    assert!(
        symbols::upsert(&client, &watched("BTC"))
            .await
            .expect("insert")
    );
    let mut eth = watched("ETH");
    assert!(symbols::upsert(&client, &eth).await.expect("insert"));
    eth.enabled = false;
    assert!(
        !symbols::upsert(&client, &eth).await.expect("replace"),
        "second upsert replaces"
    );
    let all = symbols::list(&client).await.expect("list");
    assert_eq!(
        all.iter().map(|w| w.symbol.as_str()).collect::<Vec<_>>(),
        ["BTC", "ETH"]
    );
    let enabled = symbols::list_enabled(&client).await.expect("list enabled");
    assert_eq!(enabled.len(), 1);
    assert_eq!(
        symbols::get(&client, &sym("ETH")).await.expect("get"),
        Some(eth)
    );
    assert!(symbols::delete(&client, &sym("ETH")).await.expect("delete"));
    assert!(
        !symbols::delete(&client, &sym("ETH"))
            .await
            .expect("delete again")
    );
}

#[tokio::test]
async fn upserting_the_same_candles_twice_changes_nothing_the_second_time() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    let batch: Vec<_> = (0..24)
        .map(|h| candle("BTC", h, Decimal::from(100 + h)))
        .collect();
    let first = candles::upsert(&client, &batch, UpsertMode::Replace)
        .await
        .expect("first");
    let second = candles::upsert(&client, &batch, UpsertMode::Replace)
        .await
        .expect("second");
    assert_eq!(first.written, 24);
    assert_eq!(second.written, 0);
}

#[tokio::test]
async fn disagreeing_copies_inside_one_batch_are_all_refused_and_exact_repeats_stored_once() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    let batch = [
        candle("BTC", 1, dec!(10)),
        candle("BTC", 1, dec!(11)),
        candle("BTC", 2, dec!(12)),
        candle("BTC", 2, dec!(12)),
    ];
    let outcome = candles::upsert(&client, &batch, UpsertMode::Replace)
        .await
        .expect("upsert");
    assert_eq!((outcome.written, outcome.duplicates), (1, 3));
    let stored = stored_series(&client, &sym("BTC"), Interval::OneHour).await;
    let closes: Vec<_> = stored.iter().map(|c| c.close).collect();
    assert_eq!(
        closes,
        [dec!(12)],
        "nothing says which copy of hour 1 is right"
    );
}

#[tokio::test]
async fn sub_cent_prices_come_back_exactly() {
    let test_db = TestDb::watching(&["SHIB"]).await;
    let client = test_db.raw().await;
    let price = dec!(0.000012345678901234);
    candles::upsert(&client, &[candle("SHIB", 3, price)], UpsertMode::Replace)
        .await
        .expect("upsert");
    let stored = candles::latest(&client, &sym("SHIB"), Interval::OneHour)
        .await
        .expect("latest")
        .expect("a candle");
    assert_eq!(stored.close, price);
    assert_eq!(stored.close.to_string(), "0.000012345678901234");
}

#[tokio::test]
async fn merging_quotes_keeps_the_open_and_widens_the_range() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    for price in [dec!(100), dec!(120), dec!(90), dec!(105)] {
        candles::upsert(&client, &[candle("BTC", 5, price)], UpsertMode::MergeQuote)
            .await
            .expect("merge");
    }
    let c = candles::latest(&client, &sym("BTC"), Interval::OneHour)
        .await
        .expect("latest")
        .expect("a candle");
    assert_eq!(
        (c.open, c.high, c.low, c.close),
        (dec!(100), dec!(120), dec!(90), dec!(105))
    );
}

#[tokio::test]
async fn the_schema_itself_refuses_an_inconsistent_candle() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    let err = client
        .execute(
            "INSERT INTO candles (symbol, interval, open_time, open, high, low, close, source)
             VALUES ('BTC', '1h', now(), 10, 5, 8, 9, 'synthetic')",
            &[],
        )
        .await
        .expect_err("high below low is refused");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION)
    );
}

fn event(at: chrono::DateTime<Utc>, severity: Severity, score: f64) -> Event {
    Event {
        start: at,
        end: at + TimeDelta::hours(2),
        peak_time: at + TimeDelta::hours(1),
        peak_score: score,
        severity,
        candles: 3,
        kind: AnomalyKind::Spike,
        methods: vec![Method::ZScore, Method::Iqr],
        details: serde_json::json!({"peak": {"p": 1e-6}}),
    }
}

#[tokio::test]
async fn events_keep_their_identity_and_record_when_their_severity_rises() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    let at = Utc
        .with_ymd_and_hms(2026, 1, 1, 7, 0, 0)
        .single()
        .expect("valid time");
    let first = event(at, Severity::Medium, 0.4);
    let id = anomalies::insert(&client, &sym("BTC"), Interval::OneHour, &first)
        .await
        .expect("insert");
    assert!(
        !anomalies::update(&client, id, &first)
            .await
            .expect("same event"),
        "an unchanged event is not rewritten"
    );
    let worse = event(at, Severity::High, 0.6);
    assert!(anomalies::update(&client, id, &worse).await.expect("worse"));
    let stored = anomalies::for_series(&client, &sym("BTC"), Interval::OneHour)
        .await
        .expect("read back");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, id);
    assert_eq!(stored[0].anomaly.severity, Severity::High);
    assert_eq!(stored[0].anomaly.methods, vec![Method::ZScore, Method::Iqr]);
    let raised = stored[0].severity_raised_at;
    assert!(raised.is_some());
    let milder = event(at, Severity::Low, 0.2);
    assert!(
        anomalies::update(&client, id, &milder)
            .await
            .expect("milder")
    );
    let stored = anomalies::for_series(&client, &sym("BTC"), Interval::OneHour)
        .await
        .expect("read back");
    assert_eq!(
        stored[0].severity_raised_at, raised,
        "a milder event raises nothing"
    );
    assert_eq!(stored[0].anomaly.severity, Severity::Low);
    assert_eq!(anomalies::delete(&client, &[id]).await.expect("delete"), 1);
}

#[tokio::test]
async fn writing_candles_records_where_the_detector_must_recompute_once_per_statement() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    let at = |h: i64| {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid time")
            + TimeDelta::hours(h)
    };
    let candle = |h: i64, close: Decimal| Candle {
        symbol: sym("BTC"),
        interval: Interval::OneHour,
        open_time: at(h),
        open: close,
        high: close,
        low: close,
        close,
        volume: None,
        source: Provider::Synthetic.into(),
    };
    let rows: Vec<Candle> = (0..10).map(|h| candle(h, dec!(100))).collect();
    candles::upsert(&client, &rows, UpsertMode::Replace)
        .await
        .expect("candles");
    let state = || async {
        detector_state::get(&client, &sym("BTC"), Interval::OneHour)
            .await
            .expect("state")
            .expect("a row from the first write on")
    };
    let rescan_from = || async { state().await.rescan_from };
    // A scan's page finishing at hour `watermark` after reading `writes` (no follow-up).
    let finish = |watermark: i64, writes: Option<i64>| {
        let client = &client;
        async move {
            detector_state::finish_page(
                client,
                &sym("BTC"),
                Interval::OneHour,
                Some(at(watermark)),
                writes,
                None,
            )
            .await
            .expect("finished");
        }
    };
    // Never scanned: the first write created the row, with no watermark, asking from hour 0.
    let first = state().await;
    assert_eq!(first.watermark, None);
    assert_eq!(first.rescan_from, Some(at(0)));
    finish(9, Some(first.writes)).await;
    assert_eq!(rescan_from().await, None);
    // One statement touching hours 7, 3 and 12 records the earliest.
    candles::upsert(
        &client,
        &[
            candle(7, dec!(101)),
            candle(3, dec!(99)),
            candle(12, dec!(100)),
        ],
        UpsertMode::Replace,
    )
    .await
    .expect("upsert");
    assert_eq!(rescan_from().await, Some(at(3)));
    let read = state().await;
    // A later write to hour 5 does not move it back up; re-sending unchanged candles is no write.
    candles::upsert(&client, &[candle(5, dec!(102))], UpsertMode::Replace)
        .await
        .expect("upsert");
    let written = state().await;
    assert_eq!(written.writes, read.writes + 1);
    candles::upsert(&client, &[candle(1, dec!(100))], UpsertMode::Replace)
        .await
        .expect("unchanged");
    assert_eq!(state().await, written, "an unchanged candle is no write");
    // A scan that read the state before the write to hour 5 must not clear the request: hour 5
    // may lie behind its page although it is later than the hour 3 it read.
    finish(12, Some(read.writes)).await;
    assert_eq!(rescan_from().await, Some(at(3)));
    // One that read the latest state clears it; a deletion behind the watermark records again.
    finish(12, Some(written.writes)).await;
    assert_eq!(rescan_from().await, None);
    candles::delete(&client, &sym("BTC"), Interval::OneHour, at(2))
        .await
        .expect("delete");
    assert_eq!(rescan_from().await, Some(at(2)));
    // A scan that found no row must not clear a request either.
    finish(12, None).await;
    assert_eq!(rescan_from().await, Some(at(2)));
    // Deleting the symbol takes its candles and its state, and the trigger asks for nothing.
    symbols::delete(&client, &sym("BTC"))
        .await
        .expect("delete symbol");
    assert_eq!(
        detector_state::get(&client, &sym("BTC"), Interval::OneHour)
            .await
            .expect("state"),
        None
    );
}

#[tokio::test]
async fn the_watermark_only_moves_forward() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    let at = Utc
        .with_ymd_and_hms(2026, 1, 1, 7, 0, 0)
        .single()
        .expect("valid time");
    detector_state::advance(&client, &sym("BTC"), Interval::OneHour, at)
        .await
        .expect("advance");
    detector_state::advance(
        &client,
        &sym("BTC"),
        Interval::OneHour,
        at - TimeDelta::hours(3),
    )
    .await
    .expect("advance backwards is ignored");
    let mark = detector_state::watermark(&client, &sym("BTC"), Interval::OneHour)
        .await
        .expect("watermark");
    assert_eq!(mark, Some(at));
}

/// The per-series counts behind `/metrics` must match a real count after every kind of write.
pub(crate) async fn counts_match_a_real_count(client: &tickwatch::db::Client) {
    let kept = tickwatch::db::stats::candle_counts(client)
        .await
        .expect("kept counts");
    kept_counts_match_a_real_count(client, kept, "candles").await;
}

/// A summary's counts per series, as `stats` reads it, against counting `table` itself.
async fn kept_counts_match_a_real_count(
    client: &tickwatch::db::Client,
    kept: Vec<tickwatch::db::stats::SeriesCount>,
    table: &str,
) {
    let real: Vec<(String, String, i64)> = client
        .query(
            &format!("SELECT symbol, interval, count(*) FROM {table} GROUP BY 1, 2 ORDER BY 1, 2"),
            &[],
        )
        .await
        .expect("real counts")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let kept: Vec<(String, String, i64)> = kept
        .into_iter()
        .map(|c| (c.symbol, c.interval, c.rows))
        .collect();
    assert_eq!(kept, real, "{table}");
}

async fn anomaly_counts_match_a_real_count(client: &tickwatch::db::Client) -> Vec<i64> {
    let kept = tickwatch::db::stats::anomaly_counts(client)
        .await
        .expect("kept counts");
    let rows = kept.iter().map(|c| c.rows).collect();
    kept_counts_match_a_real_count(client, kept, "anomalies").await;
    rows
}

/// What `/metrics` reports per series is kept by triggers on `anomalies` (a scrape reads a
/// few rows, never the table): every way events come and go keeps it equal to a real count.
#[tokio::test]
async fn anomaly_counts_follow_inserts_updates_deletes_cascades_and_truncates() {
    let test_db = TestDb::watching(&["BTC", "ETH"]).await;
    let client = test_db.raw().await;
    let at = |hour: u32| {
        Utc.with_ymd_and_hms(2026, 1, 1, hour, 0, 0)
            .single()
            .expect("valid time")
    };
    let mut btc = Vec::new();
    for hour in [0, 4, 8] {
        let event = event(at(hour), Severity::Medium, 0.4);
        btc.push(
            anomalies::insert(&client, &sym("BTC"), Interval::OneHour, &event)
                .await
                .expect("insert"),
        );
    }
    anomalies::insert(
        &client,
        &sym("ETH"),
        Interval::OneHour,
        &event(at(2), Severity::High, 0.7),
    )
    .await
    .expect("insert");
    assert_eq!(anomaly_counts_match_a_real_count(&client).await, [3, 1]);

    // One statement over both series (grouped once), then the detector's kind of update,
    // which changes no count, and a hand-made one that moves an event to another series.
    client
        .execute(
            "INSERT INTO anomalies (symbol, interval, start_time, end_time, peak_time, candles,
                                    score, severity, kind, methods)
             SELECT symbol, interval, start_time + interval '1 day', end_time + interval '1 day',
                    peak_time + interval '1 day', candles, score, severity, kind, methods
             FROM anomalies",
            &[],
        )
        .await
        .expect("a copy of every event");
    assert_eq!(anomaly_counts_match_a_real_count(&client).await, [6, 2]);
    assert!(
        anomalies::update(&client, btc[0], &event(at(0), Severity::High, 0.6))
            .await
            .expect("rescored")
    );
    assert_eq!(anomaly_counts_match_a_real_count(&client).await, [6, 2]);
    client
        .execute(
            "UPDATE anomalies SET symbol = 'ETH' WHERE id = $1",
            &[&btc[1]],
        )
        .await
        .expect("moved");
    assert_eq!(anomaly_counts_match_a_real_count(&client).await, [5, 3]);

    assert_eq!(
        anomalies::delete(&client, &btc[2..]).await.expect("delete"),
        1
    );
    assert_eq!(anomaly_counts_match_a_real_count(&client).await, [4, 3]);
    symbols::delete(&client, &sym("ETH"))
        .await
        .expect("unwatch: its events cascade");
    assert_eq!(anomaly_counts_match_a_real_count(&client).await, [4]);
    client
        .batch_execute("TRUNCATE anomalies")
        .await
        .expect("truncate");
    assert!(anomaly_counts_match_a_real_count(&client).await.is_empty());
}

#[tokio::test]
async fn series_counts_follow_inserts_updates_deletes_cascades_and_truncates() {
    let test_db = TestDb::watching(&["BTC", "ETH"]).await;
    let client = test_db.raw().await;
    let btc: Vec<_> = (0..10)
        .map(|h| candle("BTC", h, Decimal::from(100 + h)))
        .collect();
    candles::upsert(&client, &btc, UpsertMode::Replace)
        .await
        .expect("btc");
    candles::upsert(&client, &btc[..4], UpsertMode::Replace)
        .await
        .expect("the same again");
    let changed: Vec<_> = (8..14)
        .map(|h| candle("BTC", h, Decimal::from(200 + h)))
        .collect();
    candles::upsert(&client, &changed, UpsertMode::Replace)
        .await
        .expect("four updates, four inserts");
    candles::upsert(&client, &[candle("ETH", 1, dec!(5))], UpsertMode::Replace)
        .await
        .expect("eth");
    counts_match_a_real_count(&client).await;
    let kept = tickwatch::db::stats::candle_counts(&client)
        .await
        .expect("counts");
    assert_eq!(
        kept.iter().map(|c| c.rows).collect::<Vec<_>>(),
        [14, 1],
        "BTC then ETH"
    );

    client
        .execute(
            "UPDATE candles SET symbol = 'ETH' WHERE symbol = 'BTC' AND open_time >= '2026-01-01T12:00:00Z'",
            &[],
        )
        .await
        .expect("a row moved between series");
    counts_match_a_real_count(&client).await;
    assert!(
        candles::delete(&client, &sym("BTC"), Interval::OneHour, btc[0].open_time)
            .await
            .expect("delete")
    );
    counts_match_a_real_count(&client).await;
    symbols::delete(&client, &sym("ETH"))
        .await
        .expect("unwatch: its candles cascade");
    counts_match_a_real_count(&client).await;
    client
        .batch_execute("TRUNCATE candles CASCADE")
        .await
        .expect("truncate (with the scores that reference the candles)");
    counts_match_a_real_count(&client).await;
    assert!(
        tickwatch::db::stats::candle_counts(&client)
            .await
            .expect("counts")
            .is_empty()
    );
}

/// The outbox rows a test database holds, in an order that does not depend on how one
/// statement's series were grouped: (symbol, candles, first hour, last hour).
async fn announced(client: &tickwatch::db::Client) -> Vec<(String, i32, u32, u32)> {
    use chrono::Timelike;
    client
        .query(
            "SELECT symbol, candles, first_open_time, last_open_time FROM candles_stored_outbox
             ORDER BY id, symbol",
            &[],
        )
        .await
        .expect("outbox")
        .iter()
        .map(|r| {
            let first: chrono::DateTime<Utc> = r.get(2);
            let last: chrono::DateTime<Utc> = r.get(3);
            (r.get(0), r.get(1), first.hour(), last.hour())
        })
        .collect()
}

async fn rescan_state(client: &tickwatch::db::Client, symbol: &str) -> (u32, i64) {
    use chrono::Timelike;
    let state = detector_state::get(client, &sym(symbol), Interval::OneHour)
        .await
        .expect("state")
        .expect("a row from the first write");
    let from = state.rescan_from.expect("a rescan was asked for");
    (from.hour(), state.writes)
}

/// One statement that writes several series records each of them on its own: its count, one
/// outbox row with its own first and last candle, and a rescan from its own earliest candle.
#[tokio::test]
async fn one_statement_over_several_series_records_each_series_apart() {
    let test_db = TestDb::watching(&["BTC", "ETH"]).await;
    let client = test_db.raw().await;
    let mut batch: Vec<_> = (0..5).map(|h| candle("BTC", h, dec!(100))).collect();
    batch.extend((2..4).map(|h| candle("ETH", h, dec!(5))));
    candles::upsert(&client, &batch, UpsertMode::Replace)
        .await
        .expect("two series in one statement");
    counts_match_a_real_count(&client).await;
    let mut first = announced(&client).await;
    first.sort();
    assert_eq!(
        first,
        [("BTC".into(), 5, 0, 4), ("ETH".into(), 2, 2, 3)],
        "one outbox row per series"
    );
    assert_eq!(rescan_state(&client, "BTC").await, (0, 1));
    assert_eq!(rescan_state(&client, "ETH").await, (2, 1));

    // One BTC candle changed and one ETH candle new, in one upsert: an update and an insert.
    candles::upsert(
        &client,
        &[candle("BTC", 1, dec!(101)), candle("ETH", 5, dec!(6))],
        UpsertMode::Replace,
    )
    .await
    .expect("an update and an insert");
    counts_match_a_real_count(&client).await;
    let after = announced(&client).await;
    let mut second = after[2..].to_vec();
    second.sort();
    assert_eq!(
        second,
        [("BTC".into(), 1, 1, 1), ("ETH".into(), 1, 5, 5)],
        "the changed candle and the new one are announced, nothing else"
    );
    assert_eq!(rescan_state(&client, "BTC").await, (0, 2));
    assert_eq!(rescan_state(&client, "ETH").await, (2, 2));

    assert!(
        candles::delete(&client, &sym("ETH"), Interval::OneHour, batch[5].open_time)
            .await
            .expect("delete")
    );
    counts_match_a_real_count(&client).await;
    assert_eq!(
        announced(&client).await.len(),
        4,
        "a delete announces nothing"
    );
    assert_eq!(
        rescan_state(&client, "ETH").await,
        (2, 3),
        "but it asks for a rescan"
    );
}

fn minute_candles(symbol: &str, count: usize, close: impl Fn(usize) -> Decimal) -> Vec<Candle> {
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid time");
    (0..count)
        .map(|i| {
            let price = close(i);
            Candle::validate(
                CandleInput {
                    symbol: sym(symbol),
                    interval: Interval::OneMinute,
                    open_time: start + TimeDelta::minutes(i as i64),
                    open: price,
                    high: price + dec!(1),
                    low: price,
                    close: price,
                    volume: (i % 3 != 0).then(|| Decimal::from(i)),
                    source: Provider::Synthetic,
                },
                Utc::now(),
            )
            .expect("valid candle")
        })
        .collect()
}

#[tokio::test]
async fn a_large_batch_goes_through_copy_and_stays_idempotent_and_exact() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    let count = candles::COPY_FROM * 2 + 7;
    let batch = minute_candles("BTC", count, |i| dec!(0.000012345678) + Decimal::from(i));
    let first = candles::upsert(&client, &batch, UpsertMode::Replace)
        .await
        .expect("first");
    assert_eq!((first.written, first.duplicates), (count as u64, 0));
    let again = candles::upsert(&client, &batch, UpsertMode::Replace)
        .await
        .expect("again");
    assert_eq!(again.written, 0, "unchanged rows are not rewritten");

    let mut changed = batch.clone();
    for c in changed.iter_mut().step_by(10) {
        c.close = c.low;
        c.volume = None;
    }
    let expected_changes = changed
        .iter()
        .zip(&batch)
        .filter(|(a, b)| a.close != b.close || a.volume != b.volume)
        .count() as u64;
    let third = candles::upsert(&client, &changed, UpsertMode::Replace)
        .await
        .expect("third");
    assert_eq!(third.written, expected_changes);
    let stored = stored_series(&client, &sym("BTC"), Interval::OneMinute).await;
    assert_eq!(stored, changed, "every column comes back exactly");
}

#[tokio::test]
async fn a_large_batch_of_quotes_merges_like_a_small_one() {
    let test_db = TestDb::watching(&["BTC", "ETH"]).await;
    let client = test_db.raw().await;
    let count = candles::COPY_FROM + 1;
    let first = minute_candles("BTC", count, |i| Decimal::from(100 + i));
    let second = minute_candles("BTC", count, |i| Decimal::from(100 + i) - dec!(0.5));
    // The same two rounds, one series through COPY, the other as small batches.
    let small = |c: &[Candle]| {
        c.iter()
            .map(|c| Candle {
                symbol: sym("ETH"),
                ..c.clone()
            })
            .collect::<Vec<_>>()
    };
    for round in [&first, &second] {
        candles::upsert(&client, round, UpsertMode::MergeQuote)
            .await
            .expect("through copy");
        for chunk in small(round).chunks(candles::COPY_FROM - 1) {
            candles::upsert(&client, chunk, UpsertMode::MergeQuote)
                .await
                .expect("as arrays");
        }
    }
    let read = |symbol: &'static str| {
        let client = &client;
        async move { stored_series(client, &sym(symbol), Interval::OneMinute).await }
    };
    let (through_copy, as_arrays) = (read("BTC").await, read("ETH").await);
    assert_eq!(through_copy.len(), count);
    let as_arrays: Vec<Candle> = as_arrays
        .into_iter()
        .map(|c| Candle {
            symbol: sym("BTC"),
            ..c
        })
        .collect();
    assert_eq!(through_copy, as_arrays);
    let c = &through_copy[3];
    assert_eq!(
        (c.open, c.low, c.close),
        (dec!(103), dec!(102.5), dec!(102.5))
    );
}

#[tokio::test]
async fn a_refused_large_batch_stores_nothing_and_leaves_nothing_behind_for_the_next() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    let unwatched = minute_candles("NOPE", candles::COPY_FROM, |i| Decimal::from(1 + i));
    candles::upsert(&client, &unwatched, UpsertMode::Replace)
        .await
        .expect_err("a symbol off the watch list is refused by the foreign key");
    let good = minute_candles("BTC", candles::COPY_FROM, |i| Decimal::from(1 + i));
    let outcome = candles::upsert(&client, &good, UpsertMode::Replace)
        .await
        .expect("the next batch on the same connection");
    assert_eq!(outcome.written, candles::COPY_FROM as u64);
    let total: i64 = client
        .query_one("SELECT count(*) FROM candles", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(total, candles::COPY_FROM as i64);
}

/// The two rules every write keeps, checked on both ways a batch travels: as arrays (below
/// [`candles::COPY_FROM`]) and through COPY and the staging table.
#[tokio::test]
async fn on_both_upsert_paths_corrections_stick_and_repeated_keys_are_refused() {
    let test_db = TestDb::watching(&["ARR", "COPY"]).await;
    let client = test_db.raw().await;
    for (symbol, count) in [
        ("ARR", candles::COPY_FROM - 10),
        ("COPY", candles::COPY_FROM + 10),
    ] {
        let feed = minute_candles(symbol, count, |i| Decimal::from(100 + i));
        candles::upsert(&client, &feed, UpsertMode::Replace)
            .await
            .expect("seed");
        let corrected = Candle {
            close: feed[5].low,
            source: CandleSource::Correction,
            ..feed[5].clone()
        };
        let outcome = candles::upsert(
            &client,
            std::slice::from_ref(&corrected),
            UpsertMode::Replace,
        )
        .await
        .expect("correct");
        assert_eq!(
            outcome.written, 1,
            "{symbol}: a correction replaces a feed candle"
        );

        // Each round moves every close (to the high, then to the middle), and brings the
        // candle at 7 twice, disagreeing.
        let rounds = [
            (UpsertMode::Replace, dec!(1)),
            (UpsertMode::MergeQuote, dec!(0.5)),
        ];
        for (mode, above_low) in rounds {
            let mut moved: Vec<Candle> = feed
                .iter()
                .map(|c| Candle {
                    close: c.low + above_low,
                    ..c.clone()
                })
                .collect();
            let mut repeat = moved[7].clone();
            repeat.close = repeat.low;
            moved.push(repeat);
            let outcome = candles::upsert(&client, &moved, mode)
                .await
                .expect("feed again");
            assert_eq!(
                (outcome.written, outcome.duplicates),
                (count as u64 - 2, 2),
                "{symbol} {mode:?}: all but the correction and the repeated key are written"
            );
        }
        let stored = stored_series(&client, &sym(symbol), Interval::OneMinute).await;
        assert_eq!(stored.len(), count, "{symbol}: nothing lost, nothing added");
        assert_eq!(stored[5], corrected, "{symbol}: the correction stuck");
        assert_eq!(
            stored[7], feed[7],
            "{symbol}: the refused key kept its old row"
        );
        assert!(
            stored
                .iter()
                .enumerate()
                .filter(|(i, _)| ![5, 7].contains(i))
                .all(|(_, c)| c.close == c.low + dec!(0.5)
                    && c.source == CandleSource::Feed(Provider::Synthetic)),
            "{symbol}: every other candle took the feed's last close"
        );
        // Another correction may replace the first one.
        let recorrected = Candle {
            close: corrected.high,
            ..corrected.clone()
        };
        let outcome = candles::upsert(&client, &[recorrected], UpsertMode::Replace)
            .await
            .expect("correct again");
        assert_eq!(
            outcome.written, 1,
            "{symbol}: a correction replaces a correction"
        );
    }
}

/// The one value `sql` answers on `client`.
async fn value<T: for<'a> tokio_postgres::types::FromSql<'a>>(
    client: &tickwatch::db::Client,
    sql: &str,
) -> T {
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

async fn backend_pid(client: &tickwatch::db::Client) -> i32 {
    value(client, "SELECT pg_backend_pid()").await
}

async fn plan_cache_mode(client: &tickwatch::db::Client) -> String {
    value(client, "SHOW plan_cache_mode").await
}

#[tokio::test]
async fn concurrent_reads_share_a_lane_and_a_lane_whose_connection_died_opens_another() {
    let test_db = TestDb::migrated().await;
    let db = tickwatch_tests::connect(
        &test_db.url,
        &[("DB_POOL_SIZE", "3"), ("DB_READ_LANES", "1")],
    )
    .await;
    let (first, second) = tokio::join!(db.reader(), db.reader());
    let (first, second) = (first.expect("a reader"), second.expect("a reader"));
    let (a, b) = tokio::join!(backend_pid(&first), backend_pid(&second));
    assert_eq!(a, b, "both reads went over the one lane");
    let exclusive = db.client().await.expect("a connection of its own");
    assert_ne!(
        backend_pid(&exclusive).await,
        a,
        "a caller that asks for a connection of its own never gets the lane's"
    );
    // The lane plans its statements once; a connection of one's own keeps the server's choice.
    assert_eq!(plan_cache_mode(&first).await, "force_generic_plan");
    assert_eq!(plan_cache_mode(&exclusive).await, "auto");
    drop((first, second));

    let killed: bool = test_db
        .raw()
        .await
        .query_one("SELECT pg_terminate_backend($1)", &[&a])
        .await
        .expect("terminate")
        .get(0);
    assert!(killed);
    // The lane notices its connection closed on its next read, or the one after.
    let mut pid = None;
    for _ in 0..50 {
        let reader = db.reader().await.expect("a reader");
        if let Ok(row) = reader.query_one("SELECT pg_backend_pid()", &[]).await {
            pid = Some(row.get::<_, i32>(0));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pid = pid.expect("the lane opened a new connection");
    assert_ne!(pid, a);
}

/// Starts `writer` (an upsert of a large feed batch) while another session holds an
/// uncommitted correction inside the batch's span. The span looks free, so the upsert takes the
/// append path (`COPY` straight into `candles`) and waits on the other session's row; once that
/// commits, the `COPY` is refused by the key and the upsert must fall back to merging. Returns
/// what the writer returned.
async fn race_an_append_against_an_uncommitted_correction<T: Send + 'static>(
    test_db: &TestDb,
    corrected: &Candle,
    writer: impl Future<Output = T> + Send + 'static,
) -> T {
    let mut other = test_db.unbounded().await;
    let correction = other.transaction().await.expect("begin");
    correction
        .execute(
            "INSERT INTO candles (symbol, interval, open_time, open, high, low, close, volume, source)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &corrected.symbol.as_str(),
                &corrected.interval.as_str(),
                &corrected.open_time,
                &corrected.open,
                &corrected.high,
                &corrected.low,
                &corrected.close,
                &corrected.volume,
                &corrected.source.as_str(),
            ],
        )
        .await
        .expect("an uncommitted correction");
    let task = tokio::spawn(writer);
    let observer = test_db.unbounded().await;
    let mut blocked = false;
    for _ in 0..400 {
        let waiting: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE 'COPY candles %'",
                &[],
            )
            .await
            .expect("look at the sessions")
            .get(0);
        if waiting > 0 {
            blocked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        blocked,
        "the writer never reached the append path's COPY (or never waited on the correction)"
    );
    correction.commit().await.expect("commit the correction");
    task.await.expect("the writer's task")
}

/// After the race: the correction is what is stored for its bucket, every other candle is the
/// feed's, and the bookkeeping counted what was really written — series count, one
/// `candles.stored` announcement per statement that stored rows, one detector write each.
async fn assert_the_correction_survived_the_race(
    client: &tickwatch::db::Client,
    feed: &[Candle],
    corrected: &Candle,
) {
    let stored = stored_series(client, &corrected.symbol, corrected.interval).await;
    let expected: Vec<Candle> = feed
        .iter()
        .map(|c| {
            if c.open_time == corrected.open_time {
                corrected.clone()
            } else {
                c.clone()
            }
        })
        .collect();
    assert_eq!(
        stored, expected,
        "the feed filled the span around the correction"
    );
    counts_match_a_real_count(client).await;
    let announced: Vec<(i32, chrono::DateTime<Utc>, chrono::DateTime<Utc>)> = client
        .query(
            "SELECT candles, first_open_time, last_open_time FROM candles_stored_outbox
             WHERE symbol = $1 ORDER BY id",
            &[&corrected.symbol.as_str()],
        )
        .await
        .expect("the outbox")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let (first, last) = (feed[0].open_time, feed[feed.len() - 1].open_time);
    assert_eq!(
        announced,
        vec![
            (1, corrected.open_time, corrected.open_time),
            (feed.len() as i32 - 1, first, last),
        ],
        "the refused COPY announced nothing; the merge announced what it stored"
    );
    let writes: i64 = client
        .query_one(
            "SELECT writes FROM detector_state WHERE symbol = $1",
            &[&corrected.symbol.as_str()],
        )
        .await
        .expect("detector state")
        .get(0);
    assert_eq!(
        writes, 2,
        "the correction and the merge, not the refused COPY"
    );
}

#[tokio::test]
async fn an_append_that_meets_a_concurrent_correction_falls_back_to_merging_around_it() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    let feed = minute_candles("BTC", candles::COPY_FROM * 2, |i| Decimal::from(100 + i));
    let corrected = Candle {
        close: feed[300].low,
        source: CandleSource::Correction,
        ..feed[300].clone()
    };
    let db = test_db.clone();
    let batch = feed.clone();
    let outcome =
        race_an_append_against_an_uncommitted_correction(&test_db, &corrected, async move {
            let writer = db.raw().await;
            candles::upsert(&writer, &batch, UpsertMode::Replace).await
        })
        .await
        .expect("the upsert succeeds by merging");
    assert_eq!(
        (outcome.written, outcome.duplicates),
        (feed.len() as u64 - 1, 0),
        "every feed candle but the corrected one is written"
    );
    assert_the_correction_survived_the_race(&client, &feed, &corrected).await;
    let again = candles::upsert(&client, &feed, UpsertMode::Replace)
        .await
        .expect("rerun");
    assert_eq!(again.written, 0, "a rerun changes nothing");
}

#[tokio::test]
async fn inside_a_callers_transaction_a_refused_append_leaves_the_transaction_usable() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    let feed = minute_candles("BTC", candles::COPY_FROM + 40, |i| Decimal::from(50 + i));
    let corrected = Candle {
        close: feed[3].high,
        source: CandleSource::Correction,
        ..feed[3].clone()
    };
    let db = test_db.clone();
    let batch = feed.clone();
    let (outcome, later_in_the_transaction) =
        race_an_append_against_an_uncommitted_correction(&test_db, &corrected, async move {
            let mut writer = db.raw().await;
            let tx = writer.transaction().await.expect("begin");
            let outcome = candles::upsert(&tx, &batch, UpsertMode::Replace)
                .await
                .expect("the upsert succeeds by merging");
            let later: i64 = tx
                .query_one("SELECT count(*) FROM candles", &[])
                .await
                .expect("the transaction goes on after the refused COPY")
                .get(0);
            tx.commit().await.expect("commit");
            (outcome, later)
        })
        .await;
    assert_eq!(outcome.written, feed.len() as u64 - 1);
    assert_eq!(later_in_the_transaction, feed.len() as i64);
    assert_the_correction_survived_the_race(&client, &feed, &corrected).await;
}

#[tokio::test]
async fn a_large_batch_into_an_empty_span_is_appended_with_the_same_bookkeeping() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    let feed = minute_candles("BTC", candles::COPY_FROM * 3, |i| Decimal::from(10 + i));
    // Stored rows before and after the batch's span do not stop the append; the gap between
    // them is what a repair fills.
    let (before, rest) = feed.split_at(candles::COPY_FROM / 2);
    let (gap, after) = rest.split_at(candles::COPY_FROM * 2);
    for part in [before, after] {
        candles::upsert(&client, part, UpsertMode::Replace)
            .await
            .expect("around the gap");
    }
    let outcome = candles::upsert(&client, gap, UpsertMode::Replace)
        .await
        .expect("the gap");
    assert_eq!(outcome.written, gap.len() as u64);
    let stored = stored_series(&client, &sym("BTC"), Interval::OneMinute).await;
    assert_eq!(stored, feed);
    counts_match_a_real_count(&client).await;
    let announced: Vec<i32> = client
        .query("SELECT candles FROM candles_stored_outbox ORDER BY id", &[])
        .await
        .expect("the outbox")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        announced,
        vec![before.len() as i32, after.len() as i32, gap.len() as i32],
        "one announcement per batch"
    );
    let (rescan_from, writes): (chrono::DateTime<Utc>, i64) = client
        .query_one(
            "SELECT rescan_from, writes FROM detector_state WHERE symbol = 'BTC'",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .expect("detector state");
    assert_eq!((rescan_from, writes), (feed[0].open_time, 3));
}

/// A COPY through the extended protocol sends two Syncs (one with the statement, one after
/// CopyDone) and gets one ReadyForQuery, since the server ignores a Sync in copy-in mode. A
/// watchdog that counted both would think an answer still owed, give the idle session up once
/// its patience ran out, and put the whole database into its cool-down.
#[tokio::test]
async fn a_session_that_appended_by_copy_stays_open_and_healthy_once_idle() {
    let test_db = TestDb::migrated().await;
    watch_synthetic(&test_db, "BTC", Interval::OneMinute).await;
    let db = tickwatch_tests::connect(
        &test_db.url,
        &[("DB_STATEMENT_TIMEOUT_MS", "500"), ("DB_POOL_SIZE", "2")],
    )
    .await;
    let client = db.client().await.expect("a session");
    let pid = backend_pid(&client).await;
    let feed = minute_candles("BTC", candles::COPY_FROM * 2, |i| Decimal::from(100 + i));
    let outcome = candles::upsert(&client, &feed, UpsertMode::Replace)
        .await
        .expect("appended");
    assert_eq!(outcome.written, feed.len() as u64);
    drop(client);
    // Longer than the watchdog's patience (the statement timeout plus its margin).
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let again = db
        .client()
        .await
        .expect("no cool-down: the database never stopped answering");
    assert_eq!(
        backend_pid(&again).await,
        pid,
        "the same session, never given up"
    );
}
