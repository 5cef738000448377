//! What every request shares: the database pool, the write key and the collector. Built once
//! per cold start and cloned (cheaply: one `Arc`) into each request.

use std::sync::Arc;
use std::time::Duration;

use tickwatch::collect::Collector;
use tickwatch::db::{Client, Db};
use tickwatch::metrics::MetricsSink;

use tickwatch::auth::ApiKey;

use crate::error::ApiError;

/// The state behind [`crate::app`].
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    db: Db,
    api_key: Option<ApiKey>,
    collector: Option<Arc<Collector>>,
    metrics: Option<MetricsSink>,
    request_timeout: Duration,
    /// Writes are checked by API Gateway's authorizer, not here (the cloud).
    gateway_authorizer: bool,
}

impl AppState {
    /// `api_key: None` disables writes (each is answered 401).
    pub fn new(db: Db, api_key: Option<ApiKey>) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                api_key,
                collector: None,
                metrics: None,
                request_timeout: crate::settings::DEFAULT_REQUEST_TIMEOUT,
                gateway_authorizer: false,
            }),
        }
    }

    /// Enables `POST /v1/collect/{symbol}` with the collector's own library code.
    pub fn with_collector(mut self, collector: Arc<Collector>) -> Self {
        Arc::make_mut(&mut self.inner).collector = Some(collector);
        self
    }

    /// Where the metrics of on-demand collections go (one publish per request).
    pub fn with_metrics(mut self, metrics: MetricsSink) -> Self {
        Arc::make_mut(&mut self.inner).metrics = Some(metrics);
        self
    }

    /// Each request's time budget (see [`crate::deadline`]).
    pub fn with_request_timeout(mut self, budget: Duration) -> Self {
        Arc::make_mut(&mut self.inner).request_timeout = budget;
        self
    }

    pub fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    /// Trusts API Gateway's Lambda authorizer for writes (`API_WRITE_AUTHORIZER=gateway`).
    pub fn with_gateway_authorizer(mut self) -> Self {
        Arc::make_mut(&mut self.inner).gateway_authorizer = true;
        self
    }

    pub fn writes_authorized_by_gateway(&self) -> bool {
        self.inner.gateway_authorizer
    }

    pub fn collector(&self) -> Option<&Collector> {
        self.inner.collector.as_deref()
    }

    pub fn metrics(&self) -> Option<&MetricsSink> {
        self.inner.metrics.as_ref()
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn api_key(&self) -> Option<&ApiKey> {
        self.inner.api_key.as_ref()
    }

    /// A pooled connection to a migrated database. The first request of a process applies
    /// pending migrations; later ones only check a flag.
    pub async fn client(&self) -> Result<Client, ApiError> {
        self.migrated().await?;
        Ok(self.inner.db.client().await?)
    }

    /// A connection for one short read-only statement of a migrated database, shared with
    /// concurrent readers so that their statements pipeline (`Db::reader`).
    pub async fn reader(&self) -> Result<Arc<Client>, ApiError> {
        self.migrated().await?;
        Ok(self.inner.db.reader().await?)
    }

    /// Applies pending migrations on the first request of a process; later ones only check a
    /// flag.
    pub async fn migrated(&self) -> Result<(), ApiError> {
        Ok(self.inner.db.ensure_migrated().await?)
    }
}
