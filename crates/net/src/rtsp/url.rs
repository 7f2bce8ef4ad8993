//! `rtsp://[user[:password]@]host[:port]/path[?query]` as Baton reads it (RFC 2326 §3.2).
//!
//! * **Credentials** come from the userinfo (percent-decoded: a `@` or `:` in a password is
//!   written `%40` / `%3A`). They are taken out of the URL sent to the camera (retina refuses a
//!   URL with userinfo, and the request line would show them) and never appear in a log, a
//!   status or an error: [`RtspUrl`]'s `Display` and [`mask_userinfo`] print `user:***@`.
//! * **Transport.** RTP over the RTSP connection (TCP-interleaved, RFC 2326 §10.12) unless the
//!   URL says `transport=udp` in its query — the one query parameter Baton reads; it is
//!   removed before the URL reaches the camera, every other parameter is kept (cameras use
//!   them: `?channel=1&subtype=0`). TCP is the default because it crosses NAT and firewalls
//!   and loses nothing; UDP is for a camera on a clean local network that serves no TCP.
//! * `rtsps://` (RTSP over TLS) is refused by name: retina, the RTSP client, has no TLS.

use std::fmt;

use url::Url;

use super::RtspError;

/// The default RTSP port (RFC 2326 §3.2).
pub const DEFAULT_PORT: u16 = 554;

/// How RTP reaches Baton.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RtspTransport {
    /// RTP and RTCP interleaved in the RTSP TCP connection (`$` frames). The default.
    #[default]
    Tcp,
    /// RTP and RTCP on a UDP port pair each stream (`transport=udp`).
    Udp,
}

impl RtspTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            RtspTransport::Tcp => "tcp",
            RtspTransport::Udp => "udp",
        }
    }
}

/// A parsed `rtsp://` source URL. `Display` masks the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RtspUrl {
    /// What the camera is sent: no userinfo, no `transport` parameter.
    request: Url,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
    transport: RtspTransport,
}

impl fmt::Debug for RtspUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtspUrl")
            .field("url", &self.to_string())
            .field("transport", &self.transport)
            .finish()
    }
}

impl fmt::Display for RtspUrl {
    /// The URL with the password replaced by `***` (and without `transport=`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rest = self
            .request
            .as_str()
            .strip_prefix("rtsp://")
            .unwrap_or(self.request.as_str());
        match &self.credentials {
            Some((user, _)) => write!(f, "rtsp://{}:***@{rest}", encode_userinfo(user)),
            None => write!(f, "rtsp://{rest}"),
        }
    }
}

impl RtspUrl {
    pub fn parse(text: &str) -> Result<RtspUrl, RtspError> {
        let masked = mask_userinfo(text);
        let invalid = |why: &str| RtspError::InvalidUrl(format!("{masked}: {why}"));
        let scheme = text
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        if scheme == "rtsps" {
            return Err(RtspError::Unsupported(format!(
                "{masked}: rtsps:// (RTSP over TLS) is not supported: Baton's RTSP client has no TLS; use rtsp://"
            )));
        }
        if scheme != "rtsp" {
            return Err(invalid("not an rtsp:// URL"));
        }
        let mut url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.to_string(),
            _ => return Err(invalid("no host")),
        };
        let port = url.port().unwrap_or(DEFAULT_PORT);
        let credentials = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let user = percent_decode(url.username()).ok_or_else(|| invalid("bad user name"))?;
            let password = percent_decode(url.password().unwrap_or(""))
                .ok_or_else(|| invalid("bad password"))?;
            Some((user, password))
        };
        // `set_username("")` cannot fail on an rtsp URL with a host.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let mut transport = RtspTransport::Tcp;
        let mut kept = Vec::new();
        for (key, value) in url.query_pairs() {
            if key == "transport" {
                transport = match value.to_ascii_lowercase().as_str() {
                    "tcp" => RtspTransport::Tcp,
                    "udp" => RtspTransport::Udp,
                    other => {
                        return Err(RtspError::Unsupported(format!(
                            "{masked}: transport={other} is not one of tcp (the default), udp"
                        )));
                    }
                };
            } else {
                kept.push((key.into_owned(), value.into_owned()));
            }
        }
        if url.query().is_some() {
            if kept.is_empty() {
                url.set_query(None);
            } else if url.query_pairs().any(|(k, _)| k == "transport") {
                url.query_pairs_mut().clear().extend_pairs(&kept);
            }
        }
        Ok(RtspUrl {
            request: url,
            host,
            port,
            credentials,
            transport,
        })
    }

    /// The host as written (a name or an IP literal; IPv6 in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn transport(&self) -> RtspTransport {
        self.transport
    }

    /// User name and password from the userinfo, decoded.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The URL the camera is sent, its host replaced by `addr` — the address the egress
    /// policy checked, which is the one retina connects to (see [`super`]).
    pub fn request_to(&self, addr: std::net::SocketAddr) -> Url {
        let mut url = self.request.clone();
        // An rtsp URL with a host accepts an IP host and a port.
        let _ = url.set_ip_host(addr.ip());
        let _ = url.set_port(Some(addr.port()));
        url
    }
}

/// `text` with the password of its userinfo (if any) replaced by `***`, for logs: the
/// source URL of a task may carry a camera's credentials. Anything that is not
/// `scheme://user:password@…` comes back unchanged.
pub fn mask_userinfo(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return text.to_string();
    };
    let userinfo = &authority[..at];
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    format!("{scheme}://{user}:***@{}", &rest[at + 1..])
}

/// RFC 3986 §2.1 percent-decoding of a userinfo part; `None` when the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            // Two hex digits: at most 0xff.
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A user name as it may appear in a URL again (what the parser would decode back).
fn encode_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_taken_out_decoded_and_masked() {
        let u = RtspUrl::parse("rtsp://admin:p%40ss%3Aw@cam.example/Streaming/101").unwrap();
        assert_eq!(u.credentials(), Some(("admin", "p@ss:w")));
        assert_eq!((u.host(), u.port()), ("cam.example", 554));
        assert_eq!(u.transport(), RtspTransport::Tcp);
        assert_eq!(u.to_string(), "rtsp://admin:***@cam.example/Streaming/101");
        assert!(!format!("{u:?}").contains("p%40ss"));
        let req = u.request_to("192.0.2.7:554".parse().unwrap());
        assert_eq!(req.as_str(), "rtsp://192.0.2.7:554/Streaming/101");
    }

    #[test]
    fn transport_is_read_from_the_query_and_removed() {
        let u = RtspUrl::parse("rtsp://cam:8554/live?transport=UDP").unwrap();
        assert_eq!(u.transport(), RtspTransport::Udp);
        assert_eq!(
            u.request_to("[::1]:8554".parse().unwrap()).as_str(),
            "rtsp://[::1]:8554/live"
        );
        let u =
            RtspUrl::parse("rtsp://cam/cam/realmonitor?channel=1&transport=tcp&subtype=0").unwrap();
        assert_eq!(u.transport(), RtspTransport::Tcp);
        assert_eq!(
            u.to_string(),
            "rtsp://cam/cam/realmonitor?channel=1&subtype=0"
        );
        // Other queries are sent as written.
        let u = RtspUrl::parse("rtsp://cam/a?x=%2F").unwrap();
        assert_eq!(u.to_string(), "rtsp://cam/a?x=%2F");
    }

    #[test]
    fn what_cannot_be_used_is_refused_by_name() {
        for (url, what) in [
            (
                "rtsps://u:secret@cam/a",
                "rtsps:// (RTSP over TLS) is not supported",
            ),
            (
                "rtsp://cam/a?transport=http",
                "transport=http is not one of",
            ),
            ("rtsp:///a", "no host"),
            ("rtmp://cam/a", "not an rtsp:// URL"),
        ] {
            let e = RtspUrl::parse(url).unwrap_err().to_string();
            assert!(e.contains(what), "{url}: {e}");
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn masking_keeps_everything_but_the_password() {
        assert_eq!(
            mask_userinfo("rtsp://admin:12345@10.0.0.2:554/h264?a=b@c"),
            "rtsp://admin:***@10.0.0.2:554/h264?a=b@c"
        );
        assert_eq!(
            mask_userinfo("rtsp://admin@cam/x"),
            "rtsp://admin:***@cam/x"
        );
        assert_eq!(mask_userinfo("rtmp://h/app/key"), "rtmp://h/app/key");
        assert_eq!(mask_userinfo("not a url"), "not a url");
    }
}
