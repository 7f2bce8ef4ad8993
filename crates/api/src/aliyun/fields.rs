//! Reading and validating single request parameters with the provider's rules.
//!
//! Scheme for absent parameters: POP's gateway answers a missing required parameter with
//! `Missing{ParameterName}` / "{ParameterName} is mandatory for this action." (HTTP 400), so
//! that is what [`ApiError::MissingParameter`] becomes; a blank value of a required
//! parameter counts as missing. Everything else wrong with a value is `InvalidParameter`.

use baton_domain::ingest::{check_domain, check_part};
use baton_domain::{AppSelector, PathError, PathPart, SourceProtocol, SourceType, UnixTime};

use crate::common::params::Params;
use crate::common::time::parse_utc;
use crate::error::ApiError;

/// Longest string parameter (URLs, opaque fields): the provider's documented 2000 characters.
pub const MAX_LEN: usize = 2000;
/// Longest `TaskName`.
pub const MAX_NAME_LEN: usize = 255;
/// Longest `TaskId`: 55 characters of `[A-Za-z0-9_-]` (DescribeLivePullToPushList reference).
pub const MAX_TASK_ID_LEN: usize = 55;
/// Most source URLs of a file playlist (`vod`, `url`).
pub const MAX_SOURCE_URLS: usize = 30;

/// Typed access to a request's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    params: &'a Params,
}

impl<'a> Fields<'a> {
    pub fn new(params: &'a Params) -> Fields<'a> {
        Fields { params }
    }

    /// The raw value, `None` when absent. Blank values are returned as they are.
    pub fn raw(&self, name: &str) -> Option<&'a str> {
        self.params.get(name)
    }

    /// A present, non-blank value (blank counts as absent).
    pub fn optional(&self, name: &str) -> Option<&'a str> {
        self.params.get(name).filter(|v| !v.is_empty())
    }

    /// A required value: absent or blank is `Missing{name}`.
    pub fn required(&self, name: &str) -> Result<&'a str, ApiError> {
        self.optional(name)
            .ok_or_else(|| ApiError::MissingParameter(name.to_string()))
    }

    /// An optional string of at most `max` characters.
    pub fn text(&self, name: &str, max: usize) -> Result<Option<String>, ApiError> {
        self.optional(name)
            .map(|v| check_len(name, v, max).map(str::to_string))
            .transpose()
    }

    /// An optional integer within `min..=max`.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.optional(name) else {
            return Ok(None);
        };
        let n = parse_int(v)
            .ok_or_else(|| ApiError::invalid(name, format!("{v:?} is not an integer")))?;
        if n < min || n > max {
            return Err(ApiError::invalid(
                name,
                format!("{n} is out of range; valid values are {min} to {max}"),
            ));
        }
        Ok(Some(n))
    }

    /// An optional time `yyyy-MM-ddTHH:mm:ssZ` (UTC).
    pub fn time(&self, name: &str) -> Result<Option<UnixTime>, ApiError> {
        self.optional(name)
            .map(|v| {
                parse_utc(v).ok_or_else(|| {
                    ApiError::invalid(
                        name,
                        format!("{v:?} is not a time in the format yyyy-MM-ddTHH:mm:ssZ (UTC)"),
                    )
                })
            })
            .transpose()
    }

    /// A required time.
    pub fn required_time(&self, name: &str) -> Result<UnixTime, ApiError> {
        self.required(name)?;
        self.time(name)?
            .ok_or_else(|| ApiError::MissingParameter(name.to_string()))
    }

    /// `Region`: required, one of `regions`.
    pub fn region(&self, regions: &[String]) -> Result<String, ApiError> {
        let v = self.required("Region")?;
        if regions.iter().any(|r| r == v) {
            Ok(v.to_string())
        } else {
            Err(ApiError::invalid(
                "Region",
                format!("{v:?} is not a region of this service"),
            ))
        }
    }

    /// A task id (required): at most 55 characters of `[A-Za-z0-9_-]`.
    pub fn task_id(&self, name: &str) -> Result<String, ApiError> {
        let v = self.required(name)?;
        check_task_id_chars(name, v)?;
        Ok(v.to_string())
    }

    /// `SourceType` (required): `live`, `vod` or `url`, case-insensitive.
    pub fn source_type(&self) -> Result<Option<SourceType>, ApiError> {
        self.optional("SourceType")
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "live" => Ok(SourceType::Live),
                "vod" => Ok(SourceType::Vod),
                "url" => Ok(SourceType::Url),
                _ => Err(ApiError::invalid(
                    "SourceType",
                    format!("{v:?} is not one of live, vod, url"),
                )),
            })
            .transpose()
    }

    /// `SourceProtocol`: `rtmp`, `http-flv`, `hls`, `srt` or `rtsp`, case-insensitive.
    pub fn source_protocol(&self) -> Result<Option<SourceProtocol>, ApiError> {
        self.optional("SourceProtocol")
            .map(|v| {
                protocol_from_name(v).ok_or_else(|| {
                    ApiError::invalid(
                        "SourceProtocol",
                        format!("{v:?} is not one of rtmp, http-flv, hls, srt, rtsp"),
                    )
                })
            })
            .transpose()
    }

    /// `SourceUrls`: one JSON-array string (what both SDKs send), or, tolerated, the
    /// repeat-list style `SourceUrls.1=…&SourceUrls.2=…`. Checks the count (1–30) and each
    /// URL's length; schemes depend on the source type ([`check_source_urls`]).
    pub fn source_urls(&self) -> Result<Option<Vec<String>>, ApiError> {
        const NAME: &str = "SourceUrls";
        let mut listed: Vec<(usize, &str)> = Vec::new();
        for (k, v) in self.params.iter() {
            if let Some(n) = k.strip_prefix("SourceUrls.") {
                let n = parse_int(n)
                    .filter(|n| (1..=MAX_SOURCE_URLS as i64).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid(NAME, format!("{k} is not SourceUrls.1 to SourceUrls.30"))
                    })?;
                listed.push((n as usize, v));
            }
        }
        let urls: Vec<String> = match (self.optional(NAME), listed.is_empty()) {
            (None, true) => return Ok(None),
            (Some(_), false) => {
                return Err(ApiError::invalid(
                    NAME,
                    "give either one JSON array or SourceUrls.N, not both",
                ));
            }
            (Some(json), true) => serde_json::from_str::<Vec<String>>(json).map_err(|_| {
                ApiError::invalid(
                    NAME,
                    "must be a JSON array of strings, e.g. [\"rtmp://host/app/stream\"]",
                )
            })?,
            (None, false) => {
                listed.sort_unstable_by_key(|(n, _)| *n);
                if listed.iter().enumerate().any(|(i, (n, _))| *n != i + 1) {
                    return Err(ApiError::invalid(
                        NAME,
                        "SourceUrls.N must be numbered 1, 2, 3… without gaps",
                    ));
                }
                listed.into_iter().map(|(_, v)| v.to_string()).collect()
            }
        };
        if urls.is_empty() {
            return Err(ApiError::invalid(NAME, "the list is empty"));
        }
        if urls.len() > MAX_SOURCE_URLS {
            return Err(ApiError::invalid(
                NAME,
                format!("{} URLs; at most {MAX_SOURCE_URLS} are allowed", urls.len()),
            ));
        }
        for url in &urls {
            if url.is_empty() {
                return Err(ApiError::invalid(NAME, "a URL is empty"));
            }
            check_len(NAME, url, MAX_LEN)?;
        }
        Ok(Some(urls))
    }

    /// `DomainName` (required): an ingest domain, answered lower-case (DNS names are
    /// case-insensitive).
    pub fn domain(&self) -> Result<String, ApiError> {
        let v = self.required(PathPart::Domain.param())?;
        check_domain(v).map_err(path_error)?;
        Ok(v.to_ascii_lowercase())
    }

    /// `AppName` or `StreamName` (required): 1–255 bytes without `/`, `?`, `#`, whitespace or
    /// control characters, and not `*`.
    pub fn path_part(&self, part: PathPart) -> Result<String, ApiError> {
        let v = self.required(part.param())?;
        check_part(part, v).map_err(path_error)?;
        Ok(v.to_string())
    }

    /// `AppName` of ResumeLiveStream (required): `*` selects every app.
    pub fn app_selector(&self) -> Result<AppSelector, ApiError> {
        match self.required(PathPart::App.param())? {
            "*" => Ok(AppSelector::All),
            _ => self.path_part(PathPart::App).map(AppSelector::Named),
        }
    }

    /// `LiveStreamType` (required): only `publisher` (blocking ingest) is supported, as by
    /// the provider.
    pub fn live_stream_type(&self) -> Result<(), ApiError> {
        const NAME: &str = "LiveStreamType";
        match self.required(NAME)? {
            "publisher" => Ok(()),
            v => Err(ApiError::invalid(
                NAME,
                format!("{v:?} is not supported; the only valid value is publisher"),
            )),
        }
    }

    /// An optional `yes` / `no`.
    pub fn yes_no(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.optional(name)
            .map(|v| match v {
                "yes" => Ok(true),
                "no" => Ok(false),
                _ => Err(ApiError::invalid(
                    name,
                    format!("{v:?} is not one of yes, no"),
                )),
            })
            .transpose()
    }

    /// An optional URL whose scheme is one of `schemes`.
    pub fn url(&self, name: &str, schemes: &[&str]) -> Result<Option<String>, ApiError> {
        self.optional(name)
            .map(|v| {
                check_len(name, v, MAX_LEN)?;
                check_url(name, v, schemes)?;
                Ok(v.to_string())
            })
            .transpose()
    }
}

/// Checks source URLs against the source type and protocol: a live task takes exactly one
/// URL whose scheme matches the protocol; `url` tasks take http(s) file URLs or absolute
/// local paths (whether a path is allowed is the engine's configuration); `vod` tasks take
/// media IDs (no spaces).
pub fn check_source_urls(
    source_type: SourceType,
    protocol: Option<SourceProtocol>,
    urls: &[String],
) -> Result<(), ApiError> {
    const NAME: &str = "SourceUrls";
    match source_type {
        SourceType::Live => {
            if urls.len() != 1 {
                return Err(ApiError::invalid(
                    NAME,
                    format!("a live task takes exactly one URL, not {}", urls.len()),
                ));
            }
            let schemes: &[&str] = match protocol {
                Some(SourceProtocol::Rtmp) => &["rtmp", "rtmps"],
                Some(SourceProtocol::HttpFlv | SourceProtocol::Hls) => &["http", "https"],
                Some(SourceProtocol::Srt) => &["srt"],
                Some(SourceProtocol::Rtsp) => &["rtsp", "rtsps"],
                None => return Err(ApiError::MissingParameter("SourceProtocol".into())),
            };
            check_url(NAME, &urls[0], schemes)
        }
        SourceType::Url => urls.iter().try_for_each(|u| {
            if u.starts_with('/') {
                if u.chars().any(char::is_control) {
                    return Err(ApiError::invalid(NAME, format!("{u:?} is not a path")));
                }
                Ok(())
            } else {
                check_url(NAME, u, &["http", "https"])
            }
        }),
        SourceType::Vod => urls.iter().try_for_each(|id| {
            if id.chars().any(char::is_whitespace) {
                Err(ApiError::invalid(NAME, format!("{id:?} is not a media ID")))
            } else {
                Ok(())
            }
        }),
    }
}

/// The wire name of a source type.
pub fn source_type_name(t: SourceType) -> &'static str {
    match t {
        SourceType::Live => "live",
        SourceType::Vod => "vod",
        SourceType::Url => "url",
    }
}

/// The wire name of a source protocol (lower case, as the request enum spells it).
pub fn protocol_name(p: SourceProtocol) -> &'static str {
    match p {
        SourceProtocol::Rtmp => "rtmp",
        SourceProtocol::HttpFlv => "http-flv",
        SourceProtocol::Hls => "hls",
        SourceProtocol::Srt => "srt",
        SourceProtocol::Rtsp => "rtsp",
    }
}

/// Checks the charset of a task id (or a fragment of one, for fuzzy search).
pub fn check_task_id_chars(name: &str, v: &str) -> Result<(), ApiError> {
    if v.len() > MAX_TASK_ID_LEN
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::invalid(
            name,
            format!("a task ID is at most {MAX_TASK_ID_LEN} characters of A-Z, a-z, 0-9, _ and -"),
        ));
    }
    Ok(())
}

/// A malformed domain, app or stream name: `InvalidParameter` naming it.
fn path_error(e: PathError) -> ApiError {
    ApiError::invalid(e.part.param(), e.reason)
}

/// A strict decimal integer: optional `-`, digits only, no `+`, no spaces.
fn parse_int(v: &str) -> Option<i64> {
    let digits = v.strip_prefix('-').unwrap_or(v);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

fn protocol_from_name(v: &str) -> Option<SourceProtocol> {
    match v.to_ascii_lowercase().as_str() {
        "rtmp" => Some(SourceProtocol::Rtmp),
        "http-flv" => Some(SourceProtocol::HttpFlv),
        "hls" => Some(SourceProtocol::Hls),
        "srt" => Some(SourceProtocol::Srt),
        "rtsp" => Some(SourceProtocol::Rtsp),
        _ => None,
    }
}

pub(crate) fn check_len<'v>(name: &str, v: &'v str, max: usize) -> Result<&'v str, ApiError> {
    let chars = v.chars().count();
    if chars > max {
        return Err(ApiError::invalid(
            name,
            format!("{chars} characters; at most {max} are allowed"),
        ));
    }
    Ok(v)
}

pub(crate) fn check_url(name: &str, v: &str, schemes: &[&str]) -> Result<(), ApiError> {
    let parsed =
        url::Url::parse(v).map_err(|_| ApiError::invalid(name, format!("{v:?} is not a URL")))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(ApiError::invalid(
            name,
            format!("{v:?} must use one of the schemes {}", schemes.join(", ")),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid(name, format!("{v:?} has no host")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(q: &str) -> (Params, ()) {
        (Params::from_query(q).unwrap(), ())
    }

    #[test]
    fn integers_are_strict() {
        let (p, _) = fields("a=10&b=-1&c=%2B1&d=1.0&e=%201&f=99999999999999999999&g=");
        let f = Fields::new(&p);
        assert_eq!(f.int("a", 0, 10).unwrap(), Some(10));
        assert_eq!(f.int("b", -1, 10).unwrap(), Some(-1));
        assert!(f.int("a", 0, 9).is_err());
        for bad in ["c", "d", "e", "f"] {
            assert!(f.int(bad, i64::MIN, i64::MAX).is_err(), "{bad}");
        }
        assert_eq!(f.int("g", 0, 1).unwrap(), None);
        assert_eq!(f.int("absent", 0, 1).unwrap(), None);
    }

    #[test]
    fn source_urls_json_and_repeat_list() {
        let (p, _) = fields("SourceUrls=%5B%22rtmp%3A%2F%2Fa%2Fb%2Fc%22%5D");
        assert_eq!(
            Fields::new(&p).source_urls().unwrap(),
            Some(vec!["rtmp://a/b/c".to_string()])
        );
        let (p, _) = fields("SourceUrls.2=http%3A%2F%2Fb&SourceUrls.1=http%3A%2F%2Fa");
        assert_eq!(
            Fields::new(&p).source_urls().unwrap(),
            Some(vec!["http://a".to_string(), "http://b".to_string()])
        );
        for bad in [
            "SourceUrls=rtmp%3A%2F%2Fa",
            "SourceUrls=%5B%5D",
            "SourceUrls=%5B1%5D",
            "SourceUrls=%5B%22%22%5D",
            "SourceUrls.1=a&SourceUrls.3=b",
            "SourceUrls.0=a",
            "SourceUrls.31=a",
            "SourceUrls.x=a",
            "SourceUrls=%5B%22a%22%5D&SourceUrls.1=a",
        ] {
            let (p, _) = fields(bad);
            assert!(Fields::new(&p).source_urls().is_err(), "{bad}");
        }
    }

    #[test]
    fn source_url_schemes_follow_type_and_protocol() {
        let one = |u: &str| vec![u.to_string()];
        let live = SourceType::Live;
        assert!(check_source_urls(live, Some(SourceProtocol::Rtmp), &one("rtmp://h/a/s")).is_ok());
        assert!(
            check_source_urls(live, Some(SourceProtocol::Rtmp), &one("http://h/a.flv")).is_err()
        );
        assert!(
            check_source_urls(live, Some(SourceProtocol::HttpFlv), &one("https://h/a.flv")).is_ok()
        );
        assert!(check_source_urls(live, Some(SourceProtocol::Srt), &one("srt://h:9000")).is_ok());
        assert!(check_source_urls(live, Some(SourceProtocol::Rtmp), &one("rtmp:///a")).is_err());
        assert!(check_source_urls(live, None, &one("rtmp://h/a/s")).is_err());
        let two = vec!["rtmp://h/a/s".to_string(), "rtmp://h/a/t".to_string()];
        assert!(check_source_urls(live, Some(SourceProtocol::Rtmp), &two).is_err());
        assert!(check_source_urls(SourceType::Url, None, &one("https://h/a.mp4")).is_ok());
        assert!(check_source_urls(SourceType::Url, None, &one("rtmp://h/a")).is_err());
        assert!(check_source_urls(SourceType::Url, None, &one("/srv/media/a.mp4")).is_ok());
        assert!(check_source_urls(SourceType::Url, None, &one("relative/a.mp4")).is_err());
        assert!(check_source_urls(SourceType::Url, None, &one("/a\u{7}b")).is_err());
        assert!(check_source_urls(SourceType::Vod, None, &one("1a2b3c")).is_ok());
        assert!(check_source_urls(SourceType::Vod, None, &one("a b")).is_err());
    }

    #[test]
    fn stream_path_parameters() {
        let (p, _) = fields(
            "DomainName=Live.Example.COM&AppName=live&StreamName=s1&LiveStreamType=publisher\
             &Oneshot=yes&Star=*",
        );
        let f = Fields::new(&p);
        assert_eq!(f.domain().unwrap(), "live.example.com");
        assert_eq!(f.path_part(PathPart::App).unwrap(), "live");
        assert_eq!(f.app_selector().unwrap(), AppSelector::Named("live".into()));
        assert!(f.live_stream_type().is_ok());
        assert_eq!(f.yes_no("Oneshot").unwrap(), Some(true));
        assert_eq!(f.yes_no("Absent").unwrap(), None);
        let (p, _) =
            fields("DomainName=a%20b&AppName=*&StreamName=a%2Fb&LiveStreamType=player&Oneshot=YES");
        let f = Fields::new(&p);
        fn invalid<T: std::fmt::Debug>(r: Result<T, ApiError>) -> String {
            match r {
                Err(ApiError::InvalidParameter { name, .. }) => name,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(invalid(f.domain()), "DomainName");
        assert_eq!(invalid(f.path_part(PathPart::App)), "AppName");
        assert_eq!(f.app_selector().unwrap(), AppSelector::All);
        assert_eq!(invalid(f.path_part(PathPart::Stream)), "StreamName");
        assert_eq!(invalid(f.live_stream_type()), "LiveStreamType");
        assert_eq!(invalid(f.yes_no("Oneshot")), "Oneshot");
        let (p, _) = fields("DomainName=&AppName=");
        let f = Fields::new(&p);
        assert_eq!(
            f.domain().unwrap_err(),
            ApiError::MissingParameter("DomainName".into())
        );
        assert_eq!(
            f.app_selector().unwrap_err(),
            ApiError::MissingParameter("AppName".into())
        );
    }

    #[test]
    fn lengths_count_characters() {
        let long = "测".repeat(MAX_NAME_LEN);
        let q = format!("TaskName={}", crate::common::params::pct(&long));
        let (p, _) = fields(&q);
        assert!(Fields::new(&p).text("TaskName", MAX_NAME_LEN).is_ok());
        let q = format!("{q}x");
        let (p, _) = fields(&q);
        assert!(Fields::new(&p).text("TaskName", MAX_NAME_LEN).is_err());
    }
}
