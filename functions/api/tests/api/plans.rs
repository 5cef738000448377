//! The API's reads use the indexes: on a table of a million candles, no plan of a statement
//! that takes a read lane (history, scores, anomaly pages; custom or generic, with and without
//! a cursor, for every filter combination) scans `candles`, `candle_scores` or `anomalies`
//! sequentially. The tiny `symbols` table may be read whole. Lanes run on generic plans (see
//! `tickwatch::db::lanes`), so these plans are the ones the API's reads get.

use tickwatch::db::anomalies::{AnomalyFilter, page_sql};
use tickwatch::db::candles::HISTORY_SQL;
use tickwatch::db::scores::PAGE_SQL as SCORES_SQL;
use tickwatch::model::{Method, Severity};
use tickwatch_tests::TestDb;

const LOAD: &str = "
SET session_replication_role = replica; -- bulk load without per-row foreign-key checks
INSERT INTO symbols (symbol, asset_class, provider, provider_id, interval)
    SELECT 'S' || i, 'crypto', 'synthetic', 's' || i, '1m' FROM generate_series(0, 9) i;
INSERT INTO candles (symbol, interval, open_time, open, high, low, close, volume, source)
    SELECT 'S' || (i % 10), '1m', timestamptz '2020-01-01' + (i / 10) * interval '1 minute',
           100, 101, 99, 100, 1, 'synthetic'
    FROM generate_series(0, 999999) i;
INSERT INTO candle_scores (symbol, interval, open_time, p, score)
    SELECT symbol, interval, open_time, 0.5, 0 FROM candles;
INSERT INTO anomalies (symbol, interval, start_time, end_time, peak_time, candles, score,
                       severity, kind, methods)
    SELECT 'S' || (i % 10), '1m', t, t + interval '2 minutes', t, 3, 0.5,
           (ARRAY['low', 'medium', 'high', 'critical'])[1 + i % 4], 'spike',
           ARRAY[(ARRAY['zscore', 'iqr', 'pct_change'])[1 + i % 3]]
    FROM generate_series(0, 199999) i,
         LATERAL (SELECT timestamptz '2020-01-01' + (i / 10) * interval '5 minutes' AS t) at;
SET session_replication_role = origin;
ANALYZE;
";

async fn plans(client: &tokio_postgres::Client, sql: &str, types: &str, args: &str) -> Vec<String> {
    client
        .batch_execute(&format!("DEALLOCATE ALL; PREPARE q({types}) AS {sql}"))
        .await
        .unwrap_or_else(|e| panic!("prepare {sql}: {e}"));
    let mut out = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        let messages = client
            .simple_query(&format!(
                "SET plan_cache_mode = {mode}; EXPLAIN EXECUTE q({args})"
            ))
            .await
            .expect("explain");
        let text: Vec<String> = messages
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .collect();
        out.push(format!("-- {mode}\n{}", text.join("\n")));
    }
    out
}

fn assert_no_big_seq_scan(plan: &str, what: &str) {
    assert!(
        !plan.contains("Seq Scan on candles")
            && !plan.contains("Seq Scan on candle_scores")
            && !plan.contains("Seq Scan on anomalies"),
        "{what} scans a big table sequentially:\n{plan}"
    );
}

#[tokio::test]
async fn lane_reads_use_indexes_on_a_million_candles() {
    let db = TestDb::migrated().await;
    let client = db.unbounded().await;
    client.batch_execute(LOAD).await.expect("bulk load");
    let count: i64 = client
        .query_one("SELECT count(*) FROM candles", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 1_000_000);

    let history_types = "text, text, timestamptz, timestamptz, bigint";
    for args in [
        "'S3', NULL, '0001-01-01', '9999-12-31', 101",
        "'S3', '1m', '2020-01-10', '2020-01-20', 1001",
        "'S3', NULL, '0001-01-01', '2020-01-05 12:00', 2",
    ] {
        for plan in plans(&client, HISTORY_SQL, history_types, args).await {
            assert_no_big_seq_scan(&plan, &format!("history({args})"));
            assert!(
                plan.contains("candles_pkey"),
                "history uses the key:\n{plan}"
            );
        }
        for plan in plans(&client, SCORES_SQL, history_types, args).await {
            assert_no_big_seq_scan(&plan, &format!("scores({args})"));
            assert!(
                plan.contains("candle_scores_pkey"),
                "scores use the key:\n{plan}"
            );
        }
    }

    let year = |y| format!("'{y}-01-01'");
    for symbol in [false, true] {
        for method in [false, true] {
            for severity in [false, true] {
                for cursor in [false, true] {
                    let filter = AnomalyFilter {
                        symbol: symbol
                            .then(|| tickwatch::model::Symbol::parse("S3").expect("symbol")),
                        method: method.then_some(Method::Iqr),
                        severity: severity.then_some(Severity::High),
                        from: tickwatch::model::EARLIEST,
                        to: tickwatch::model::LATEST,
                    };
                    let (sql, n) = page_sql(&filter, cursor);
                    let mut types = vec!["timestamptz", "timestamptz", "bigint"];
                    let mut args = vec![year("0001"), year("9999"), "51".to_owned()];
                    for (present, value) in
                        [(symbol, "'S3'"), (method, "'iqr'"), (severity, "'high'")]
                    {
                        if present {
                            types.push("text");
                            args.push(value.to_owned());
                        }
                    }
                    if cursor {
                        types.extend(["timestamptz", "bigint"]);
                        args.extend(["'2020-01-10'".to_owned(), "100000".to_owned()]);
                    }
                    assert_eq!(types.len(), n);
                    for plan in plans(&client, &sql, &types.join(", "), &args.join(", ")).await {
                        assert_no_big_seq_scan(&plan, &sql);
                    }
                }
            }
        }
    }
}
