//! Shared AWS SDK configuration, loaded on first use. `AWS_ENDPOINT_URL` points every client
//! at a local AWS-compatible server.
//!
//! A cold start pays for the SDK only on a path that calls AWS: [`Aws`] is a handle that loads
//! the configuration the first time something asks for it, and the SDK sends its requests
//! through [`sdk_http_client`], a `reqwest` client on the process's one TLS configuration
//! ([`crate::net`]), instead of a second HTTP and TLS stack of its own.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use tokio::sync::OnceCell;

use crate::config::Env;

pub use aws_config::SdkConfig;

/// The region when the environment names none. Lambda always sets
/// `AWS_REGION`, so this only matters on a developer's machine.
const FALLBACK_REGION: &str = "us-east-1";

/// How long the SDK waits for a TCP (and TLS) connection, as the SDK's own default does.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The process's AWS configuration, loaded on the first [`Aws::config`] call and kept. Cheap
/// to clone; every clone shares the one configuration.
#[derive(Debug, Clone, Default)]
pub struct Aws {
    config: Arc<OnceCell<SdkConfig>>,
}

impl Aws {
    /// A handle that has loaded nothing yet.
    pub fn lazy() -> Self {
        Self::default()
    }

    /// A handle on a configuration built elsewhere (tests, the local runner).
    pub fn from_config(config: SdkConfig) -> Self {
        Self {
            config: Arc::new(OnceCell::new_with(Some(config))),
        }
    }

    /// The configuration, loaded now if this is the first call.
    pub async fn config(&self) -> &SdkConfig {
        self.config.get_or_init(sdk_config).await
    }

    /// Whether anything has needed AWS yet (for tests of the lazy start).
    pub fn is_loaded(&self) -> bool {
        self.config.initialized()
    }
}

/// Loads region, credentials and endpoint from the process environment: [`sdk_config_from`].
pub async fn sdk_config() -> SdkConfig {
    sdk_config_from(&Env::process())
}

/// The SDK configuration the settings in `env` give, as Lambda sets them.
///
/// Built field by field rather than with `aws_config::defaults(..).load()`: the loader links
/// every provider chain it might consult (profile files, web identity through the STS client,
/// ECS and instance metadata credentials) whether or not a setting is given, and a Lambda
/// reaches none of them; they were about 330 KiB of each zip that calls AWS. What is used:
/// * the region from `AWS_REGION` (or `AWS_DEFAULT_REGION`), else [`FALLBACK_REGION`] (no
///   profile file, no instance metadata probe);
/// * credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`,
///   where Lambda puts the execution role's for the life of the instance (`db::iam` reads
///   the same); without them a call fails naming the variables;
/// * the endpoint from `AWS_ENDPOINT_URL` when set (a local AWS-compatible server);
/// * the SDK's standard retries and identity cache, and its defaults for the rest.
pub fn sdk_config_from(env: &Env) -> SdkConfig {
    let region = env
        .get("AWS_REGION")
        .or_else(|| env.get("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| FALLBACK_REGION.to_owned());
    let credentials = match (
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(key), Some(secret)) => SharedCredentialsProvider::new(Credentials::new(
            key,
            secret,
            env.get("AWS_SESSION_TOKEN"),
            None,
            "environment",
        )),
        _ => SharedCredentialsProvider::new(MissingCredentials),
    };
    let mut config = SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(credentials)
        .identity_cache(aws_config::identity::IdentityCache::lazy().build())
        .retry_config(aws_config::retry::RetryConfig::standard())
        .http_client(sdk_http_client());
    if let Some(endpoint) = env.get("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(endpoint);
    }
    config.build()
}

/// The credentials of an environment without any: every call fails, saying what to set.
#[derive(Debug)]
struct MissingCredentials;

impl ProvideCredentials for MissingCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them for the function's role)",
        )))
    }
}

static SDK_HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    crate::net::http_client_builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .or_else(|_| crate::net::http_client_builder().build())
        .unwrap_or_default()
});

/// The HTTP client every SDK client of the process sends through: `reqwest` with the shared
/// rustls configuration, its connection pool kept across invocations.
pub fn sdk_http_client() -> SharedHttpClient {
    SharedHttpClient::new(ReqwestHttpClient)
}

#[derive(Debug, Clone, Copy)]
struct ReqwestHttpClient;

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(ReqwestConnector {
            client: SDK_HTTP.clone(),
            read_timeout: settings.read_timeout(),
        })
    }
}

#[derive(Debug, Clone)]
struct ReqwestConnector {
    client: reqwest::Client,
    read_timeout: Option<Duration>,
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let (parts, body) = request.into_parts();
            // Every call we make (Secrets Manager, CloudWatch, SQS, Lambda, SNS, EventBridge) has
            // a body in memory.
            let body = body.bytes().map(<[u8]>::to_vec).ok_or_else(|| {
                ConnectorError::user("a streaming request body cannot be sent".into())
            })?;
            let mut outgoing = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body);
            if let Some(timeout) = read_timeout {
                outgoing = outgoing.timeout(timeout);
            }
            let response = outgoing.send().await.map_err(connector_error)?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(connector_error)?;
            let mut answer = http::Response::new(SdkBody::from(bytes));
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            HttpResponse::try_from(answer).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Timeouts and transport failures are what the SDK's retry policy retries.
fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else {
        ConnectorError::io(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lambda_env() -> Env {
        Env::from_pairs(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "ap-south-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
            ("AWS_SESSION_TOKEN", "session-token"),
        ])
    }

    async fn credentials(config: &SdkConfig) -> Result<Credentials, CredentialsError> {
        config
            .credentials_provider()
            .expect("a credentials provider is always set")
            .provide_credentials()
            .await
    }

    #[tokio::test]
    async fn region_and_credentials_are_the_ones_lambda_sets() {
        let config = sdk_config_from(&lambda_env());
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), None);
        let credentials = credentials(&config)
            .await
            .expect("credentials from the environment");
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(
            credentials.secret_access_key(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        );
        assert_eq!(credentials.session_token(), Some("session-token"));
    }

    #[test]
    fn the_region_falls_back_to_the_default_region_then_to_us_east_1() {
        let env = Env::from_pairs(&[("AWS_DEFAULT_REGION", "ap-south-1"), ("AWS_REGION", " ")]);
        let config = sdk_config_from(&env);
        assert_eq!(config.region().map(|r| r.as_ref()), Some("ap-south-1"));
        let config = sdk_config_from(&Env::from_pairs(&[]));
        assert_eq!(config.region().map(|r| r.as_ref()), Some(FALLBACK_REGION));
    }

    #[test]
    fn the_endpoint_is_taken_when_set() {
        let env = lambda_env().with("AWS_ENDPOINT_URL", "http://127.0.0.1:4566");
        assert_eq!(
            sdk_config_from(&env).endpoint_url(),
            Some("http://127.0.0.1:4566")
        );
    }

    #[tokio::test]
    async fn without_credentials_a_call_fails_naming_the_variables() {
        let env = Env::from_pairs(&[("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "AKID")]);
        let error = credentials(&sdk_config_from(&env))
            .await
            .expect_err("no secret key, no credentials");
        let message = aws_smithy_types::error::display::DisplayErrorContext(&error).to_string();
        assert!(message.contains("AWS_SECRET_ACCESS_KEY"), "{message}");
    }

    /// A real client on this configuration, against the local AWS-compatible server: the
    /// endpoint, region and signed credentials all reach it.
    #[cfg(feature = "aws-secrets")]
    #[tokio::test]
    async fn a_client_on_the_configuration_reaches_the_endpoint() {
        let endpoint = std::env::var("TICKWATCH_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
            panic!("TICKWATCH_TEST_AWS_ENDPOINT is not set: run the tests with `make test`, which starts LocalStack")
        });
        let env = lambda_env()
            .with("AWS_ACCESS_KEY_ID", "test")
            .with("AWS_SECRET_ACCESS_KEY", "test")
            .with("AWS_ENDPOINT_URL", &endpoint);
        let client = aws_sdk_secretsmanager::Client::new(&sdk_config_from(&env));
        let name = format!("tickwatch-aws-config-{}", uuid::Uuid::new_v4());
        let created = client
            .create_secret()
            .name(&name)
            .secret_string("from the environment's configuration")
            .send()
            .await
            .expect("create a secret");
        let arn = created.arn().expect("the new secret's ARN");
        assert!(
            arn.contains(":eu-west-1:"),
            "the secret is in the configured region: {arn}"
        );
        let read = client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .expect("read the secret back");
        assert_eq!(
            read.secret_string(),
            Some("from the environment's configuration")
        );
    }
}
