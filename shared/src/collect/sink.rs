//! Where the fetch stage hands its batches: straight to the store stage in one process, or to
//! an SQS queue that the writer function drains inside the VPC ([`super::sqs`]).

use std::fmt::Debug;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::batch::CandleBatch;
use super::report::OutcomeCode;
use super::store::{StoreError, Stored, store_batch};
use crate::db::{Db, DbError};

/// What became of a delivered batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Delivery {
    /// Stored now (in-process).
    Stored(Stored),
    /// On the queue: the writer stores it shortly.
    #[default]
    Queued,
}

/// Why a batch could not be handed over.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The database failed before anything of the batch was stored.
    #[error(transparent)]
    Database(#[from] DbError),
    /// The database failed after part of the batch was stored.
    #[error(transparent)]
    Store(#[from] Box<StoreError>),
    /// The queue did not take the batch; always worth a retry.
    #[error("the candle queue refused the batch: {0}")]
    Queue(#[source] QueueError),
    /// The store task was cancelled before it finished (the runtime is shutting down). What it
    /// committed stays; storing the batch again is harmless.
    #[error("the store was interrupted")]
    Interrupted,
}

/// Why the candle queue did not take a batch.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The request could not be built or sent, or SQS refused it whole.
    #[error(transparent)]
    Call(#[from] crate::error::CallError),
    /// SQS took the call but refused some messages; `code` and `message` are its words.
    #[error("{refused} of {sent} messages refused: {code} {message}")]
    Refused {
        /// Messages SQS refused.
        refused: usize,
        /// Messages in the call.
        sent: usize,
        /// SQS's code for the first refusal.
        code: String,
        /// SQS's message for the first refusal.
        message: String,
    },
}

impl SinkError {
    /// Whether trying again later can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Database(e) => e.is_unavailable(),
            Self::Store(e) => e.error.is_unavailable(),
            Self::Queue(_) | Self::Interrupted => true,
        }
    }

    /// The stage that failed, as a symbol's outcome reports it.
    pub fn outcome_code(&self) -> OutcomeCode {
        match self {
            Self::Database(_) | Self::Store(_) | Self::Interrupted => OutcomeCode::Database,
            Self::Queue(_) => OutcomeCode::Queue,
        }
    }
}

/// The store stage's front door.
pub trait BatchSink: Send + Sync + Debug {
    /// Whether delivered batches are stored before `deliver` returns.
    fn stores_in_process(&self) -> bool;

    /// Hands `batch` over (stored, or queued for the writer); `now` is the clock
    /// candle validation and gap-repair records go by.
    fn deliver<'a>(
        &'a self,
        batch: CandleBatch,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Delivery, SinkError>>;
}

/// Stores batches in this process.
#[derive(Debug, Clone)]
pub struct StoreSink {
    db: Db,
    batch_size: usize,
}

impl StoreSink {
    /// Stores through `db`, writing at most `batch_size` candles per statement.
    pub fn new(db: Db, batch_size: usize) -> Self {
        Self { db, batch_size }
    }
}

impl BatchSink for StoreSink {
    fn stores_in_process(&self) -> bool {
        true
    }

    fn deliver<'a>(
        &'a self,
        batch: CandleBatch,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Delivery, SinkError>> {
        // The store runs as a task of its own, so that it proceeds on another worker thread
        // while the caller prepares the next batch (a source that computes its candles, such
        // as the synthetic one, keeps its thread busy until the page is done).
        let (db, batch_size) = (self.db.clone(), self.batch_size);
        let store = tokio::spawn(async move { store_batch(&db, batch, now, batch_size).await });
        async move {
            match store.await {
                Ok(stored) => Ok(Delivery::Stored(stored.map_err(Box::new)?)),
                Err(failure) if failure.is_panic() => {
                    std::panic::resume_unwind(failure.into_panic())
                }
                Err(_) => Err(SinkError::Interrupted),
            }
        }
        .boxed()
    }
}
