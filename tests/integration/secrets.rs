//! Credentials read from a Secrets Manager secret on the local AWS-compatible server.

use tickwatch::config::{ConfigError, DatabaseSettings, Env};
use tickwatch::db::{Db, DbError};
use tickwatch_tests::{TestDb, admin_url, local_aws};

async fn create_secret(aws: &aws_config::SdkConfig, body: &str) -> String {
    let client = aws_sdk_secretsmanager::Client::new(aws);
    let name = format!("tickwatch/test/{}", uuid::Uuid::new_v4().simple());
    client
        .create_secret()
        .name(&name)
        .secret_string(body)
        .send()
        .await
        .expect("create the secret on the local server")
        .arn
        .expect("the secret has an ARN")
}

fn host_and_port(url: &str) -> (String, String) {
    let config: tokio_postgres::Config = url.parse().expect("valid admin URL");
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("the tests expect a TCP host, got {other:?}"),
    };
    (host, config.get_ports()[0].to_string())
}

#[tokio::test]
async fn credentials_are_read_from_a_secrets_manager_secret() {
    let test_db = TestDb::migrated().await;
    let aws = local_aws().await;
    let (host, port) = host_and_port(&admin_url());
    // The shape RDS writes for a managed master user: only username and password.
    let arn = create_secret(
        &aws,
        r#"{"username":"postgres","password":"not-checked-by-trust-auth"}"#,
    )
    .await;
    let env = Env::from_pairs(&[
        ("DB_SECRET_ARN", &arn),
        ("DB_HOST", &host),
        ("DB_PORT", &port),
        ("DB_NAME", &test_db.name),
        ("DB_TLS", "disable"),
    ]);
    let settings = DatabaseSettings::from_env(&env).expect("valid settings");
    let db = Db::connect(&settings, Some(&aws))
        .await
        .expect("the secret is read");
    let client = db
        .client()
        .await
        .expect("connect with the secret's credentials");
    let row = client
        .query_one("SELECT current_database()::text", &[])
        .await
        .expect("query");
    assert_eq!(row.get::<_, String>(0), test_db.name);
}

#[tokio::test]
async fn a_secret_in_the_wrong_shape_names_the_variable_and_hides_the_value() {
    let aws = local_aws().await;
    let arn = create_secret(&aws, r#"{"user":"postgres","pass":"hunter2"}"#).await;
    let env = Env::from_pairs(&[("DB_SECRET_ARN", &arn), ("DB_HOST", "127.0.0.1")]);
    let settings = DatabaseSettings::from_env(&env).expect("valid settings");
    let err = Db::connect(&settings, Some(&aws))
        .await
        .expect_err("wrong shape");
    let text = err.to_string();
    assert!(
        matches!(
            err,
            DbError::Config(ConfigError::SecretUnreadable {
                name: "DB_SECRET_ARN",
                ..
            })
        ),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn a_secret_that_does_not_exist_is_reported_against_its_variable() {
    let aws = local_aws().await;
    let env = Env::from_pairs(&[
        (
            "DB_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:missing-AbCdEf",
        ),
        ("DB_HOST", "127.0.0.1"),
    ]);
    let settings = DatabaseSettings::from_env(&env).expect("valid settings");
    let err = Db::connect(&settings, Some(&aws))
        .await
        .expect_err("no such secret");
    assert!(err.to_string().starts_with("DB_SECRET_ARN"), "{err}");
}

#[tokio::test]
async fn a_login_refused_after_rotation_re_reads_the_secret_once_and_succeeds() {
    // Arrange: a role that must present its password, and a secret holding it.
    let test_db = TestDb::migrated().await;
    let aws = local_aws().await;
    let admin = tickwatch_tests::admin().await;
    let user = format!("tw_rot_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE tickwatch_password_login NOLOGIN;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
             CREATE ROLE {user} LOGIN PASSWORD 'first-password-1' IN ROLE tickwatch_password_login;"
        ))
        .await
        .expect("a password role");
    let (host, port) = host_and_port(&admin_url());
    let wrong = format!("postgres://{user}:wrong@{host}:{port}/{}", test_db.name);
    if tokio_postgres::connect(&wrong, tokio_postgres::NoTls)
        .await
        .is_ok()
    {
        eprintln!("skipped: this cluster does not check passwords (run it with make test)");
        return;
    }
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let arn = create_secret(
        &aws,
        &format!(r#"{{"username":"{user}","password":"first-password-1"}}"#),
    )
    .await;
    let env = Env::from_pairs(&[
        ("DB_SECRET_ARN", &arn),
        ("DB_HOST", &host),
        ("DB_PORT", &port),
        ("DB_NAME", &test_db.name),
        ("DB_TLS", "disable"),
        ("DB_POOL_SIZE", "1"),
    ]);
    let db = Db::connect(
        &DatabaseSettings::from_env(&env).expect("valid"),
        Some(&aws),
    )
    .await
    .expect("the secret is read at start");
    let first = db.client().await.expect("logs in with the first password");
    // The pool keeps no connection: the next one logs in afresh.
    let _ = deadpool_postgres::Object::take(first);

    // Act: the password is rotated, in the database and in the secret, as RDS does.
    admin
        .batch_execute(&format!("ALTER ROLE {user} PASSWORD 'second-password-2'"))
        .await
        .expect("rotate");
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(format!(
            r#"{{"username":"{user}","password":"second-password-2"}}"#
        ))
        .send()
        .await
        .expect("the new secret version");
    let client = db.client().await;

    // Assert: the refused login read the secret again and got in.
    let client = client.expect("re-read the rotated secret and logged in");
    let who: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .expect("a query")
        .get(0);
    assert_eq!(who, user);
    admin
        .batch_execute(&format!("DROP OWNED BY {user}; DROP ROLE {user}"))
        .await
        .ok();
}
