//! The planner function as a [`PlanSource`]: the fetcher, outside the VPC, invokes it
//! synchronously (`lambda:InvokeFunction`, free internet on its side; nothing leaves the VPC on
//! the planner's) and gets the plan back as the response.
//!
//! A synchronous call rather than the planner's asynchronous destination: the schedule and
//! `POST /v1/collect/{symbol}` then take one path, the plan is always fresh (a symbol added a
//! second ago is known), and an unknown symbol can still be answered 404 while the caller waits.

use aws_sdk_lambda::primitives::Blob;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::{CollectError, CollectPlan, CollectorEvent, PlanSource};

/// Invokes the planner function by name or ARN.
#[derive(Debug, Clone)]
pub struct LambdaPlanner {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaPlanner {
    pub fn new(client: aws_sdk_lambda::Client, function: String) -> Self {
        Self { client, function }
    }

    async fn invoke(&self, event: &CollectorEvent) -> Result<CollectPlan, CollectError> {
        let payload =
            serde_json::to_vec(&event.to_payload()).map_err(|e| CollectError::Planner {
                reason: e.to_string(),
                retryable: false,
            })?;
        let output = self
            .client
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| CollectError::Planner {
                reason: format!(
                    "invoking {}: {}",
                    self.function,
                    aws_sdk_lambda::error::DisplayErrorContext(e)
                ),
                retryable: true,
            })?;
        let body = output
            .payload()
            .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
            .unwrap_or_default();
        if let Some(kind) = output.function_error() {
            // The planner failed (its database is away, most likely): the runtime's error
            // document says why. A retry of the whole run may find it back.
            return Err(CollectError::Planner {
                reason: format!("{} failed ({kind}): {}", self.function, snippet(&body)),
                retryable: true,
            });
        }
        serde_json::from_str(&body).map_err(|e| CollectError::Planner {
            reason: format!(
                "{} answered with no plan ({e}): {}",
                self.function,
                snippet(&body)
            ),
            retryable: false,
        })
    }
}

fn snippet(body: &str) -> String {
    body.chars().take(300).collect()
}

impl PlanSource for LambdaPlanner {
    fn plan<'a>(
        &'a self,
        event: &'a CollectorEvent,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<CollectPlan, CollectError>> {
        self.invoke(event).boxed()
    }

    fn plans_in_process(&self) -> bool {
        false
    }
}
