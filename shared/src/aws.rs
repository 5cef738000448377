//! Shared AWS SDK configuration, loaded on first use. `AWS_ENDPOINT_URL` is honoured by the SDK
//! itself, which is how tests point every client at a local AWS-compatible server.
//!
//! A cold start pays for the SDK only on a path that calls AWS: [`Aws`] is a handle that loads
//! the configuration the first time something asks for it, and the SDK sends its requests
//! through [`sdk_http_client`], a `reqwest` client on the process's one TLS configuration
//! ([`crate::net`]), instead of a second HTTP and TLS stack of its own.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use tokio::sync::OnceCell;

pub use aws_config::SdkConfig;

/// The region when neither the environment nor a profile names one. Lambda always sets
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

/// Loads region, credentials and endpoint from the environment.
///
/// The region chain deliberately leaves out the EC2 instance metadata service: off AWS, the
/// SDK would otherwise probe a link-local address for a region on every start of a local run.
/// Credentials stay lazy; they are resolved only when a call needs them.
pub async fn sdk_config() -> SdkConfig {
    let region = RegionProviderChain::first_try(
        aws_config::environment::region::EnvironmentVariableRegionProvider::new(),
    )
    .or_else(aws_config::profile::ProfileFileRegionProvider::new())
    .or_else(FALLBACK_REGION);
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(region)
        .http_client(sdk_http_client())
        .load()
        .await
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
            // Every call we make (Secrets Manager, CloudWatch, STS) has a body in memory.
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
