//! TLS client settings for the uplinks: rustls with ring as the only crypto provider.
//!
//! The `ClientConfig` is built from PEM bytes during config validation, so a wrong CA file, a
//! certificate without its key or a key that does not match fails `check-config` with the key
//! path instead of failing at the first connection. The provider is passed explicitly
//! (`builder_with_provider`), so no process-wide default has to be installed and a second
//! provider pulled in by some dependency could not make rustls panic.

use std::sync::Arc;

use rustls::client::ClientConfig;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// PEM contents of the TLS files of one uplink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA bundle; `None` uses the system's trust store.
    pub ca: Option<Vec<u8>>,
    /// Client certificate chain and private key (mutual TLS).
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

/// Which of the files a problem is about, for key paths in config errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    Ca,
    Cert,
    Key,
}

pub fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, (TlsFile, String)> {
    let mut roots = RootCertStore::empty();
    match &files.ca {
        Some(pem) => {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| (TlsFile::Ca, format!("not a PEM certificate file: {e}")))?;
            if certs.is_empty() {
                return Err((TlsFile::Ca, "no certificate found in the file".into()));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| (TlsFile::Ca, format!("unusable CA certificate: {e}")))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err((
                    TlsFile::Ca,
                    "not set, and no system CA certificates were found (install ca-certificates or set ca_file)".into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| (TlsFile::Ca, format!("TLS setup: {e}")))?
        .with_root_certificates(roots);
    let config = match &files.client {
        None => builder.with_no_client_auth(),
        Some((cert_pem, key_pem)) => {
            let chain = CertificateDer::pem_slice_iter(cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| (TlsFile::Cert, format!("not a PEM certificate file: {e}")))?;
            if chain.is_empty() {
                return Err((TlsFile::Cert, "no certificate found in the file".into()));
            }
            let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
                (
                    TlsFile::Key,
                    format!("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"),
                )
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                (
                    TlsFile::Key,
                    format!("does not match the certificate or is unsupported: {e}"),
                )
            })?
        }
    };
    Ok(Arc::new(config))
}
