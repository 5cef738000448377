//! The candle queue as a [`BatchSink`]: the fetcher, outside the VPC, sends each batch to the
//! SQS queue the writer function drains inside it. Built only with the `aws-remote` feature.

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::batch::CandleBatch;
use super::sink::{BatchSink, Delivery, QueueError, SinkError};
use crate::error::CallError;

/// SQS takes at most ten messages per `SendMessageBatch` call.
const MESSAGES_PER_CALL: usize = 10;

/// Sends batches to the candle queue (`SendMessageBatch`, ten bodies a call).
#[derive(Debug, Clone)]
pub struct SqsSink {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsSink {
    /// Sends batches to the candle queue at `queue_url`, one SQS message per batch part.
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }

    async fn send(&self, bodies: Vec<String>) -> Result<(), SinkError> {
        for chunk in bodies.chunks(MESSAGES_PER_CALL) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| SinkError::Queue(CallError::from_sdk(e).into()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| SinkError::Queue(CallError::from_sdk(e).into()))?;
            if let Some(failed) = output.failed().first() {
                return Err(SinkError::Queue(QueueError::Refused {
                    refused: output.failed().len(),
                    sent: chunk.len(),
                    code: failed.code().to_owned(),
                    message: failed.message().unwrap_or_default().to_owned(),
                }));
            }
        }
        Ok(())
    }
}

impl BatchSink for SqsSink {
    fn stores_in_process(&self) -> bool {
        false
    }

    fn deliver<'a>(
        &'a self,
        batch: CandleBatch,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Delivery, SinkError>> {
        async move {
            self.send(batch.encode()).await?;
            Ok(Delivery::Queued)
        }
        .boxed()
    }
}
