//! How a [`Collector`] is put together, in one place: the mains, the local runner, the API's
//! collect-once and the tests all used to pick the stages and build the HTTP client by hand.
//! A builder names the two wirings (everything in this process against a database, or the
//! planner function and the candle queue in the cloud) and reports a client that cannot be
//! built as what it is.

use std::sync::Arc;

use super::{BatchSink, Collector, Fetcher, PlanSource, Planner, StoreSink};
use crate::config::CollectorSettings;
use crate::db::Db;

/// Why a collector could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The TLS stack or the system refused the HTTP client (no timeout setting is at fault:
    /// every value those settings accept builds a client).
    #[error("the HTTP client could not be built")]
    HttpClient(#[source] reqwest::Error),
    /// Neither [`CollectorBuilder::database`] nor [`CollectorBuilder::remote`] was called: the
    /// collector would have no plan to carry out and nowhere to put the candles.
    #[error("the collector has no stage to {0}: call database() or remote()")]
    MissingStage(&'static str),
}

/// Builds a [`Collector`]: `Collector::builder(settings).database(db).build()` for one process,
/// `.remote(planner, sink)` for the cloud's fetcher.
#[derive(Debug)]
#[must_use = "a builder does nothing until build() is called"]
pub struct CollectorBuilder {
    settings: CollectorSettings,
    client: Option<reqwest::Client>,
    planner: Option<Arc<dyn PlanSource>>,
    sink: Option<Arc<dyn BatchSink>>,
}

impl CollectorBuilder {
    pub(super) fn new(settings: CollectorSettings) -> Self {
        Self {
            settings,
            client: None,
            planner: None,
            sink: None,
        }
    }

    /// Plans from and stores into `db`, in this process.
    pub fn database(mut self, db: Db) -> Self {
        self.planner = Some(Arc::new(Planner::new(db.clone(), self.settings.clone())));
        self.sink = Some(Arc::new(StoreSink::new(db, self.settings.batch_size)));
        self
    }

    /// Plans elsewhere (the planner function) and hands the candles to `sink` (the queue).
    pub fn remote(mut self, planner: Arc<dyn PlanSource>, sink: Arc<dyn BatchSink>) -> Self {
        self.planner = Some(planner);
        self.sink = Some(sink);
        self
    }

    /// Shares a client built elsewhere instead of building one from the HTTP settings; a
    /// process keeps one client so its connection pool is shared.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The collector, with the process's HTTP client built from the settings when none was
    /// given (see [`crate::providers::http::build_client`]).
    pub fn build(self) -> Result<Collector, BuildError> {
        let planner = self.planner.ok_or(BuildError::MissingStage("plan"))?;
        let sink = self.sink.ok_or(BuildError::MissingStage("store"))?;
        let client = match self.client {
            Some(client) => client,
            None => crate::providers::http::build_client(&self.settings.http)
                .map_err(BuildError::HttpClient)?,
        };
        Ok(Collector {
            planner,
            sink,
            fetcher: Fetcher::new(&self.settings, client),
            settings: self.settings,
        })
    }
}
