//! The writer function's work: store the candle batches an SQS event-source mapping delivers,
//! and tell SQS which messages to deliver again.
//!
//! Each message is one [`CandleBatch`]. A message that stored (or whose candles were all
//! refused on their merits) is done; one the database could not take — it is down, restarting,
//! or refused the statement — is reported in `batchItemFailures`, so SQS makes it visible again
//! after the visibility timeout and, after `maxReceiveCount` deliveries, moves it to the
//! dead-letter queue. A body that is not a batch is reported too: it ends in the dead-letter
//! queue for a person to read, never silently deleted. Nothing fetched is lost while the
//! database is away; gap repair refetches whatever is still missing when it comes back.

use std::collections::BTreeMap;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};

use super::batch::CandleBatch;
use super::store::store_batch;
use crate::db::Db;
use crate::metrics::Metrics;

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// SQS messages received in the invocation.
    pub messages: u64,
    /// Rows inserted or changed.
    pub stored: u64,
    /// Valid candles the database already held unchanged.
    pub unchanged: u64,
    /// Candles refused, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Messages handed back to SQS for another delivery.
    pub retried: u64,
    /// Messages that are not candle batches (they reach the dead-letter queue).
    pub malformed: u64,
}

impl WriteReport {
    /// `CandlesStored` is the one metric the dashboard reads from the writer; the rest goes
    /// to the log.
    pub fn record(&self, metrics: &mut Metrics) {
        metrics.count("CandlesStored", self.stored as f64, &[]);
    }
}

/// Stores every message of `event` as of `now`, in statements of `batch_size` rows.
pub async fn handle(
    db: &Db,
    event: &SqsEvent,
    now: DateTime<Utc>,
    batch_size: usize,
) -> (SqsBatchResponse, WriteReport) {
    let mut response = SqsBatchResponse::default();
    let mut report = WriteReport::default();
    for message in &event.records {
        report.messages += 1;
        let id = message.message_id.clone().unwrap_or_default();
        let receives = message
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str)
            .unwrap_or("1");
        let batch = match CandleBatch::decode(message.body.as_deref().unwrap_or_default()) {
            Ok(batch) => batch,
            Err(error) => {
                tracing::error!(message_id = %id, receives, %error, "a message that is not a candle batch; it goes to the dead-letter queue");
                report.malformed += 1;
                response.add_failure(id);
                continue;
            }
        };
        let (symbol, interval) = (batch.symbol.clone(), batch.interval);
        match store_batch(db, batch, now, batch_size).await {
            Ok(stored) => {
                tracing::info!(message_id = %id, %symbol, %interval, stored = stored.stored, unchanged = stored.unchanged, rejected = ?stored.rejected, still_missing = stored.still_missing, "batch stored");
                report.stored += stored.stored;
                report.unchanged += stored.unchanged;
                for (reason, n) in stored.rejected {
                    *report.rejected.entry(reason).or_default() += n;
                }
            }
            Err(error) => {
                tracing::warn!(message_id = %id, %symbol, receives, unavailable = error.error.is_unavailable(), stored_before = error.partial.stored, %error, "batch not stored; SQS delivers it again");
                report.retried += 1;
                response.add_failure(id);
            }
        }
    }
    tracing::info!(
        messages = report.messages,
        stored = report.stored,
        unchanged = report.unchanged,
        retried = report.retried,
        malformed = report.malformed,
        "write finished"
    );
    (response, report)
}
