//! Shared AWS SDK configuration. `AWS_ENDPOINT_URL` is honoured by the SDK itself, which is how
//! tests point every client at a local AWS-compatible server.

use aws_config::meta::region::RegionProviderChain;

/// The region when neither the environment nor a profile names one. Lambda always sets
/// `AWS_REGION`, so this only matters on a developer's machine.
const FALLBACK_REGION: &str = "us-east-1";

/// Loads region, credentials and endpoint from the environment, once per cold start.
///
/// The region chain deliberately leaves out the EC2 instance metadata service: off AWS, the
/// SDK would otherwise probe a link-local address for a region on every start of a local run.
/// Credentials stay lazy; they are resolved only when a call needs them.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let region = RegionProviderChain::first_try(
        aws_config::environment::region::EnvironmentVariableRegionProvider::new(),
    )
    .or_else(aws_config::profile::ProfileFileRegionProvider::new())
    .or_else(FALLBACK_REGION);
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(region)
        .load()
        .await
}
