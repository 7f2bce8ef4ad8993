//! Relay failures: which side failed, what happened, and whether retrying can help.

use std::fmt;

use baton_net::client::ClientError;
use baton_net::egress::refusal_of;
use baton_net::http_flv::FlvSourceError;
use baton_net::tls::TlsError;

/// Where a failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Pulling the source (PullStreamFailed in the providers' words).
    Source,
    /// Pushing to the destination (PushStreamFailed).
    Destination,
    /// Baton itself (bad configuration, a bug).
    Internal,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Source => "source",
            Side::Destination => "destination",
            Side::Internal => "internal",
        })
    }
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The URL cannot be used (syntax, unsupported scheme).
    InvalidUrl,
    /// TCP/TLS/HTTP connection could not be made.
    Connect,
    /// The peer answered and refused (publish rejected, stream key denied, HTTP 403).
    Refused,
    /// The stream does not exist (yet): HTTP 404, RTMP StreamNotFound.
    NotFound,
    /// No answer or no data within the allowed time.
    Timeout,
    /// The established connection broke or was closed by the peer.
    Disconnected,
    /// The peer sent bytes Baton cannot parse.
    Protocol,
    /// The source ended its stream.
    Ended,
    /// A feature that is not built yet.
    Unsupported,
    /// The account's egress policy does not allow the address (nothing was sent to it).
    EgressDenied,
    /// `rtmps://`, `https://`: the server's TLS certificate was rejected (expired, not valid for the
    /// host, unknown issuer, ...). The same server will present the same certificate.
    Certificate,
}

/// A relay failure. `retryable` says whether trying again (later) can help: a dropped
/// connection can; a destination that refuses the publish or an unsupported URL cannot.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{side}: {message}")]
pub struct RelayError {
    pub side: Side,
    pub kind: ErrorKind,
    pub message: String,
    pub retryable: bool,
}

impl RelayError {
    pub fn new(side: Side, kind: ErrorKind, message: impl Into<String>) -> RelayError {
        let retryable = !matches!(
            kind,
            ErrorKind::InvalidUrl
                | ErrorKind::Refused
                | ErrorKind::Unsupported
                | ErrorKind::EgressDenied
                | ErrorKind::Certificate
        );
        RelayError {
            side,
            kind,
            message: message.into(),
            retryable,
        }
    }

    pub fn from_client(side: Side, e: &ClientError) -> RelayError {
        if let ClientError::Connect { source, .. } = e
            && let Some(refusal) = refusal_of(source)
        {
            // The message is the refusal alone: which rule, which setting.
            return RelayError::new(side, ErrorKind::EgressDenied, refusal.to_string());
        }
        let kind = match e {
            ClientError::Connect { .. } => ErrorKind::Connect,
            ClientError::Timeout(_) => ErrorKind::Timeout,
            ClientError::Io(baton_net::io::IoError::Session(_)) => ErrorKind::Protocol,
            ClientError::Io(_) | ClientError::Closed => ErrorKind::Disconnected,
            ClientError::Refused { code, .. } if code.ends_with("StreamNotFound") => {
                ErrorKind::NotFound
            }
            ClientError::Refused { .. } => ErrorKind::Refused,
            ClientError::Unsupported(_) => ErrorKind::Unsupported,
            ClientError::Tls(TlsError::Certificate { .. }) => ErrorKind::Certificate,
            ClientError::Tls(TlsError::ServerName(_)) => ErrorKind::InvalidUrl,
            ClientError::Tls(TlsError::Handshake {
                transport: true, ..
            }) => ErrorKind::Disconnected,
            ClientError::Tls(TlsError::Handshake { .. }) => ErrorKind::Protocol,
            ClientError::TlsTimeout { .. } => ErrorKind::Timeout,
        };
        RelayError::new(side, kind, e.to_string())
    }

    pub fn from_flv(e: &FlvSourceError) -> RelayError {
        let kind = match e {
            FlvSourceError::Http(e) if e.is_timeout() => ErrorKind::Timeout,
            FlvSourceError::Http(e) if e.is_connect() => ErrorKind::Connect,
            FlvSourceError::Http(_) => ErrorKind::Disconnected,
            FlvSourceError::Status(s) if s.as_u16() == 404 => ErrorKind::NotFound,
            FlvSourceError::Status(_) if e.is_refusal() => ErrorKind::Refused,
            FlvSourceError::Status(_) => ErrorKind::Connect,
            FlvSourceError::Flv(_) => ErrorKind::Protocol,
            FlvSourceError::Ended => ErrorKind::Ended,
            FlvSourceError::Egress(_) => ErrorKind::EgressDenied,
            FlvSourceError::Lookup(_) => ErrorKind::Connect,
            FlvSourceError::Redirect(_) => ErrorKind::Protocol,
            FlvSourceError::Certificate(_) => ErrorKind::Certificate,
        };
        RelayError::new(Side::Source, kind, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_not_retryable_drops_are() {
        let refused = ClientError::Refused {
            stage: "publish".into(),
            code: "NetStream.Publish.BadName".into(),
            description: "busy".into(),
        };
        let e = RelayError::from_client(Side::Destination, &refused);
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(!e.retryable);
        let e = RelayError::from_client(Side::Destination, &ClientError::Closed);
        assert_eq!(e.kind, ErrorKind::Disconnected);
        assert!(e.retryable);
        let missing = ClientError::Refused {
            stage: "play".into(),
            code: "NetStream.Play.StreamNotFound".into(),
            description: "no such stream".into(),
        };
        assert!(RelayError::from_client(Side::Source, &missing).retryable);
        assert_eq!(
            e.to_string(),
            "destination: connection closed by the server"
        );
    }

    #[test]
    fn a_rejected_certificate_is_not_retried_a_broken_handshake_is() {
        let expired = ClientError::Tls(TlsError::Certificate {
            host: "live.example".into(),
            reason: "expired".into(),
        });
        let e = RelayError::from_client(Side::Destination, &expired);
        assert_eq!(e.kind, ErrorKind::Certificate);
        assert!(!e.retryable);
        assert_eq!(
            e.to_string(),
            "destination: TLS certificate of live.example rejected: expired"
        );
        let closed = ClientError::Tls(TlsError::Handshake {
            host: "live.example".into(),
            reason: "closed".into(),
            transport: true,
        });
        assert!(RelayError::from_client(Side::Source, &closed).retryable);
        let stalled = ClientError::TlsTimeout {
            addr: "live.example:443".into(),
            timeout: std::time::Duration::from_secs(10),
        };
        let e = RelayError::from_client(Side::Source, &stalled);
        assert_eq!((e.kind, e.retryable), (ErrorKind::Timeout, true));
        // An https:// source's rejected certificate is the same kind of error.
        let https = FlvSourceError::Certificate(TlsError::Certificate {
            host: "cdn.example".into(),
            reason: "unknown issuer".into(),
        });
        let e = RelayError::from_flv(&https);
        assert_eq!((e.kind, e.retryable), (ErrorKind::Certificate, false));
        assert_eq!(
            e.to_string(),
            "source: TLS certificate of cdn.example rejected: unknown issuer"
        );
    }
}
