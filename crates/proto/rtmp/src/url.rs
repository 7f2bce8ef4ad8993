//! RTMP URLs: `rtmp[s]://host[:port]/app[/more/app]/stream[?query]`.
//!
//! RTMP itself has no URL grammar; the split into *app* (sent in `connect`) and *stream*
//! (sent in `publish`/`play`) follows what ffmpeg, OBS and librtmp do: the stream is the last
//! path segment with everything after it, the app is everything before. A query placed on the
//! app, as in `rtmp://host/live?vhost=v/stream` (SRS, CDNs), stays with the app.

use std::fmt;

/// A parsed RTMP URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    /// `rtmps://`: RTMP over TLS.
    pub tls: bool,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Explicit port, else 1935 (`rtmp`) or 443 (`rtmps`).
    pub port: u16,
    /// Application path, possibly with slashes and a query (`live`, `a/b`, `live?vhost=v`).
    pub app: String,
    /// Stream name with its query, if any (`s`, `s?key=1`).
    pub stream: String,
    /// `rtmp[s]://host[:port]/app`, sent as `tcUrl` in `connect`; the port appears when the
    /// URL had one.
    pub tc_url: String,
}

/// Why a string is not a usable RTMP URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("unsupported URL scheme in {0:?} (expected rtmp:// or rtmps://)")]
    Scheme(String),
    #[error("missing host in RTMP URL {0:?}")]
    MissingHost(String),
    #[error("invalid port in RTMP URL {0:?}")]
    InvalidPort(String),
    #[error("missing application in RTMP URL {0:?}")]
    MissingApp(String),
    #[error("missing stream name in RTMP URL {0:?}")]
    MissingStream(String),
}

impl RtmpUrl {
    /// Parses an `rtmp://` or `rtmps://` URL.
    pub fn parse(input: &str) -> Result<RtmpUrl, UrlError> {
        let s = input.trim();
        let scheme_end = s
            .find("://")
            .ok_or_else(|| UrlError::Scheme(input.into()))?;
        let tls = match s[..scheme_end].to_ascii_lowercase().as_str() {
            "rtmp" => false,
            "rtmps" => true,
            _ => return Err(UrlError::Scheme(input.into())),
        };
        let rest = &s[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        // Credentials are not part of RTMP; drop them rather than send them as a host.
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = split_host_port(authority).ok_or_else(|| {
            if authority.is_empty() {
                UrlError::MissingHost(input.into())
            } else {
                UrlError::InvalidPort(input.into())
            }
        })?;
        if host.is_empty() {
            return Err(UrlError::MissingHost(input.into()));
        }
        let path = rest[authority_end..].trim_start_matches('/');
        let (app, stream) = split_path(path).map_err(|missing| match missing {
            Missing::App => UrlError::MissingApp(input.into()),
            Missing::Stream => UrlError::MissingStream(input.into()),
        })?;
        let port_explicit = port.is_some();
        let port = port.unwrap_or(if tls { 443 } else { 1935 });
        let scheme = if tls { "rtmps" } else { "rtmp" };
        let host_part = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let tc_url = if port_explicit {
            format!("{scheme}://{host_part}:{port}/{app}")
        } else {
            format!("{scheme}://{host_part}/{app}")
        };
        Ok(RtmpUrl {
            tls,
            host: host.to_owned(),
            port,
            app: app.to_owned(),
            stream: stream.to_owned(),
            tc_url,
        })
    }

    /// The stream name without its query.
    pub fn stream_name(&self) -> &str {
        self.stream.split_once('?').map_or(&self.stream, |(n, _)| n)
    }
}

impl fmt::Display for RtmpUrl {
    /// The URL rebuilt from `tc_url` and the stream.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tc_url, self.stream)
    }
}

enum Missing {
    App,
    Stream,
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`; `None` for a bad port or bracket.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let parse_port = |p: &str| p.parse::<u16>().ok().filter(|&p| p != 0);
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(parse_port(after.strip_prefix(':')?)?))),
        };
    }
    match authority.rsplit_once(':') {
        // More than one colon without brackets: a bare IPv6 literal, no port.
        Some((host, _)) if host.contains(':') => Some((authority, None)),
        Some((host, port)) => Some((host, Some(parse_port(port)?))),
        None => Some((authority, None)),
    }
}

/// Splits the path (after the host, without leading slashes) into app and stream.
fn split_path(path: &str) -> Result<(&str, &str), Missing> {
    let (before_query, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    if let Some(slash) = before_query.rfind('/') {
        // `a/b/s?x`: the query (even with slashes in it) belongs to the stream.
        let app = before_query[..slash].trim_end_matches('/');
        let stream = &path[slash + 1..];
        if app.is_empty() {
            return Err(Missing::App);
        }
        if before_query[slash + 1..].is_empty() {
            return Err(Missing::Stream);
        }
        return Ok((app, stream));
    }
    // No slash before the query: `live?vhost=v/s` puts the query on the app.
    if before_query.is_empty() {
        return Err(Missing::App);
    }
    match query.and_then(|q| q.rfind('/').map(|i| before_query.len() + 1 + i)) {
        Some(slash) if slash + 1 < path.len() => Ok((&path[..slash], &path[slash + 1..])),
        _ => Err(Missing::Stream),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> RtmpUrl {
        RtmpUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn simple_url() {
        let u = parse("rtmp://example.com/live/stream");
        assert!(!u.tls);
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, 1935);
        assert_eq!(u.app, "live");
        assert_eq!(u.stream, "stream");
        assert_eq!(u.tc_url, "rtmp://example.com/live");
        assert_eq!(u.to_string(), "rtmp://example.com/live/stream");
    }

    #[test]
    fn nested_app_and_stream_query() {
        let u = parse("rtmp://h:1936/a/b/s?x=1");
        assert_eq!((u.app.as_str(), u.stream.as_str()), ("a/b", "s?x=1"));
        assert_eq!(u.port, 1936);
        assert_eq!(u.tc_url, "rtmp://h:1936/a/b");
        assert_eq!(u.stream_name(), "s");
    }

    #[test]
    fn stream_query_may_contain_slashes() {
        let u = parse("rtmp://h/live/s?token=a/b==");
        assert_eq!(
            (u.app.as_str(), u.stream.as_str()),
            ("live", "s?token=a/b==")
        );
    }

    #[test]
    fn query_on_the_app() {
        let u = parse("rtmp://h/live?vhost=v/s");
        assert_eq!((u.app.as_str(), u.stream.as_str()), ("live?vhost=v", "s"));
        assert_eq!(u.tc_url, "rtmp://h/live?vhost=v");
        let u = parse("rtmp://h/live?vhost=v/s?key=1");
        assert_eq!(
            (u.app.as_str(), u.stream.as_str()),
            ("live?vhost=v", "s?key=1")
        );
    }

    #[test]
    fn rtmps_default_port_and_case() {
        let u = parse("RTMPS://live.example.com/app/key");
        assert!(u.tls);
        assert_eq!(u.port, 443);
        assert_eq!(u.tc_url, "rtmps://live.example.com/app");
    }

    #[test]
    fn ipv6_hosts() {
        let u = parse("rtmp://[::1]:1935/live/s");
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, 1935);
        assert_eq!(u.tc_url, "rtmp://[::1]:1935/live");
        let u = parse("rtmp://[2001:db8::2]/live/s");
        assert_eq!(u.host, "2001:db8::2");
        assert_eq!(u.port, 1935);
        assert_eq!(u.tc_url, "rtmp://[2001:db8::2]/live");
    }

    #[test]
    fn credentials_and_duplicate_slashes_are_tolerated() {
        let u = parse("rtmp://user:pw@h//live//s");
        assert_eq!(u.host, "h");
        assert_eq!((u.app.as_str(), u.stream.as_str()), ("live", "s"));
    }

    #[test]
    fn errors_name_the_problem() {
        use UrlError::*;
        let err = |s: &str| RtmpUrl::parse(s).unwrap_err();
        assert!(matches!(err("http://h/live/s"), Scheme(_)));
        assert!(matches!(err("h/live/s"), Scheme(_)));
        assert!(matches!(err("rtmp:///live/s"), MissingHost(_)));
        assert!(matches!(err("rtmp://h:99999/live/s"), InvalidPort(_)));
        assert!(matches!(err("rtmp://h:x/live/s"), InvalidPort(_)));
        assert!(matches!(err("rtmp://[::1/live/s"), InvalidPort(_)));
        assert!(matches!(err("rtmp://h"), MissingApp(_)));
        assert!(matches!(err("rtmp://h/"), MissingApp(_)));
        assert!(matches!(err("rtmp://h/live"), MissingStream(_)));
        assert!(matches!(err("rtmp://h/live/"), MissingStream(_)));
        assert!(matches!(err("rtmp://h/live?vhost=v"), MissingStream(_)));
        assert!(matches!(err("rtmp://h/live?vhost=v/"), MissingStream(_)));
    }
}
