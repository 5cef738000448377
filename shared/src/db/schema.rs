//! The schema version this build expects, and the check a function that does not migrate
//! makes on first use. In the cloud only the migrator applies migrations (the others are built
//! without them, see the `migrations` feature); a function deployed before the migrator ran
//! would otherwise fail later, on whichever query first meets a missing column. Instead it
//! refuses at once, naming both versions and the fix.

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::DbError;

// `SCHEMA_VERSION`, the newest `V<n>` in `migrations/`, written by the build script.
include!(concat!(env!("OUT_DIR"), "/schema_version.rs"));

/// Where the database's schema stands against [`SCHEMA_VERSION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Exactly the version this build expects.
    Current,
    /// Newer than this build: the migrator of a newer deployment ran first, as it does on
    /// every deployment before the functions are updated, or a deployment was rolled back.
    /// Migrations only add, so the older build runs on (with a warning); refusing would turn
    /// every deployment into an outage of the functions still running the old code.
    Newer(i32),
}

/// Compares the newest applied migration (`None`: no migration history at all) with
/// `expected`: an older schema is [`DbError::SchemaBehind`].
pub(crate) fn standing(found: Option<i32>, expected: i32) -> Result<Standing, DbError> {
    match found {
        Some(version) if version == expected => Ok(Standing::Current),
        Some(version) if version > expected => Ok(Standing::Newer(version)),
        _ => Err(DbError::SchemaBehind { found, expected }),
    }
}

/// The newest applied migration's version, in one simple query (one round trip, nothing
/// prepared), checked against [`SCHEMA_VERSION`]. A database without the history table has
/// never been migrated.
pub(crate) async fn check(client: &Client) -> Result<Standing, DbError> {
    let found = match client
        .simple_query(
            "SELECT version::text FROM refinery_schema_history ORDER BY version DESC LIMIT 1",
        )
        .await
    {
        Ok(messages) => newest(&messages)?,
        Err(error) if error.code() == Some(&SqlState::UNDEFINED_TABLE) => None,
        Err(error) => return Err(error.into()),
    };
    let standing = standing(found, SCHEMA_VERSION)?;
    if let Standing::Newer(version) = standing {
        tracing::warn!(
            database = version,
            build = SCHEMA_VERSION,
            "the database schema is newer than this build's; running on"
        );
    }
    Ok(standing)
}

/// The version in the query's one row, if it returned one.
fn newest(messages: &[SimpleQueryMessage]) -> Result<Option<i32>, DbError> {
    let Some(text) = messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => row.get(0),
        _ => None,
    }) else {
        return Ok(None);
    };
    text.parse().map(Some).map_err(|_| {
        DbError::corrupt(
            "refinery_schema_history.version",
            super::RowProblem::Shape(format!("{text:?} is not a version number")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_or_missing_schema_is_refused_naming_both_versions_and_the_fix() {
        let older = standing(Some(5), 6).expect_err("older");
        assert!(matches!(
            older,
            DbError::SchemaBehind {
                found: Some(5),
                expected: 6
            }
        ));
        let text = older.to_string();
        assert!(
            text.contains("version 5") && text.contains("version 6"),
            "{text}"
        );
        assert!(text.contains("run the migrator"), "{text}");
        let none = standing(None, 6).expect_err("never migrated").to_string();
        assert!(
            none.contains("no migration") && none.contains("version 6"),
            "{none}"
        );
        assert!(none.contains("run the migrator"), "{none}");
    }

    #[test]
    fn the_same_schema_is_current_and_a_newer_one_runs_on() {
        assert_eq!(standing(Some(6), 6).expect("same"), Standing::Current);
        assert_eq!(standing(Some(9), 6).expect("newer"), Standing::Newer(9));
    }

    /// The build script's reading of the file names agrees with refinery's own.
    #[cfg(feature = "migrations")]
    #[test]
    fn the_expected_version_is_the_newest_embedded_migration() {
        assert_eq!(
            Some(SCHEMA_VERSION),
            super::super::migrate::newest_version()
        );
    }
}
