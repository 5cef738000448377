//! Shared AWS SDK configuration. `AWS_ENDPOINT_URL` is honoured by the SDK itself, which is how
//! tests point every client at a local AWS-compatible server.

/// Loads region, credentials and endpoint from the environment, once per cold start.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
