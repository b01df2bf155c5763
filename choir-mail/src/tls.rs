//! TLS for the account's servers: the web's root certificates, and the account's own
//! authority besides when it has one (a server with a certificate of a private CA).

use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::SectionKind;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::CertificateDer;

/// The certificates in `pem`, which must hold nothing else (a private key pasted with them
/// would be kept with the account).
pub(crate) fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut reader = pem.as_bytes();
    let mut found = Vec::new();
    loop {
        match rustls_pki_types::pem::from_buf(&mut reader) {
            Ok(Some((SectionKind::Certificate, der))) => found.push(CertificateDer::from(der)),
            Ok(Some((kind, _))) => {
                return Err(format!(
                    "it holds a {kind:?} section; give certificates only"
                ))
            }
            Ok(None) => return Ok(found),
            Err(err) => return Err(err.to_string()),
        }
    }
}

/// A client configuration that trusts the web's roots and `ca`'s certificates.
pub(crate) fn config(ca: Option<&str>) -> Result<Arc<rustls::ClientConfig>, String> {
    static WEB_ONLY: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let make = |ca: Option<&str>| {
        let mut roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for certificate in ca.map(certificates).transpose()?.unwrap_or_default() {
            roots.add(certificate).map_err(|err| err.to_string())?;
        }
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|builder| Arc::new(builder.with_root_certificates(roots).with_no_client_auth()))
        .map_err(|err| err.to_string())
    };
    match ca {
        None => WEB_ONLY.get_or_init(|| make(None)).clone(),
        Some(ca) => make(Some(ca)),
    }
}

/// A connector for [`config`].
pub(crate) fn connector(ca: Option<&str>) -> Result<tokio_rustls::TlsConnector, String> {
    config(ca).map(tokio_rustls::TlsConnector::from)
}
