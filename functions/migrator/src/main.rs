//! The migrator Lambda (inside the VPC): applies pending migrations and sets up the functions'
//! database roles, once per deployment (Terraform invokes it after each apply that changes it).
//! It alone logs in as the RDS master user, with the secret RDS manages; it reads that secret
//! over the VPC's free egress-only IPv6 path (Secrets Manager's endpoint is dual-stack).

use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::db::roles;
use tickwatch::startup::{Resources, exit_with};

const FUNCTION: &str = "migrator";

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let resources = match Resources::from_env(FUNCTION).await {
        Ok(resources) => resources,
        Err(error) => exit_with(FUNCTION, &error),
    };
    let resources = &resources;
    lambda_runtime::run(service_fn(
        move |_event: LambdaEvent<serde_json::Value>| async move {
            let applied = resources
                .db
                .migrate_with_roles()
                .await
                .inspect_err(|error| {
                    tracing::error!(%error, "migration failed");
                })?;
            let unassigned = roles::unassigned_tables(&resources.db.client().await?).await?;
            if !unassigned.is_empty() {
                tracing::warn!(
                    ?unassigned,
                    "tables no role may write: add them to db::roles"
                );
            }
            tracing::info!(applied, "migrated; roles granted");
            Ok::<_, lambda_runtime::Error>(serde_json::json!({
                "applied": applied,
                "roles": roles::ROLES.iter().map(|r| r.name).collect::<Vec<_>>(),
            }))
        },
    ))
    .await
}
