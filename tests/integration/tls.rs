//! TLS modes against real servers: the plain test cluster and a second one with a certificate.

use tickwatch::db::DbError;
use tickwatch_tests::{TestDb, admin_url, connect};

fn tls_cluster() -> Option<(String, String)> {
    Some((
        std::env::var("TICKWATCH_TEST_TLS_DATABASE_URL").ok()?,
        std::env::var("TICKWATCH_TEST_TLS_CA_FILE").ok()?,
    ))
}

#[tokio::test]
async fn requiring_tls_from_a_server_without_it_fails_with_a_clear_error() {
    tickwatch_tests::init_logging();
    let db = connect(&admin_url(), &[("DB_TLS", "require")]).await;
    let err = db.ping().await.expect_err("the plain server cannot do TLS");
    let text = err.to_string();
    assert!(
        matches!(err, DbError::Connect { tls: "require", .. }),
        "{text}"
    );
    assert!(err.is_unavailable());
    assert!(text.contains("TLS"), "{text}");
    assert!(text.contains("DB_TLS=require"), "{text}");
}

#[tokio::test]
async fn require_and_verify_full_succeed_against_a_server_with_a_certificate() {
    let Some((url, ca_file)) = tls_cluster() else {
        // `make test` always starts the TLS cluster; only a hand-set DATABASE_URL skips it.
        eprintln!("skipped: no TLS cluster (DATABASE_URL was set)");
        return;
    };
    let encrypted_only = connect(&url, &[("DB_TLS", "require")]).await;
    encrypted_only.ping().await.expect("require connects");
    let verified = connect(
        &url,
        &[("DB_TLS", "verify-full"), ("DB_TLS_CA_FILE", &ca_file)],
    )
    .await;
    let client = verified.client().await.expect("verify-full connects");
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("query")
        .get(0);
    assert!(ssl, "the session is encrypted");
}

#[tokio::test]
async fn verify_full_rejects_a_certificate_from_an_untrusted_ca() {
    let Some((url, _)) = tls_cluster() else {
        eprintln!("skipped: no TLS cluster (DATABASE_URL was set)");
        return;
    };
    // Without DB_TLS_CA_FILE only the public web roots are trusted, and our test CA is not one.
    let db = connect(&url, &[("DB_TLS", "verify-full")]).await;
    let err = db.ping().await.expect_err("the test CA is not trusted");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn a_test_database_is_not_left_reachable_over_plain_tcp_by_accident() {
    // Guards the harness: the plain cluster really has no TLS, or the first test proves nothing.
    let test_db = TestDb::empty().await;
    let client = test_db.raw().await;
    let ssl: String = client
        .query_one("SHOW ssl", &[])
        .await
        .expect("show ssl")
        .get(0);
    assert_eq!(ssl, "off");
}
