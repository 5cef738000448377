//! The api function's way in: its state built once per cold start ([`wire`]), then served
//! through `lambda_http` on Lambda, or with the API's own server (limits and all) on
//! `127.0.0.1:$PORT` (default 8080) anywhere else ([`run`]).

use std::num::NonZeroUsize;
use std::sync::Arc;

use anyhow::Context as _;
use tickwatch::collect::Collector;
use tickwatch::config::{CollectorSettings, Env};
use tickwatch::startup::{Resources, StartupError};
use tower::ServiceExt as _;

use crate::{ApiSettings, AppState};

/// The API's settings, write key and collector, once per cold start. In the cloud the api sits
/// in the VPC with no way out: API Gateway's authorizer checks the write key, and
/// `POST /v1/collect` goes to the collector function.
pub async fn wire(
    resources: &Resources,
    env: &Env,
) -> Result<(AppState, ApiSettings), StartupError> {
    let settings = ApiSettings::from_env(env)?;
    let in_the_cloud = env.get("API_WRITE_AUTHORIZER").as_deref() == Some("gateway");
    if in_the_cloud {
        let state = AppState::new(resources.db.clone(), None)
            .with_metrics(resources.metrics.clone())
            .with_request_timeout(settings.request_timeout)
            .with_gateway_authorizer();
        return Ok((state, settings));
    }
    let api_key = crate::load_api_key(env, &resources.aws).await?;
    if api_key.is_none() {
        tracing::warn!("neither API_KEY nor API_KEY_SECRET_ARN is set: writes are disabled");
    }
    let collector_settings = CollectorSettings::from_env(env)?
        .resolve_keys(Some(&resources.aws))
        .await?;
    let collector = Collector::builder(collector_settings)
        .database(resources.db.clone())
        .build()?;
    let state = AppState::new(resources.db.clone(), api_key)
        .with_collector(Arc::new(collector))
        .with_metrics(resources.metrics.clone())
        .with_request_timeout(settings.request_timeout);
    Ok((state, settings))
}

/// The runtime the api serves on.
///
/// **On Lambda** one thread, with the I/O and time drivers only. An instance serves one
/// invocation at a time, so a second worker would have nothing to run, and no signal is ever
/// awaited there. Worker threads and the signal driver were about a tenth of a cold start's
/// instructions.
///
/// **Elsewhere** one thread when the process may use one CPU, else one worker per CPU. On one
/// CPU a multi-thread runtime has a single worker anyway, and its LIFO slot runs a task
/// woken by the running one next: the database connection's task, woken by each request's
/// statement, runs straight after that request and sends the statement alone, one `send` (and
/// one wake-up of the server) per request. On the current-thread runtime a woken task waits
/// its turn behind the requests already ready, so the statements of all of them leave in one
/// write (pipelined on the read lanes, see `tickwatch::db::Db::reader`).
///
/// The worker count is the one read here: left to itself, tokio would ask for the CPU count
/// again, and on Linux each ask reads `/proc/self/cgroup` and the cgroup's CPU quota files
/// (six system calls and their parsing at every cold start).
pub fn runtime(env: &Env) -> std::io::Result<tokio::runtime::Runtime> {
    if on_lambda(env) {
        return tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build();
    }
    let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let mut builder = if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(cpus);
        builder
    };
    builder.enable_all().build()
}

/// Whether the process runs under a Lambda Runtime API (which sets this variable), not on
/// its own server.
fn on_lambda(env: &Env) -> bool {
    env.get(LAMBDA_RUNTIME_API).is_some()
}

/// Set by Lambda (and its local emulators) to the Runtime API's address.
const LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// Serves `state` until the Lambda runtime stops it, or locally until Ctrl-C.
pub async fn run(
    state: AppState,
    settings: ApiSettings,
    env: &Env,
) -> Result<(), lambda_http::Error> {
    let app = crate::app(state);
    if on_lambda(env) {
        return lambda_http::run(
            app.map_request(|request: lambda_http::Request| request.map(axum::body::Body::new)),
        )
        .await;
    }
    let port: u16 = match env.get("PORT") {
        Some(port) => port.parse().context("PORT must be a port number")?,
        None => 8080,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    crate::serve(listener, app, settings.server, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
