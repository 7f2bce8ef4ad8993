//! The RTSP live source's failures as the relay's: the connection itself
//! ([`baton_net::rtsp::RtspConnection`]: retina, egress, frames) lives in `baton-net`.
//!
//! Which failures end the relay at once and which the grace period and backoff absorb:
//! wrong or missing credentials (401), a refused address, `rtsps://`, a camera with no
//! H.264/H.265 video, a redirect and a request the server refuses as such (4xx) are
//! refusals, not retried; a stream that is not there (404, like RTMP's `StreamNotFound`: a camera's
//! stream comes back after a reboot), a refused or broken connection, garbage, silence and a
//! missing keyframe are drops — the camera is called again with backoff while the
//! destination session is held.

use baton_net::rtsp::{RtspError, is_refusal};

use crate::error::{ErrorKind, RelayError, Side};

/// The relay's view of an RTSP failure: the side is always the source.
pub fn from_rtsp(e: &RtspError) -> RelayError {
    let kind = match e {
        RtspError::InvalidUrl(_) => ErrorKind::InvalidUrl,
        RtspError::Unsupported(_) | RtspError::NoVideo { .. } => ErrorKind::Unsupported,
        RtspError::EgressDenied(_) => ErrorKind::EgressDenied,
        RtspError::Auth { .. } => ErrorKind::Refused,
        RtspError::NotFound { .. } => ErrorKind::NotFound,
        RtspError::Status { status, .. } if is_refusal(*status) => ErrorKind::Refused,
        RtspError::Status { .. } | RtspError::Lookup(_) | RtspError::Connect { .. } => {
            ErrorKind::Connect
        }
        RtspError::Protocol { .. } => ErrorKind::Protocol,
        RtspError::Disconnected { .. } => ErrorKind::Disconnected,
        RtspError::Timeout { .. } | RtspError::NoKeyframe { .. } => ErrorKind::Timeout,
    };
    let mut error = RelayError::new(Side::Source, kind, e.to_string());
    error.retryable = e.is_retryable();
    error
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn server() -> String {
        "cam.example:554".into()
    }

    #[test]
    fn refusals_end_the_relay_drops_are_retried() {
        let cases = [
            (
                RtspError::Auth {
                    server: server(),
                    detail: "the credentials in the URL were refused (401 Unauthorized)".into(),
                },
                ErrorKind::Refused,
                false,
            ),
            (
                RtspError::NotFound { server: server() },
                ErrorKind::NotFound,
                true,
            ),
            (
                RtspError::Status {
                    server: server(),
                    status: 461,
                    detail: "Unsupported transport".into(),
                },
                ErrorKind::Refused,
                false,
            ),
            (
                RtspError::Status {
                    server: server(),
                    status: 302,
                    detail: "Moved Temporarily (Baton does not follow RTSP redirects…)".into(),
                },
                ErrorKind::Refused,
                false,
            ),
            (
                RtspError::Status {
                    server: server(),
                    status: 503,
                    detail: "busy".into(),
                },
                ErrorKind::Connect,
                true,
            ),
            (
                RtspError::Protocol {
                    server: server(),
                    detail: "RTSP framing error".into(),
                },
                ErrorKind::Protocol,
                true,
            ),
            (
                RtspError::NoKeyframe {
                    server: server(),
                    after: Duration::from_secs(30),
                    dropped: 900,
                },
                ErrorKind::Timeout,
                true,
            ),
            (
                RtspError::NoVideo {
                    server: server(),
                    streams: "video jpeg/90000, audio pcma/8000".into(),
                },
                ErrorKind::Unsupported,
                false,
            ),
            (
                RtspError::EgressDenied("account \"t\" may not receive RTSP over UDP".into()),
                ErrorKind::EgressDenied,
                false,
            ),
        ];
        for (e, kind, retryable) in cases {
            let r = from_rtsp(&e);
            assert_eq!(
                (r.side, r.kind, r.retryable),
                (Side::Source, kind, retryable),
                "{e}"
            );
        }
        let r = from_rtsp(&RtspError::NoKeyframe {
            server: server(),
            after: Duration::from_secs(30),
            dropped: 900,
        });
        assert_eq!(
            r.to_string(),
            "source: RTSP server cam.example:554: no video keyframe for 30s (900 undecodable frames dropped)"
        );
    }
}
