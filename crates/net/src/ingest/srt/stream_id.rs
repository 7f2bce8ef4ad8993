//! SRT stream ids → what a caller asks for: publish or play, which stream, with which query.
//!
//! SRT carries no URL: the caller's only words are its stream id (`SRTO_STREAMID`, at most
//! 512 bytes). Encoders and servers settled on a few spellings, all accepted here:
//!
//! | stream id | domain | app/stream | query |
//! |---|---|---|---|
//! | `#!::r=live/cam,m=publish` (SRT access control) | listener's | `live/cam` | |
//! | `#!::h=example.com,r=live/cam,m=publish,auth_key=K` | `example.com` | `live/cam` | `auth_key=K` |
//! | `#!::r=live/cam?auth_key=K,m=publish` | listener's | `live/cam` | `auth_key=K` |
//! | `#!::h=live/cam,m=publish` (SRS before 5) | listener's | `live/cam` | |
//! | `#!::h=example.com/live/cam,m=publish` (SRS before 5) | `example.com` | `live/cam` | |
//! | `live/cam`, `live/cam?auth_key=K` (what OBS users type) | listener's | `live/cam` | `auth_key=K` |
//! | `example.com/live/cam` | `example.com` | `live/cam` | |
//! | `cam` | listener's | `live/cam` | |
//! | `publish:live/cam`, `publish:live/cam:user:pass:auth_key=K` (MediaMTX) | listener's | `live/cam` | `auth_key=K` |
//!
//! In the access-control form, `m=publish` publishes and `m=request` (or
//! `m=bidirectional`) asks to play, which this ingest does not serve (refused, naming it);
//! the other standard keys (`u` user, `s` session, `t` type: only `stream`) are understood,
//! and every non-standard key (a signature, `vhost`, …) joins the query, where publish
//! authentication and domain resolution look for it as they do in an RTMP stream name's
//! query. Like SRS, a `?` inside the access-control list starts more `key=value` pairs.
//! Ids without a mode publish (the ingest only takes publishes; MediaMTX's `read:` is a play
//! request and refused). The domain is `h`, else the query's `vhost`, else the listener's
//! configured domain (SRT has no host name in its handshake).
//!
//! Pure: strings in, a [`SrtRequest`] or a named [`StreamIdError`] out.

use std::fmt;

use crate::ingest::{query_param, split_query};
use crate::srt_client::MAX_STREAM_ID;

/// The app of a stream id that names only a stream (`cam` → `live/cam`), as SRS does.
pub const DEFAULT_APP: &str = "live";

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Send media into the ingest.
    Publish,
    /// Receive media (`m=request`, `m=bidirectional`, MediaMTX `read:`): SRT play is not
    /// served by this ingest.
    Play,
}

/// A parsed stream id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtRequest {
    pub mode: Mode,
    /// The domain (vhost) the id names (`h=` or `vhost` in the query); `None`: the listener's.
    pub domain: Option<String>,
    pub app: String,
    pub stream: String,
    /// Extra parameters as an `a=b&c=d` query (signature, vhost, …), `None` when there are none.
    pub query: Option<String>,
    /// The user the id names (`u=`, MediaMTX's user field), for logs.
    pub user: Option<String>,
}

/// Why a stream id was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamIdError {
    /// No stream id (or an empty one): nothing says which stream.
    Missing,
    /// Longer than [`MAX_STREAM_ID`].
    TooLong(usize),
    /// An access-control key without `=value`, or a mode other than publish/request.
    Malformed(String),
    /// `t=file` or `t=auth`: only live streams are served.
    UnsupportedType(String),
    /// The path is not `stream`, `app/stream` or `domain/app/stream` with non-empty parts.
    BadPath(String),
}

impl fmt::Display for StreamIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamIdError::Missing => write!(
                f,
                "no stream id (expected e.g. #!::r=live/stream,m=publish)"
            ),
            StreamIdError::TooLong(n) => {
                write!(f, "stream id of {n} bytes (at most {MAX_STREAM_ID})")
            }
            StreamIdError::Malformed(why) => write!(f, "malformed stream id: {why}"),
            StreamIdError::UnsupportedType(t) => {
                write!(f, "connection type t={t} is not supported (only t=stream)")
            }
            StreamIdError::BadPath(p) => write!(f, "stream path {p:?} is not app/stream"),
        }
    }
}

impl std::error::Error for StreamIdError {}

/// Parses a stream id (see the module docs for the forms).
pub fn parse(stream_id: Option<&str>) -> Result<SrtRequest, StreamIdError> {
    let id = stream_id.map(str::trim).unwrap_or_default();
    if id.is_empty() {
        return Err(StreamIdError::Missing);
    }
    if id.len() > MAX_STREAM_ID {
        return Err(StreamIdError::TooLong(id.len()));
    }
    if let Some(list) = id.strip_prefix("#!::") {
        return parse_access_control(list);
    }
    if let Some(rest) = id.strip_prefix("publish:") {
        return parse_mediamtx(Mode::Publish, rest);
    }
    if let Some(rest) = id.strip_prefix("read:") {
        return parse_mediamtx(Mode::Play, rest);
    }
    let (path, query) = split_query(id);
    let (domain, app, stream) = split_path(path, true)?;
    build(Mode::Publish, domain, app, stream, Query::from(query), None)
}

/// `k=v,k=v` after `#!::` (a `?` also separates pairs, as SRS allows).
fn parse_access_control(list: &str) -> Result<SrtRequest, StreamIdError> {
    let mut mode = None;
    let mut resource = None;
    let mut host = None;
    let mut user = None;
    let mut query = Query::default();
    for pair in list.split([',', '?']).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(StreamIdError::Malformed(format!("{pair:?} has no value")));
        };
        match key.trim() {
            "r" => resource = Some(value),
            "h" => host = Some(value),
            "u" => user = Some(value.to_string()),
            "s" => {}
            "m" => {
                mode = Some(match value.to_ascii_lowercase().as_str() {
                    "publish" => Mode::Publish,
                    "request" | "bidirectional" => Mode::Play,
                    other => {
                        return Err(StreamIdError::Malformed(format!("unknown mode m={other}")));
                    }
                })
            }
            "t" => {
                if !value.eq_ignore_ascii_case("stream") {
                    return Err(StreamIdError::UnsupportedType(value.to_string()));
                }
            }
            _ => query.push(pair),
        }
    }
    // `m` absent: publish (this ingest serves no plays; see the module docs).
    let mode = mode.unwrap_or(Mode::Publish);
    let (domain, app, stream) = match (resource, host) {
        (Some(r), h) => {
            let (path, q) = split_query(r);
            if let Some(q) = q {
                query.push(q);
            }
            let (d, a, s) = split_path(path, false)?;
            (h.map(str::to_string).or(d), a, s)
        }
        // SRS before 5: `h=app/stream` or `h=domain/app/stream`.
        (None, Some(h)) if h.contains('/') => split_path(h, true)?,
        (None, _) => {
            return Err(StreamIdError::Malformed(
                "no resource (r=app/stream)".into(),
            ));
        }
    };
    build(mode, domain, app, stream, query, user)
}

/// MediaMTX: `path[:user:pass[:query]]` after `publish:` / `read:`.
fn parse_mediamtx(mode: Mode, rest: &str) -> Result<SrtRequest, StreamIdError> {
    let mut parts = rest.splitn(4, ':');
    let path = parts.next().unwrap_or_default();
    let user = parts.next().filter(|u| !u.is_empty()).map(str::to_string);
    let _password = parts.next();
    let mut query = Query::from(parts.next());
    let (path, q) = split_query(path);
    if let Some(q) = q {
        query.push(q);
    }
    let (domain, app, stream) = split_path(path, true)?;
    build(mode, domain, app, stream, query, user)
}

fn build(
    mode: Mode,
    domain: Option<String>,
    app: String,
    stream: String,
    query: Query,
    user: Option<String>,
) -> Result<SrtRequest, StreamIdError> {
    let query = query.finish();
    let domain = domain
        .or_else(|| {
            query
                .as_deref()
                .and_then(|q| query_param(q, "vhost"))
                .map(str::to_string)
        })
        .filter(|d| !d.is_empty())
        .map(|d| d.to_ascii_lowercase());
    Ok(SrtRequest {
        mode,
        domain,
        app,
        stream,
        query,
        user,
    })
}

/// `stream`, `app/stream`, and (when `allow_domain`) `domain/app/stream`.
fn split_path(
    path: &str,
    allow_domain: bool,
) -> Result<(Option<String>, String, String), StreamIdError> {
    let bad = || StreamIdError::BadPath(path.to_string());
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.chars().any(char::is_control))
    {
        return Err(bad());
    }
    match parts.as_slice() {
        [stream] => Ok((None, DEFAULT_APP.to_string(), stream.to_string())),
        [app, stream] => Ok((None, app.to_string(), stream.to_string())),
        [domain, app, stream] if allow_domain => Ok((
            Some(domain.to_string()),
            app.to_string(),
            stream.to_string(),
        )),
        _ => Err(bad()),
    }
}

/// Extra `key=value` pairs, joined with `&`.
#[derive(Default)]
struct Query(Vec<String>);

impl Query {
    fn from(q: Option<&str>) -> Query {
        let mut query = Query::default();
        if let Some(q) = q {
            query.push(q);
        }
        query
    }

    fn push(&mut self, pairs: &str) {
        self.0.extend(
            pairs
                .split('&')
                .filter(|p| !p.is_empty())
                .map(str::to_string),
        );
    }

    fn finish(self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(id: &str) -> SrtRequest {
        parse(Some(id)).unwrap_or_else(|e| panic!("{id}: {e}"))
    }

    /// (stream id, mode, domain, app, stream, query)
    type Row<'a> = (
        &'a str,
        Mode,
        Option<&'a str>,
        &'a str,
        &'a str,
        Option<&'a str>,
    );

    #[test]
    fn forms() {
        let table: &[Row<'_>] = &[
            (
                "#!::r=live/cam,m=publish",
                Mode::Publish,
                None,
                "live",
                "cam",
                None,
            ),
            (
                "#!::m=publish,r=live/cam",
                Mode::Publish,
                None,
                "live",
                "cam",
                None,
            ),
            ("#!::r=live/cam", Mode::Publish, None, "live", "cam", None),
            (
                "#!::h=Example.COM,r=live/cam,m=publish",
                Mode::Publish,
                Some("example.com"),
                "live",
                "cam",
                None,
            ),
            (
                "#!::r=live/cam,m=publish,auth_key=1-0-0-abc",
                Mode::Publish,
                None,
                "live",
                "cam",
                Some("auth_key=1-0-0-abc"),
            ),
            (
                "#!::r=live/cam?auth_key=K&x=1,m=publish",
                Mode::Publish,
                None,
                "live",
                "cam",
                Some("auth_key=K&x=1"),
            ),
            (
                "#!::h=live/cam?secret=xxx,m=publish",
                Mode::Publish,
                None,
                "live",
                "cam",
                Some("secret=xxx"),
            ),
            (
                "#!::h=srs.example.com/live/cam,m=publish",
                Mode::Publish,
                Some("srs.example.com"),
                "live",
                "cam",
                None,
            ),
            (
                "#!::r=live/cam,m=publish,u=alice,s=abc,t=stream",
                Mode::Publish,
                None,
                "live",
                "cam",
                None,
            ),
            (
                "#!::r=live/cam,m=publish,vhost=a.com",
                Mode::Publish,
                Some("a.com"),
                "live",
                "cam",
                Some("vhost=a.com"),
            ),
            (
                "#!::r=live/cam,m=request",
                Mode::Play,
                None,
                "live",
                "cam",
                None,
            ),
            (
                "#!::r=live/cam,m=Bidirectional",
                Mode::Play,
                None,
                "live",
                "cam",
                None,
            ),
            ("live/cam", Mode::Publish, None, "live", "cam", None),
            ("cam", Mode::Publish, None, "live", "cam", None),
            ("/live/cam", Mode::Publish, None, "live", "cam", None),
            (
                "live/cam?auth_key=K",
                Mode::Publish,
                None,
                "live",
                "cam",
                Some("auth_key=K"),
            ),
            (
                "live/cam?vhost=B.com&auth_key=K",
                Mode::Publish,
                Some("b.com"),
                "live",
                "cam",
                Some("vhost=B.com&auth_key=K"),
            ),
            (
                "example.com/live/cam",
                Mode::Publish,
                Some("example.com"),
                "live",
                "cam",
                None,
            ),
            ("publish:live/cam", Mode::Publish, None, "live", "cam", None),
            (
                "publish:live/cam:bob:pw:auth_key=K",
                Mode::Publish,
                None,
                "live",
                "cam",
                Some("auth_key=K"),
            ),
            (
                "publish:live/cam?auth_key=K",
                Mode::Publish,
                None,
                "live",
                "cam",
                Some("auth_key=K"),
            ),
            ("read:live/cam", Mode::Play, None, "live", "cam", None),
        ];
        for &(id, mode, domain, app, stream, query) in table {
            let r = ok(id);
            assert_eq!(
                (
                    r.mode,
                    r.domain.as_deref(),
                    r.app.as_str(),
                    r.stream.as_str(),
                    r.query.as_deref()
                ),
                (mode, domain, app, stream, query),
                "{id}"
            );
        }
        assert_eq!(ok("#!::r=live/cam,u=alice").user.as_deref(), Some("alice"));
        assert_eq!(ok("publish:live/cam:bob:pw").user.as_deref(), Some("bob"));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(None), Err(StreamIdError::Missing));
        assert_eq!(parse(Some("  ")), Err(StreamIdError::Missing));
        let long = "a".repeat(MAX_STREAM_ID + 1);
        assert_eq!(parse(Some(&long)), Err(StreamIdError::TooLong(513)));
        for id in [
            "#!::r",
            "#!::m=publish",
            "#!::r=live/cam,m=watch",
            "#!::h=example.com,m=publish",
            "#!::r=a/b/c,m=publish",
            "#!::r=live//cam",
            "a/b/c/d",
            "live/",
            "live/c\u{0}am",
            "publish:",
        ] {
            assert!(parse(Some(id)).is_err(), "{id} accepted");
        }
        assert!(matches!(
            parse(Some("#!::r=live/cam,t=file")),
            Err(StreamIdError::UnsupportedType(_))
        ));
    }

    proptest::proptest! {
        /// Any id: no panic; an accepted one names a non-empty app and stream without `/`,
        /// and a lower-case domain.
        #[test]
        fn any_id(id in "(#!::|publish:|read:)?[a-zA-Z0-9/?&=,:#. _-]{0,80}") {
            if let Ok(r) = parse(Some(&id)) {
                proptest::prop_assert!(!r.app.is_empty() && !r.stream.is_empty());
                proptest::prop_assert!(!r.app.contains('/') && !r.stream.contains('/'));
                if let Some(d) = &r.domain {
                    proptest::prop_assert_eq!(d, &d.to_ascii_lowercase());
                }
            }
        }

        #[test]
        fn any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = parse(Some(&String::from_utf8_lossy(&bytes)));
        }
    }

    #[test]
    fn never_panics_on_odd_ids() {
        for id in [
            "#!::",
            "#!::,,,",
            "#!::=",
            "#!::r=?",
            "?",
            "/",
            "//",
            ":",
            "publish::::",
            "#!::h=/",
        ] {
            let _ = parse(Some(id));
        }
    }
}
