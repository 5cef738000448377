//! TLS for every outbound HTTPS call of a process: one rustls configuration (one crypto
//! provider, one root store) built on first use and shared by the price sources' HTTP client,
//! the AWS SDK's (see [`crate::aws`]) and the database's.
//!
//! The provider is ring's. aws-lc-rs (rustls' default) would add about a megabyte of C to
//! every package and several minutes of C compilation to every release build, for nothing we
//! use: no FIPS mode, no post-quantum key exchange our peers ask for.
//!
//! The roots are Mozilla's, compiled in (`webpki-roots`): nothing is read from disk, so a cold
//! start that never opens an HTTPS connection pays nothing for TLS, and one that does pays
//! microseconds rather than parsing the system bundle. A process that never calls out (the
//! detector, an API instance serving reads) never builds any of it.

use std::sync::{Arc, LazyLock};

use rustls::crypto::{CryptoProvider, ring};
use rustls::{ClientConfig, RootCertStore};

/// ring, installed as the process default as well, so a client built by code that asks rustls
/// for its default (a test's `reqwest::Client::new()`) finds this one instead of none.
static PROVIDER: LazyLock<Arc<CryptoProvider>> = LazyLock::new(|| {
    // Err means a provider is installed already; the one installed is the one to share.
    let _ = ring::default_provider().install_default();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(ring::default_provider()))
});

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
        Err(_) => unreachable!("ring supports TLS 1.2 and 1.3, the safe defaults"),
    }
});

/// The rustls cryptography (ring) every TLS client of the process uses.
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

/// A `reqwest` client builder on the process's TLS configuration: every HTTP client of the
/// project starts here (reqwest is built without a crypto provider of its own).
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(client_config())
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
