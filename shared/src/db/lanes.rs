//! Connections shared by concurrent one-statement reads, so that their statements pipeline.
//!
//! A pooled connection serves one caller at a time: under load every request holds its own
//! connection, and PostgreSQL wakes one backend process per request. tokio-postgres pipelines
//! the statements of callers that share a connection (each is sent as soon as it is issued;
//! the answers come back in order), so a few connections kept out of the pool and shared
//! ("lanes") serve many concurrent reads, each backend reading several statements per
//! wake-up. Only single, short, read-only statements should take a lane: a statement waits
//! for the ones sent before it on its lane, and a transaction needs a connection to itself.
//!
//! A lane holds a connection taken from the pool for as long as it stays open; a lane whose
//! connection closed (the server went away, or the watchdog gave it up) takes a new one on
//! next use, and the closed one goes back to the pool, which discards it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{Client, Db, DbError};

/// The lanes of one pool; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Lanes {
    lanes: Box<[Mutex<Option<Arc<Client>>>]>,
    next: AtomicUsize,
}

impl Lanes {
    pub fn new(count: usize) -> Self {
        Self {
            lanes: (0..count).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    pub fn len(&self) -> usize {
        self.lanes.len()
    }

    /// The connection of the next lane in turn, opening (or replacing) it when needed.
    pub async fn get(&self, db: &Db) -> Result<Arc<Client>, DbError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len();
        let lane = &self.lanes[index];
        if let Some(open) = current(lane) {
            return Ok(open);
        }
        let fresh = Arc::new(db.client().await?);
        let mut slot = lane.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            // Another caller filled the lane meanwhile: use its connection, return ours.
            Some(open) if !open.is_closed() => Ok(open.clone()),
            _ => {
                *slot = Some(fresh.clone());
                Ok(fresh)
            }
        }
    }
}

fn current(lane: &Mutex<Option<Arc<Client>>>) -> Option<Arc<Client>> {
    let slot = lane.lock().unwrap_or_else(|e| e.into_inner());
    slot.as_ref().filter(|client| !client.is_closed()).cloned()
}
