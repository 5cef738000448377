//! The database roles the cloud's functions log in as: each can do exactly its job, against
//! real PostgreSQL, and setting them up again — or from many databases at once — changes
//! nothing.

use tickwatch::db::roles;
use tickwatch_tests::TestDb;

/// A connection to the test database as `role` (the test cluster trusts local logins).
async fn login(test_db: &TestDb, role: &str) -> tokio_postgres::Client {
    let url = test_db
        .url
        .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("log in as {role}: {e}"));
    tokio::spawn(connection);
    client
}

const SETUP: &str = "INSERT INTO symbols (symbol, asset_class, provider, provider_id, interval)
                     VALUES ('BTC', 'crypto', 'synthetic', 'btc', '1m');
                     INSERT INTO candles (symbol, interval, open_time, open, high, low, close, source)
                     VALUES ('BTC', '1m', '2026-01-01T00:00:00Z', 1, 2, 1, 2, 'synthetic');";

/// Statements, each tried by every role: (statement, the roles allowed to run it).
const JOBS: &[(&str, &[&str])] = &[
    (
        "SELECT count(*) FROM candles",
        &[
            "tickwatch_reader",
            "tickwatch_writer",
            "tickwatch_api",
            "tickwatch_detector",
        ],
    ),
    (
        "SELECT count(*) FROM symbols",
        &[
            "tickwatch_reader",
            "tickwatch_writer",
            "tickwatch_api",
            "tickwatch_detector",
        ],
    ),
    (
        "INSERT INTO candles (symbol, interval, open_time, open, high, low, close, source) VALUES ('BTC', '1m', now(), 1, 1, 1, 1, 'synthetic') ON CONFLICT DO NOTHING",
        &["tickwatch_writer", "tickwatch_api"],
    ),
    (
        "UPDATE candles SET close = close WHERE symbol = 'BTC'",
        &["tickwatch_writer", "tickwatch_api"],
    ),
    (
        "DELETE FROM candles WHERE open_time > now()",
        &["tickwatch_api"],
    ),
    ("UPDATE symbols SET enabled = enabled", &["tickwatch_api"]),
    (
        "INSERT INTO collection_gaps (symbol, interval, gap_start, gap_end) VALUES ('BTC', '1m', now(), now() + interval '1 minute') ON CONFLICT DO NOTHING",
        &["tickwatch_writer"],
    ),
    (
        "INSERT INTO detector_state (symbol, interval, watermark) VALUES ('BTC', '1m', now()) ON CONFLICT (symbol, interval) DO UPDATE SET watermark = EXCLUDED.watermark",
        &["tickwatch_detector"],
    ),
    (
        "INSERT INTO anomalies (symbol, interval, start_time, end_time, peak_time, candles, score, severity, kind, methods) VALUES ('BTC', '1m', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1, 0.5, 'low', 'spike', ARRAY['zscore'])",
        &["tickwatch_detector"],
    ),
    (
        "INSERT INTO candle_scores (symbol, interval, open_time, p, score) VALUES ('BTC', '1m', '2026-01-01T00:00:00Z', 0.5, 0.0) ON CONFLICT (symbol, interval, open_time) DO UPDATE SET score = EXCLUDED.score",
        &["tickwatch_detector"],
    ),
    (
        "UPDATE detector_state SET rescan_from = NULL",
        &["tickwatch_detector"],
    ),
    ("CREATE TABLE intruder (x int)", &[]),
    ("SELECT count(*) FROM refinery_schema_history", &[]),
];

#[tokio::test]
async fn each_role_can_do_exactly_its_job_and_setting_them_up_twice_changes_nothing() {
    let test_db = TestDb::migrated().await;
    let admin = test_db.raw().await;
    admin.batch_execute(SETUP).await.expect("rows to work on");
    roles::ensure(&admin).await.expect("roles");
    roles::ensure(&admin).await.expect("idempotent");

    for role in roles::ROLES {
        let client = login(&test_db, role.name).await;
        for (statement, allowed) in JOBS {
            let result = client.batch_execute(statement).await;
            let may = allowed.contains(&role.name);
            match (&result, may) {
                (Ok(()), true) => {}
                (Err(e), false)
                    if e.code()
                        == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => {}
                _ => panic!(
                    "{} running {statement:?}: allowed {may}, got {result:?}",
                    role.name
                ),
            }
        }
    }
    assert_eq!(
        roles::unassigned_tables(&admin).await.expect("tables"),
        Vec::<String>::new(),
        "every table says who writes it"
    );
}

#[tokio::test]
async fn many_databases_setting_up_the_cluster_wide_roles_at_once_all_succeed() {
    let databases = futures::future::join_all((0..4).map(|_| TestDb::migrated())).await;
    let setups = databases
        .iter()
        .map(|db| async move { roles::ensure(&db.raw().await).await });
    for result in futures::future::join_all(setups).await {
        result.expect("a concurrent setup succeeds");
    }
}
