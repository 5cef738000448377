//! Applies the migrations to the database at `DATABASE_URL` and grants the functions' roles:
//! what the migrator function does once per deployment, for a local database that the
//! functions built without the `migrations` feature then check but do not change (the
//! benchmarks start the release bootstraps against one).

use anyhow::Context;
use tickwatch::config::{DatabaseSettings, Env};
use tickwatch::db::{Db, DbError, roles};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = DatabaseSettings::from_env(&Env::process()).context("reading settings")?;
    let db = Db::connect(&settings, None)
        .await
        .context("building the database pool")?;
    roles::migrate(&db).await.map_err(|error| match error {
        // Its message is the whole story, `make clean-db` included: one line, as `make run`
        // prints it.
        DbError::HistoryDiverged { .. } => anyhow::Error::new(error),
        error => anyhow::Error::new(error).context("migrating"),
    })?;
    Ok(())
}
