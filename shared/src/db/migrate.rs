//! Embedded schema migrations, applied at cold start under a PostgreSQL advisory lock so that
//! several functions starting at once take turns instead of racing each other.

use tokio_postgres::Client;

use super::DbError;
use super::watchdog::Patience;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// An arbitrary, fixed key for `pg_advisory_lock`; every tickwatch process uses the same one.
const MIGRATION_LOCK_KEY: i64 = 0x7469_636B_7761_7463; // "tickwatc"

/// Applies every migration not yet applied, and returns how many were, on a session of its
/// own ([`super::Db::migrate`] first asks [`up_to_date`] on a pooled one, so a start that
/// finds the database current costs one round trip and no new session). Anything else (a new
/// deployment, an edited migration, a fresh database) takes this full path, with refinery's
/// checks for divergent and missing migrations.
///
/// Taking the lock runs under the session's deadlines (another process migrating for longer
/// than the statement timeout makes this one fail, to be retried by the next invocation); the
/// migrations themselves then run without a statement timeout, and the connection's
/// `patience` is relaxed to match.
pub(crate) async fn run(client: &mut Client, patience: &Patience) -> Result<usize, DbError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    client.batch_execute("SET statement_timeout = 0").await?;
    patience.set(None);
    let outcome = embedded::migrations::runner()
        .set_abort_divergent(true)
        .set_abort_missing(true)
        .run_async(client)
        .await;
    // Unlock even when a migration failed; the session would release it on close anyway.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    let report = outcome.map_err(refused)?;
    unlocked?;
    Ok(report.applied_migrations().len())
}

/// Tells a history that does not match this build's migrations (refinery refuses it before
/// applying anything) from a migration that failed.
fn refused(error: refinery::Error) -> DbError {
    use refinery::error::Kind;
    match error.kind() {
        Kind::DivergentVersion(applied, here) => DbError::HistoryDiverged {
            applied: applied.to_string(),
            here: Some(here.to_string()),
        },
        Kind::MissingVersion(applied) => DbError::HistoryDiverged {
            applied: applied.to_string(),
            here: None,
        },
        _ => DbError::Migration(Box::new(error)),
    }
}

/// The newest embedded migration's version, as refinery reads the file names.
#[cfg(test)]
pub(crate) fn newest_version() -> Option<i32> {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(refinery::Migration::version)
        .max()
}

/// Whether the newest applied migration is the newest embedded one, same version and same
/// checksum. One simple query (one round trip); any failure, such as the history table not
/// existing yet, means "not known to be up to date".
pub(crate) async fn up_to_date(client: &Client) -> bool {
    let runner = embedded::migrations::runner();
    let Some(newest) = runner.get_migrations().iter().max_by_key(|m| m.version()) else {
        return true;
    };
    let Ok(messages) = client
        .simple_query(
            "SELECT version::text, checksum FROM refinery_schema_history
             ORDER BY version DESC LIMIT 1",
        )
        .await
    else {
        return false;
    };
    messages.iter().any(|message| match message {
        tokio_postgres::SimpleQueryMessage::Row(row) => {
            row.get(0) == Some(newest.version().to_string().as_str())
                && row.get(1) == Some(newest.checksum().to_string().as_str())
        }
        _ => false,
    })
}
