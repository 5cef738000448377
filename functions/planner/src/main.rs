//! The planner Lambda (inside the VPC): turns a collection request into a plan from the watch
//! list and what is stored, and answers with it. It calls no AWS API: the fetcher invokes it,
//! its database token is signed locally, its metrics are EMF lines. The work is done by
//! `tickwatch::collect::plan`.

use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::collect::PlannerFunction;
use tickwatch::config::Env;
use tickwatch::startup::or_exit;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let function = &or_exit(
        PlannerFunction::NAME,
        PlannerFunction::from_env(&Env::process()).await,
    );
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            let plan = function
                .handle(event.payload, &event.context.request_id)
                .await?;
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(plan)?)
        },
    ))
    .await
}
