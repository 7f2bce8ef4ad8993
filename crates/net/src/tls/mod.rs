//! RTMPS: RTMP over TLS, client side (rustls with the `ring` provider, the one crypto provider
//! in the binary).
//!
//! RTMPS has no specification of its own: it is the RTMP byte stream inside a TLS connection,
//! made right after TCP connect and before the RTMP handshake (what librtmp, ffmpeg and OBS
//! do, and what Facebook Live, YouTube and Twitch accept on port 443). The choices here:
//!
//! * **Roots**: the Mozilla root program as compiled into `webpki-roots` — the same set
//!   reqwest already verifies HTTPS sources (HTTP-FLV, HLS) against, so both kinds of source
//!   agree on whom they trust, and the same on every machine (a minimal container image often
//!   has no system store for `rustls-native-certs` to read). Certificates of a private CA
//!   are added by the operator (`[tls] ca_file`, `baton relay --ca-file`): the binary reads
//!   the PEM file, [`parse_pem_certificates`] turns its bytes into certificates, and
//!   [`TlsClient::new`] trusts them besides the roots; HTTPS requests trust them too
//!   ([`crate::egress::Egress::with_tls`]). Updating the roots means a rebuild.
//! * **SNI** is the URL's host name (RFC 6066 §3), not the address dialed: the egress check
//!   resolves the name and dials an IP literal, but the certificate is checked against, and
//!   the server selects its certificate by, the name the URL gave. An IP literal host sends
//!   no SNI (§3 forbids literals) and is checked against the certificate's IP addresses.
//! * **ALPN**: none offered. No RTMP ingest asks for one (Facebook's
//!   `live-api-s.facebook.com:443`, YouTube's `a.rtmps.youtube.com:443` are served to
//!   ffmpeg/librtmp and OBS, which offer none), and there is no registered RTMP ALPN id.
//! * **Versions**: TLS 1.3 and 1.2 (RFC 8446, RFC 5246) with rustls's safe defaults.
//!
//! A certificate the verifier rejects is [`TlsError::Certificate`], whose message says what
//! failed (expired, not valid for the host, unknown issuer — a self-signed or private-CA
//! certificate — …); trying again will not change it, so callers do not retry it. A handshake
//! that stalls is bounded by the caller's timeout.

pub mod name;

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::transport::{BoxReader, BoxWriter};

/// Trust and settings for client TLS connections. Cheap to clone (the config is shared).
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    /// The operator's CA certificates, kept for the HTTPS client (reqwest builds its own
    /// rustls config: [`TlsClient::extra_root_certificates`]).
    extra_roots: Arc<[CertificateDer<'static>]>,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("extra_roots", &self.extra_roots.len())
            .finish_non_exhaustive()
    }
}

impl Default for TlsClient {
    /// The web PKI roots alone, built once per process.
    fn default() -> Self {
        static DEFAULT: OnceLock<TlsClient> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                TlsClient::new(&[])
                    .expect("the bundled web PKI roots alone always make a valid config")
            })
            .clone()
    }
}

/// Why a TLS client configuration could not be made (a bad CA file).
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("no certificate (-----BEGIN CERTIFICATE-----) in the CA file")]
    NoCertificates,
    #[error("the CA file is not PEM: {0}")]
    Pem(String),
    #[error("CA certificate {index} cannot be used as a trust anchor: {reason}")]
    BadCertificate { index: usize, reason: String },
}

/// Why a TLS connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The server's certificate was rejected. Not retryable: the same server presents the
    /// same certificate.
    #[error("TLS certificate of {host} rejected: {reason}")]
    Certificate { host: String, reason: String },
    /// The URL's host cannot be a TLS server name.
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
    /// The handshake failed otherwise: an alert from the server, no common version or
    /// cipher suite, bytes that are not TLS (a plain RTMP port?), the connection closed.
    #[error("TLS handshake with {host} failed: {reason}")]
    Handshake {
        host: String,
        reason: String,
        /// The connection broke (closed, reset) rather than the peer speaking badly: a
        /// retry may find the server back.
        transport: bool,
    },
}

/// What was negotiated, for status and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.3`, `TLSv1.2`.
    pub version: String,
    /// The IANA name of the cipher suite, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher: String,
    /// The DNS names (subjectAltName) of the server's certificate, comma-separated; empty if
    /// it names none (an IP-address certificate).
    pub peer_names: String,
    /// The server certificate's subject, `CN=…,O=…,C=…` ([`name::render`]).
    pub subject: String,
    /// Who signed it (the issuing CA's name), same form.
    pub issuer: String,
}

impl TlsClient {
    /// Trusts the web PKI roots and `extra_roots` (a private CA, a test CA).
    pub fn new(extra_roots: &[CertificateDer<'static>]) -> Result<TlsClient, TlsConfigError> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for (index, cert) in extra_roots.iter().enumerate() {
            roots
                .add(cert.clone())
                .map_err(|e| TlsConfigError::BadCertificate {
                    index,
                    reason: e.to_string(),
                })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring's default provider supports rustls's default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsClient {
            config: Arc::new(config),
            extra_roots: extra_roots.into(),
        })
    }

    /// How many certificates were added to the web PKI roots.
    pub fn extra_roots(&self) -> usize {
        self.extra_roots.len()
    }

    /// The certificates trusted besides the web PKI roots, for clients that build their own
    /// TLS config from the same trust (HTTPS sources: [`crate::egress::http`]).
    pub fn extra_root_certificates(&self) -> &[CertificateDer<'static>] {
        &self.extra_roots
    }

    /// Runs the TLS handshake over an open byte stream to `host` (the URL's host: SNI and
    /// the name the certificate must carry) and returns the encrypted stream's halves. Not
    /// bounded in time: the caller's timeout is.
    pub async fn connect(
        &self,
        host: &str,
        reader: BoxReader,
        writer: BoxWriter,
    ) -> Result<(BoxReader, BoxWriter, TlsInfo), TlsError> {
        let name = server_name(host)?;
        let connector = TlsConnector::from(Arc::clone(&self.config));
        let stream = connector
            .connect(name, tokio::io::join(reader, writer))
            .await
            .map_err(|e| classify(host, e))?;
        let info = info_of(stream.get_ref().1);
        let (r, w) = tokio::io::split(stream);
        Ok((Box::new(r), Box::new(w), info))
    }
}

/// The certificates of a PEM file's bytes (other sections, such as keys, are skipped).
pub fn parse_pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsConfigError::NoCertificates);
    }
    Ok(certs)
}

/// The TLS server name of a URL host: a DNS name, or an IP literal (bracketed or not).
fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|_| TlsError::ServerName(host.to_string()))
}

/// The certificate verdict in an error's chain, if a TLS handshake (ours or an HTTPS
/// client's, which wraps rustls's error in its own) failed on the server's certificate.
pub fn certificate_error(host: &str, e: &(dyn std::error::Error + 'static)) -> Option<TlsError> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(found) = e
            .downcast_ref::<rustls::Error>()
            .and_then(|r| rejected_certificate(host, r))
        {
            return Some(found);
        }
        // `io::Error::source` skips the error it wraps (it answers that error's source), so
        // an I/O error is opened with `get_ref`: hyper wraps rustls's error in two of them.
        next = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn rejected_certificate(host: &str, e: &rustls::Error) -> Option<TlsError> {
    let reason = match e {
        rustls::Error::InvalidCertificate(cert) => describe_certificate_error(cert),
        rustls::Error::NoCertificatesPresented => "the server presented no certificate".into(),
        _ => return None,
    };
    Some(TlsError::Certificate {
        host: host.to_string(),
        reason,
    })
}

/// Names a failed handshake: the certificate verdict if rustls gave one.
fn classify(host: &str, e: std::io::Error) -> TlsError {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(r) => rejected_certificate(host, r).unwrap_or_else(|| TlsError::Handshake {
            host: host.to_string(),
            reason: r.to_string(),
            transport: false,
        }),
        None => TlsError::Handshake {
            host: host.to_string(),
            reason: match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    "the server closed the connection during the handshake".into()
                }
                _ => e.to_string(),
            },
            transport: true,
        },
    }
}

/// What failed, in the operator's words, then rustls's own detail (which carries the times
/// or names involved).
fn describe_certificate_error(e: &CertificateError) -> String {
    let what = match e {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired",
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "not valid yet (check this host's clock)"
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "not valid for this host name"
        }
        CertificateError::UnknownIssuer => {
            "unknown issuer: not signed by a trusted CA (a self-signed certificate or one of a \
             private CA needs that CA in [tls] ca_file, or baton relay --ca-file)"
        }
        CertificateError::Revoked => "revoked",
        CertificateError::BadSignature => "bad signature",
        CertificateError::BadEncoding => "not a valid X.509 certificate",
        _ => "rejected",
    };
    format!("{what} ({e})")
}

fn info_of(conn: &rustls::ClientConnection) -> TlsInfo {
    let version = conn
        .protocol_version()
        .and_then(|v| v.as_str())
        .unwrap_or("TLS")
        .replace("TLSv1_", "TLSv1.");
    let cipher = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown")
        .to_string();
    let leaf = conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| webpki::EndEntityCert::try_from(leaf).ok());
    let Some(leaf) = leaf else {
        return TlsInfo {
            version,
            cipher,
            peer_names: String::new(),
            subject: String::new(),
            issuer: String::new(),
        };
    };
    TlsInfo {
        version,
        cipher,
        peer_names: leaf.valid_dns_names().collect::<Vec<_>>().join(","),
        subject: name::render(leaf.subject()),
        issuer: name::render(leaf.issuer()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_take_dns_names_and_ip_literals() {
        assert!(matches!(
            server_name("live-api-s.facebook.com"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            server_name("127.0.0.1"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(server_name("::1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(
            server_name("bad name"),
            Err(TlsError::ServerName(_))
        ));
    }

    #[test]
    fn a_ca_file_without_certificates_is_named() {
        assert!(matches!(
            parse_pem_certificates(b"not pem"),
            Err(TlsConfigError::NoCertificates)
        ));
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_pem_certificates(broken),
            Err(TlsConfigError::Pem(_))
        ));
    }

    #[test]
    fn the_default_client_trusts_the_web_roots_only() {
        assert_eq!(TlsClient::default().extra_roots(), 0);
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 50);
    }
}
