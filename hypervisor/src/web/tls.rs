//! TLS for hosts that face browsers without a proxy in front: a PEM certificate chain and
//! key, served with rustls (ring).

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot read the certificate chain {path}: {reason}")]
    Certificate { path: String, reason: String },
    #[error("cannot read the private key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A TLS acceptor for the PEM files `cert` (leaf first) and `key`.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let certificate = |reason: String| TlsError::Certificate {
        path: cert.display().to_string(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|err| certificate(err.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| certificate(err.to_string()))?;
    if chain.is_empty() {
        return Err(certificate("no CERTIFICATE block in it".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|err| TlsError::Key {
        path: key.display().to_string(),
        reason: err.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
