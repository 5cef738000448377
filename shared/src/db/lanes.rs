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
//!
//! **Generic plans.** A lane's session plans its statements once ([`GENERIC_PLANS`]). Left to
//! itself, PostgreSQL planned every execution of the API's parameterised reads afresh: their
//! generic plan is estimated dearer (an unknown `LIMIT $n` is taken as a tenth of the rows), so
//! the plan cache kept choosing custom plans, and planning took twice as long as running
//! (0.09 ms against 0.03 ms for `latest`). Their generic plans are the same index scans; the
//! API's plan test (`functions/api/tests/api/plans.rs`) checks every lane statement, generic
//! and custom, for sequential scans of the big tables.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{Client, Db, DbError};

/// Run once on each lane's connection; see the module documentation. Only lanes, whose
/// statements are the API's short reads, plan this way: the pool's other connections keep
/// PostgreSQL's own choice.
pub const GENERIC_PLANS: &str = "SET plan_cache_mode = force_generic_plan";

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
        {
            let mut slot = lane.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_ref() {
                // Another caller filled the lane meanwhile: use its connection, return ours.
                Some(open) if !open.is_closed() => return Ok(open.clone()),
                _ => *slot = Some(fresh.clone()),
            }
        }
        // Statements sent by others before this one still plan as before, harmlessly.
        fresh.batch_execute(GENERIC_PLANS).await?;
        Ok(fresh)
    }
}

fn current(lane: &Mutex<Option<Arc<Client>>>) -> Option<Arc<Client>> {
    let slot = lane.lock().unwrap_or_else(|e| e.into_inner());
    slot.as_ref().filter(|client| !client.is_closed()).cloned()
}
