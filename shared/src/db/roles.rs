//! The database roles the functions log in as, each allowed exactly its job:
//!
//! | role | function | may |
//! |---|---|---|
//! | `tickwatch_reader` | planner | read every table |
//! | `tickwatch_writer` | writer | read; insert and update candles; keep gap repair's record |
//! | `tickwatch_api` | api | read; edit the watch list; correct (insert, update, delete) candles |
//! | `tickwatch_detector` | detector | read; write candle scores, anomaly events and the detector's watermarks; take the queued data events |
//!
//! Migrations and this setup run once per deployment under a role that may run DDL (the RDS
//! master user in the cloud, through the migrator function). Roles are cluster-wide while
//! grants are per database, and several databases (the tests' one per test) may run this at
//! once: every statement is idempotent and the whole setup is retried on the races PostgreSQL
//! reports for concurrent role changes. On RDS each role is granted `rds_iam`, so it logs in
//! with an IAM token and has no password at all.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use tokio_postgres::error::SqlState;

use super::DbError;

/// A login role and what it may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// PostgreSQL role name; the functions log in as it (or as a member of it).
    pub name: &'static str,
    /// (table, privileges) on top of reading everything.
    pub writes: &'static [(&'static str, &'static str)],
}

/// Reads everything, writes nothing: for dashboards and ad-hoc queries.
pub const READER: Role = Role {
    name: "tickwatch_reader",
    writes: &[],
};
/// The collector: stores candles and records collection gaps.
pub const WRITER: Role = Role {
    name: "tickwatch_writer",
    writes: &[
        ("candles", "INSERT, UPDATE"),
        ("collection_gaps", "INSERT, UPDATE, DELETE"),
    ],
};
/// The HTTP API: edits the watch list and applies candle corrections.
pub const API: Role = Role {
    name: "tickwatch_api",
    writes: &[
        ("symbols", "INSERT, UPDATE, DELETE"),
        ("candles", "INSERT, UPDATE, DELETE"),
    ],
};
/// The detector: stores scores and events, drains the outbox, keeps its state.
pub const DETECTOR: Role = Role {
    name: "tickwatch_detector",
    writes: &[
        ("anomalies", "INSERT, UPDATE, DELETE"),
        ("candle_scores", "INSERT, UPDATE, DELETE"),
        ("candles_stored_outbox", "DELETE"),
        ("detector_state", "INSERT, UPDATE, DELETE"),
    ],
};

/// Every function role; provisioning creates each and grants its writes.
pub const ROLES: [Role; 4] = [READER, WRITER, API, DETECTOR];

/// Tables no function role reads: the migration tool's own bookkeeping.
const PRIVATE_TABLES: &[&str] = &["refinery_schema_history"];

/// Tables of the schema that no role's map mentions, apart from [`PRIVATE_TABLES`]: a new
/// table must say who writes it (a test fails until it does). They stay readable.
pub async fn unassigned_tables(client: &impl GenericClient) -> Result<Vec<String>, DbError> {
    let tables = tables(client).await?;
    Ok(tables
        .into_iter()
        .filter(|t| {
            !PRIVATE_TABLES.contains(&t.as_str())
                && !ROLES.iter().any(|r| r.writes.iter().any(|(w, _)| w == t))
                && !READ_ONLY_TABLES.contains(&t.as_str())
        })
        .collect())
}

/// Tables no function role writes: summaries kept by triggers through `SECURITY DEFINER`
/// functions that the migrations' role owns, so a role that writes candles keeps them right
/// without any privilege of its own on them.
const READ_ONLY_TABLES: &[&str] = &["anomaly_series_counts", "candle_series_counts"];

async fn tables(client: &impl GenericClient) -> Result<Vec<String>, DbError> {
    Ok(client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

/// Creates the roles (once per cluster) and grants each exactly its privileges on this
/// database's current tables. Run after every migration; running it again changes nothing.
pub async fn ensure(client: &impl GenericClient) -> Result<(), DbError> {
    let mut attempt = 0;
    loop {
        match ensure_once(client).await {
            Err(DbError::Query(e)) if attempt < 5 && is_concurrent_change(&e) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
            }
            other => return other,
        }
    }
}

/// What two sessions changing the same role at once run into.
fn is_concurrent_change(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|code| {
        code == &SqlState::UNIQUE_VIOLATION
            || code == &SqlState::DUPLICATE_OBJECT
            || code == &SqlState::T_R_SERIALIZATION_FAILURE
            || code == &SqlState::INTERNAL_ERROR // "tuple concurrently updated"
    })
}

async fn ensure_once(client: &impl GenericClient) -> Result<(), DbError> {
    let database: String = client
        .query_one("SELECT current_database()::text", &[])
        .await?
        .get(0);
    let on_rds: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')",
            &[],
        )
        .await?
        .get(0);
    let tables = tables(client).await?;
    for role in ROLES {
        let name = role.name;
        client
            .batch_execute(&format!(
                "DO $$ BEGIN
                     IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN
                         CREATE ROLE {name} LOGIN;
                     END IF;
                 END $$;
                 GRANT CONNECT ON DATABASE \"{database}\" TO {name};
                 GRANT USAGE ON SCHEMA public TO {name};"
            ))
            .await?;
        if on_rds {
            client
                .batch_execute(&format!("GRANT rds_iam TO {name}"))
                .await?;
        }
        for table in &tables {
            if PRIVATE_TABLES.contains(&table.as_str()) {
                continue;
            }
            // Exactly the map's privileges: revoke first, so a privilege taken out of the map
            // is taken away from the role too.
            let privileges = role
                .writes
                .iter()
                .find(|(t, _)| t == table)
                .map_or("SELECT".to_owned(), |(_, p)| format!("SELECT, {p}"));
            client
                .batch_execute(&format!(
                    "REVOKE ALL ON TABLE public.\"{table}\" FROM {name};
                     GRANT {privileges} ON TABLE public.\"{table}\" TO {name};"
                ))
                .await?;
        }
        if !role.writes.is_empty() {
            client
                .batch_execute(&format!(
                    "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {name}"
                ))
                .await?;
        }
    }
    Ok(())
}

/// What one migrator invocation did: migrations applied, and the roles granted.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationReport {
    /// Migrations applied by this invocation (none when the schema was current).
    pub applied: usize,
    /// The roles whose grants were (re)applied.
    pub roles: Vec<&'static str>,
}

/// The migrator function's work: apply pending migrations, grant the roles, and warn about
/// tables no role may write (a migration that forgot to add its table to [`ROLES`]).
pub async fn migrate(db: &super::Db) -> Result<MigrationReport, DbError> {
    let applied = db.migrate_with_roles().await.inspect_err(|error| {
        tracing::error!(%error, "migration failed");
    })?;
    let unassigned = unassigned_tables(&db.client().await?).await?;
    if !unassigned.is_empty() {
        tracing::warn!(
            ?unassigned,
            "tables no role may write: add them to db::roles"
        );
    }
    tracing::info!(applied, "migrated; roles granted");
    Ok(MigrationReport {
        applied,
        roles: ROLES.iter().map(|r| r.name).collect(),
    })
}
