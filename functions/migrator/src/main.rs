//! The migrator Lambda (inside the VPC): applies pending migrations and sets up the functions'
//! database roles, once per deployment (Terraform invokes it after each apply that changes it).
//! It alone logs in as the RDS master user, with the secret RDS manages; it reads that secret
//! over the VPC's free egress-only IPv6 path (Secrets Manager's endpoint is dual-stack).

use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::db::roles;
use tickwatch::startup::{Resources, or_exit};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let resources = &or_exit("migrator", Resources::from_env("migrator").await);
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| async move {
        let report = roles::migrate(&resources.db).await?;
        Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
    }))
    .await
}
