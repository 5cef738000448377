//! The writer Lambda (inside the VPC): stores the candle batches the SQS event-source mapping
//! delivers and reports the messages it could not store, so SQS delivers them again (and, in
//! the end, to the dead-letter queue). The work is done by `tickwatch::collect::writer`.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::collect::WriterFunction;
use tickwatch::config::Env;
use tickwatch::startup::or_exit;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let function = &or_exit(
        WriterFunction::NAME,
        WriterFunction::from_env(&Env::process()).await,
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(function.handle(&event.payload).await)
    }))
    .await
}
