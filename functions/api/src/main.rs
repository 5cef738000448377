//! The api Lambda: wiring only. Builds the state once per cold start, then serves the router
//! through `lambda_http` on Lambda, or on `127.0.0.1:$PORT` (default 8080) anywhere else.

use std::sync::Arc;

use anyhow::Context as _;
use tickwatch::collect::Collector;
use tickwatch::config::{CollectorSettings, Env};
use tickwatch::providers::http::build_client;
use tickwatch::startup::{Resources, exit_with};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let resources = match Resources::from_env("api").await {
        Ok(resources) => resources,
        Err(error) => exit_with("api", &error),
    };
    let env = Env::process();
    // In the cloud the api sits in the VPC with no way out: API Gateway's authorizer checks
    // the write key, and POST /v1/collect goes to the collector function.
    let in_the_cloud = env.get("API_WRITE_AUTHORIZER").as_deref() == Some("gateway");
    let api_key = if in_the_cloud {
        None
    } else {
        api::load_api_key(&env, &resources.aws)
            .await
            .context("API key")?
    };
    if api_key.is_none() && !in_the_cloud {
        tracing::warn!("neither API_KEY nor API_KEY_SECRET_ARN is set: writes are disabled");
    }
    let mut state =
        api::AppState::new(resources.db.clone(), api_key).with_metrics(resources.metrics.clone());
    if in_the_cloud {
        state = state.with_gateway_authorizer();
    } else {
        let settings = CollectorSettings::from_env(&env)?
            .resolve_keys(Some(&resources.aws))
            .await?;
        let client = build_client(&settings.http).context("HTTP client")?;
        let collector = Collector::new(resources.db.clone(), settings, client);
        state = state.with_collector(Arc::new(collector));
    }
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
    api::serve::serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
