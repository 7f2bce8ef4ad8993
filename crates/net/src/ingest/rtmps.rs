//! The RTMPS ingest: publishers and players reach the same [`Ingest`](super::Ingest) inside
//! TLS (rustls with ring), on a port of its own (`rtmps_listen`).
//!
//! The certificate and key are files the binary reads (only the binary reads files) and hands
//! over as PEM bytes; [`ServerCertificates::replace`] swaps them while the listener runs, so a
//! renewed certificate (certbot, a secret mount) takes effect for the next handshake without a
//! restart, and connections already open keep theirs. A pair that does not load (no
//! certificate, no key, a key that does not match the certificate) is refused and the one in
//! use stays. The TLS handshake is bounded by the ingest's `handshake_timeout`, as the RTMP
//! handshake after it is. No client certificates; TLS 1.3 and 1.2 (RFC 8446, RFC 5246); no
//! ALPN (RTMP publishers offer none).

use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use crate::tls::{TlsConfigError, parse_pem_certificates};

/// The certificate chain and key the RTMPS listener presents; replaceable while it runs.
pub struct ServerCertificates {
    current: RwLock<Arc<CertifiedKey>>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for ServerCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCertificates").finish_non_exhaustive()
    }
}

impl ServerCertificates {
    /// From a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or
    /// SEC1).
    pub fn new(
        chain_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Arc<ServerCertificates>, TlsConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = certified_key(chain_pem, key_pem, &provider)?;
        Ok(Arc::new(ServerCertificates {
            current: RwLock::new(Arc::new(key)),
            provider,
        }))
    }

    /// Presents this chain and key from the next handshake on; on an error the current pair
    /// stays.
    pub fn replace(&self, chain_pem: &[u8], key_pem: &[u8]) -> Result<(), TlsConfigError> {
        let key = certified_key(chain_pem, key_pem, &self.provider)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        Ok(())
    }

    /// A TLS acceptor presenting whatever pair is current at each handshake.
    pub fn acceptor(self: &Arc<Self>) -> TlsAcceptor {
        let config = rustls::ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .expect("ring's default provider supports rustls's default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        TlsAcceptor::from(Arc::new(config))
    }
}

impl ResolvesServerCert for ServerCertificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|e| e.into_inner()),
        ))
    }
}

fn certified_key(
    chain_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsConfigError> {
    let chain = parse_pem_certificates(chain_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| TlsConfigError::Pem(format!("no usable private key: {e}")))?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| TlsConfigError::BadCertificate {
        index: 0,
        reason: e.to_string(),
    })
}
