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

use super::{CollectError, CollectPlan, CollectorEvent, PlanSource, PlannerError};
use crate::error::CallError;

/// Invokes the planner function by name or ARN.
#[derive(Debug, Clone)]
pub struct LambdaPlanner {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaPlanner {
    /// A planner that invokes `function` (name or ARN) synchronously through `client`.
    pub fn new(client: aws_sdk_lambda::Client, function: String) -> Self {
        Self { client, function }
    }

    async fn invoke(&self, event: &CollectorEvent) -> Result<CollectPlan, PlannerError> {
        let payload = serde_json::to_vec(&event.to_payload()).map_err(PlannerError::Encode)?;
        let output = self
            .client
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| PlannerError::Invoke {
                function: self.function.clone(),
                source: CallError::from_sdk(e),
            })?;
        let body = output
            .payload()
            .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
            .unwrap_or_default();
        if let Some(kind) = output.function_error() {
            return Err(PlannerError::Failed {
                function: self.function.clone(),
                kind: kind.to_owned(),
                document: snippet(&body),
            });
        }
        serde_json::from_str(&body).map_err(|source| PlannerError::NoPlan {
            function: self.function.clone(),
            source,
            body: snippet(&body),
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
        async move { Ok(self.invoke(event).await?) }.boxed()
    }

    fn plans_in_process(&self) -> bool {
        false
    }
}
