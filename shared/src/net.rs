//! TLS for every outbound HTTPS call of a process: one rustls configuration (one crypto
//! provider, one root store) built on first use and shared by the price sources' HTTP client
//! and the AWS SDK's (see [`crate::aws`]).
//!
//! The roots are Mozilla's, compiled in (`webpki-roots`): nothing is read from disk, so a cold
//! start that never opens an HTTPS connection pays nothing for TLS, and one that does pays
//! microseconds rather than parsing the system bundle. A process that never calls out (the
//! detector, an API instance serving reads) never builds any of it.

use std::sync::{Arc, LazyLock};

use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::{ClientConfig, RootCertStore};

static PROVIDER: LazyLock<Arc<CryptoProvider>> =
    LazyLock::new(|| Arc::new(aws_lc_rs::default_provider()));

static ROOTS: LazyLock<Arc<RootCertStore>> = LazyLock::new(|| {
    Arc::new(RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
});

static CLIENT_CONFIG: LazyLock<ClientConfig> = LazyLock::new(|| {
    match ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder
            .with_root_certificates(root_store())
            .with_no_client_auth(),
        Err(_) => unreachable!("aws-lc-rs supports TLS 1.2 and 1.3, the safe defaults"),
    }
});

/// The rustls cryptography (aws-lc-rs) every TLS client of the process uses.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    PROVIDER.clone()
}

/// The public web's root certificates, built once per process.
pub fn root_store() -> Arc<RootCertStore> {
    ROOTS.clone()
}

/// The client configuration for public HTTPS endpoints. A clone shares the root store and
/// the provider with every other clone.
pub fn client_config() -> ClientConfig {
    CLIENT_CONFIG.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_shares_one_root_store_of_the_public_roots() {
        let first = root_store();
        assert!(Arc::ptr_eq(&first, &root_store()));
        assert_eq!(first.len(), webpki_roots::TLS_SERVER_ROOTS.len());
        assert!(first.len() > 100, "{} roots", first.len());
        assert!(Arc::ptr_eq(
            &crypto_provider(),
            &client_config().crypto_provider().clone()
        ));
    }
}
