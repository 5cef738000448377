//! The api Lambda: wiring only. The routes live in the `api` library target.

use lambda_http::{Body, Error, Request, Response, service_fn};
use tickwatch::startup::{Resources, exit_with};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let resources = match Resources::from_env("api").await {
        Ok(resources) => resources,
        Err(error) => exit_with("api", &error),
    };
    let resources = &resources;
    lambda_http::run(service_fn(move |request: Request| async move {
        handle(resources, request).await
    }))
    .await
}

async fn handle(resources: &Resources, _request: Request) -> Result<Response<Body>, Error> {
    resources.db.ensure_migrated().await?;
    Ok(Response::builder()
        .status(501)
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"error":{"code":"not_implemented","message":"the API is not implemented yet"}}"#,
        ))?)
}
