//! Test support: a fresh PostgreSQL database per test, builders for the rows tests seed, and
//! SDK configuration pointing at the local AWS-compatible server. The services themselves are started by `scripts/test.sh`
//! (`make test`), which exports their addresses.

mod cluster;
mod fixtures;

use std::sync::Once;

pub use cluster::Cluster;
pub use fixtures::{hours_ago, sym, watch, watch_every, watch_synthetic, watched, watched_on};

use tickwatch::config::{DatabaseSettings, Env};
use tickwatch::db::Db;

/// Where `make test` put the throwaway cluster's superuser connection.
pub fn admin_url() -> String {
    std::env::var("TICKWATCH_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("TICKWATCH_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts a throwaway PostgreSQL")
    })
}

/// Logs go to the test output only when `TEST_LOG` is set, so passing runs stay quiet.
pub fn init_logging() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            use tracing_subscriber::layer::SubscriberExt as _;
            use tracing_subscriber::util::SubscriberInitExt as _;
            let filter = std::env::var("TEST_LOG")
                .ok()
                .and_then(|value| tickwatch::telemetry::parse_filter(&value).ok())
                .unwrap_or_else(|| {
                    tracing_subscriber::filter::Targets::new().with_default(tracing::Level::DEBUG)
                });
            let _ = tracing_subscriber::fmt()
                .with_test_writer()
                .finish()
                .with(filter)
                .try_init();
        }
    });
}

/// A database of its own for one test, on the shared throwaway cluster.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub db: Db,
}

impl TestDb {
    /// An empty database, not migrated.
    pub async fn empty() -> Self {
        init_logging();
        let admin = admin_url();
        let name = format!("tw_{}", uuid::Uuid::new_v4().simple());
        let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .expect("connect to the test cluster");
        let task = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        drop(client);
        let _ = task.await;
        let url = replace_dbname(&admin, &name);
        let db = connect(&url, &[]).await;
        Self { name, url, db }
    }

    /// A database with every migration applied.
    pub async fn migrated() -> Self {
        let test_db = Self::empty().await;
        test_db.db.migrate().await.expect("migrations apply");
        test_db
    }

    /// A plain connection for assertions that look behind the library's back.
    pub async fn raw(&self) -> tickwatch::db::Client {
        self.db.client().await.expect("a pooled connection")
    }

    /// A connection outside the library's pool and its deadlines, for bulk loads that take
    /// longer than a statement may.
    pub async fn unbounded(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(connection);
        client
    }
}

/// Builds a pool for `url` with extra settings, exactly as a function would from its environment.
pub async fn connect(url: &str, extra: &[(&str, &str)]) -> Db {
    let mut env = Env::from_pairs(extra).with("DATABASE_URL", url);
    if extra.iter().all(|(k, _)| *k != "DB_POOL_SIZE") {
        env = env.with("DB_POOL_SIZE", "4");
    }
    let settings = DatabaseSettings::from_env(&env).expect("valid test settings");
    Db::connect(&settings, None).await.expect("pool builds")
}

fn replace_dbname(url: &str, name: &str) -> String {
    let (base, _) = url
        .rsplit_once('/')
        .expect("the admin URL names a database");
    format!("{base}/{name}")
}

/// SDK configuration for the local AWS-compatible server started by `make test`.
pub async fn local_aws() -> aws_config::SdkConfig {
    let endpoint = std::env::var("TICKWATCH_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("TICKWATCH_TEST_AWS_ENDPOINT is not set: run the tests with `make test`, which starts LocalStack")
    });
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(tickwatch::aws::sdk_http_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "tickwatch-tests",
        ))
        .load()
        .await
}

/// A connection to the throwaway cluster as its superuser.
pub async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls)
        .await
        .expect("connect as admin");
    tokio::spawn(connection);
    client
}

impl TestDb {
    /// Takes the database away (no new connections, the open ones killed) or brings it back:
    /// an outage that touches no other test's database.
    pub async fn set_available(&self, up: bool) {
        let admin = admin().await;
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS {up}",
                self.name
            ))
            .await
            .expect("switch connections");
        if !up {
            admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                    &[&self.name],
                )
                .await
                .expect("terminate backends");
        }
    }
}

/// Detector settings with windows small enough that a few weeks of hourly candles exercise
/// every method, the calibration tail and several forest epochs (exactness does not depend on
/// the sizes). Shared by the detector's tests and the API's.
pub fn compact_detector_config() -> tickwatch::detect::DetectorConfig {
    let mut config = tickwatch::detect::DetectorConfig::default();
    config.calibration.window = 300;
    config.zscore.gap_window = 200;
    config.iqr.gap_window = 200;
    config.isolation_forest.window = 200;
    config.isolation_forest.refit_every = 100;
    config.isolation_forest.trees = 30;
    config.stale_feed.window = 200;
    config.events.threshold = 0.2;
    config
}
