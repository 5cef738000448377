//! What every request shares: the database pool, the write key and the collector. Built once
//! per cold start and cloned (cheaply: one `Arc`) into each request.

use std::sync::Arc;

use tickwatch::db::{Client, Db};

use crate::auth::ApiKey;
use crate::error::ApiError;

/// The state behind [`crate::app`].
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    api_key: Option<ApiKey>,
}

impl AppState {
    /// `api_key: None` disables writes (each is answered 401).
    pub fn new(db: Db, api_key: Option<ApiKey>) -> Self {
        Self {
            inner: Arc::new(Inner { db, api_key }),
        }
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
        self.inner.db.ensure_migrated().await?;
        Ok(self.inner.db.client().await?)
    }
}
