//! TLS for database connections through rustls, with the three modes libpq users know.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{DbError, TlsError};
use crate::config::{DatabaseSettings, TlsMode};

/// Builds the connector for `settings.tls`; `None` means plain TCP.
pub(crate) fn connector(settings: &DatabaseSettings) -> Result<Option<MakeRustlsConnect>, DbError> {
    if settings.tls == TlsMode::Disable {
        // Nothing of TLS is built for a plain connection, not even the crypto provider.
        return Ok(None);
    }
    let provider = crate::net::crypto_provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Tls(TlsError::Protocol(e)))?;
    let config = match settings.tls {
        TlsMode::Disable => return Ok(None),
        TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
        TlsMode::VerifyFull => {
            let roots = match &settings.ca_file {
                Some(path) => {
                    let mut roots = RootCertStore::empty();
                    let certs = CertificateDer::pem_file_iter(path)
                        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                        .map_err(|source| {
                            DbError::Tls(TlsError::CaFile {
                                path: path.clone(),
                                source,
                            })
                        })?;
                    let (added, _ignored) = roots.add_parsable_certificates(certs);
                    if added == 0 {
                        return Err(DbError::Tls(TlsError::NoUsableCertificate {
                            path: path.clone(),
                        }));
                    }
                    Arc::new(roots)
                }
                None => crate::net::root_store(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Some(MakeRustlsConnect::new(config)))
}

/// `DB_TLS=require`: the channel is encrypted and the handshake signatures are checked, but the
/// certificate's chain and name are not, exactly as libpq's `sslmode=require`.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
