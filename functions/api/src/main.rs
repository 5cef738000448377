//! The api Lambda: wiring only. Builds the state once per cold start, then serves the router
//! through `lambda_http` on Lambda, or with the API's own server (limits and all) on
//! `127.0.0.1:$PORT` (default 8080) anywhere else. A setting that stops it is reported as one
//! line, `api: cannot start: …`, like the other functions.

use std::sync::Arc;

use anyhow::Context as _;
use tickwatch::collect::Collector;
use tickwatch::config::{CollectorSettings, ConfigError, Env};
use tickwatch::providers::http::build_client;
use tickwatch::startup::{Resources, StartupError, exit_with};

const FUNCTION: &str = "api";

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let resources = match Resources::from_env(FUNCTION).await {
        Ok(resources) => resources,
        Err(error) => exit_with(FUNCTION, &error),
    };
    let env = Env::process();
    let (state, settings) = match build(&resources, &env).await {
        Ok(built) => built,
        Err(error) => exit_with(FUNCTION, &error),
    };
    let app = api::app(state);
    if env.get("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda_http::run(app).await;
    }
    let port: u16 = match env.get("PORT") {
        Some(port) => port.parse().context("PORT must be a port number")?,
        None => 8080,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    api::serve(listener, app, settings.server, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// The API's settings, write key and collector, once per cold start. In the cloud the api sits
/// in the VPC with no way out: API Gateway's authorizer checks the write key, and
/// `POST /v1/collect` goes to the collector function.
async fn build(
    resources: &Resources,
    env: &Env,
) -> Result<(api::AppState, api::ApiSettings), StartupError> {
    let settings = api::ApiSettings::from_env(env)?;
    let in_the_cloud = env.get("API_WRITE_AUTHORIZER").as_deref() == Some("gateway");
    if in_the_cloud {
        let state = api::AppState::new(resources.db.clone(), None)
            .with_metrics(resources.metrics.clone())
            .with_request_timeout(settings.request_timeout)
            .with_gateway_authorizer();
        return Ok((state, settings));
    }
    let api_key = api::load_api_key(env, &resources.aws).await?;
    if api_key.is_none() {
        tracing::warn!("neither API_KEY nor API_KEY_SECRET_ARN is set: writes are disabled");
    }
    let collector_settings = CollectorSettings::from_env(env)?
        .resolve_keys(Some(&resources.aws))
        .await?;
    let client = build_client(&collector_settings.http).map_err(|e| ConfigError::Invalid {
        name: "HTTP_TIMEOUT_MS",
        reason: format!("the HTTP client could not be built: {e}"),
    })?;
    let collector = Collector::new(resources.db.clone(), collector_settings, client);
    let state = api::AppState::new(resources.db.clone(), api_key)
        .with_collector(Arc::new(collector))
        .with_metrics(resources.metrics.clone())
        .with_request_timeout(settings.request_timeout);
    Ok((state, settings))
}
