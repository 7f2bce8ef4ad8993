//! Validation of a task's configuration: lengths, URL schemes, ranges, times.
//!
//! The limits are the providers' (cloud-apis.md §2.3 `CreateLivePullToPushRequest`) where they
//! state one, and Baton's where they are silent (each such limit says so). Validation answers
//! "may this configuration exist?"; whether Baton can *run* it today is [`TaskSpec::supported`].

use crate::group::check_group_name;
use crate::request::{Field, Rejection};
use crate::task::{
    SourceFailover, SourceProtocol, SourceType, TaskSlate, TaskSpec, UnixTime, is_id_byte,
};
use crate::text::is_control_or_bidi;

/// Longest URL or opaque text field: "Maximum length is 2000 characters" (`DstUrl`,
/// `CallbackUrl`, cloud-apis §2.3). Applied to every source URL and to `AuthKey`, `ReqAuth`,
/// `NotifyItemSwitch` too.
pub const MAX_TEXT_LEN: usize = 2000;
/// Longest task name. Alibaba documents none; Baton's choice.
pub const MAX_NAME_LEN: usize = 255;
/// Longest region name. Baton's choice (the provider's names are ~15 characters).
pub const MAX_REGION_LEN: usize = 64;
/// Most source URLs of a `vod` / `url` task: "a maximum of 30 URLs" (cloud-apis §2.3).
pub const MAX_SOURCE_URLS: usize = 30;
/// Longest VOD media ID. Baton's choice (the provider's IDs are 32 hex digits).
pub const MAX_MEDIA_ID_LEN: usize = 64;
/// `RetryInterval` bounds in seconds: "Valid values: [60, 300]" (cloud-apis §2.3).
pub const RETRY_INTERVAL_RANGE: std::ops::RangeInclusive<u32> = 60..=300;
/// Default `RetryInterval`: 60 s (cloud-apis §2.3).
pub const DEFAULT_RETRY_INTERVAL: u32 = 60;
/// Default `RetryCount`: 3 (cloud-apis §2.3).
pub const DEFAULT_RETRY_COUNT: u32 = 3;
/// Most retries. Alibaba documents no bound; Baton's, so that a task cannot retry for weeks.
pub const MAX_RETRY_COUNT: u32 = 100;
/// Latest accepted time: 9999-12-31T23:59:59Z, the last instant `yyyy-MM-ddTHH:mm:ssZ` can
/// write. Times are also ≥ 0 (1970). Keeps all time arithmetic far from overflow.
pub const MAX_TIME: UnixTime = 253_402_300_799;

/// A value that is valid but that this build of Baton cannot run (its source is not built
/// yet). The API refuses it at Create with the value named, rather than accepting and faking.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field:?} `{value}` is not supported")]
pub struct Unsupported {
    /// The field holding the value.
    pub field: Field,
    /// The value, by its canonical name (`vod`, `srt`, ...), or the playlist item as given.
    pub value: String,
}

impl TaskSpec {
    /// Whether the task asked for playlist item start/finish callbacks: `NotifyItemSwitch`
    /// set to anything but an empty string, `0`, `false`, `off` or `no` (the field is
    /// undocumented by the provider; Baton reads it as a switch).
    pub fn notifies_items(&self) -> bool {
        self.notify_item_switch.as_deref().is_some_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            !matches!(v.as_str(), "" | "0" | "false" | "off" | "no")
        })
    }

    /// Checks every field, then the duration: `EndTime` must be later than `StartTime` and
    /// than `now` ("EndTime must be later than StartTime. EndTime must be later than the
    /// current time.", cloud-apis §2.3) — else [`Rejection::IllegalDuration`].
    pub fn validate(&self, now: UnixTime) -> Result<(), Rejection> {
        self.validate_fields()?;
        self.check_duration(Some(now))
    }

    /// Whether this build can run the task: live sources over RTMP, HTTP-FLV, HLS (MPEG-TS
    /// or fMP4 segments, AES-128 or clear; separate audio renditions are refused by the relay
    /// when loaded), SRT (MPEG-TS; whether the account may use listener mode is the
    /// engine's policy) or RTSP (not over TLS: `rtsps://` is refused by name; the engine
    /// judges the URL's options), and file playlists (`url`, `vod`; whether local paths and
    /// media IDs resolve is the engine's configuration) of FLV, MP4 and MPEG-TS files and VOD
    /// HLS playlists (an item the player cannot play is skipped at run time, naming why).
    /// Every SourceProtocol is built; what is refused here is valid configuration the engine
    /// cannot serve yet.
    pub fn supported(&self) -> Result<(), Unsupported> {
        match self.source_type {
            // RTSP over TLS: the RTSP client Baton uses has no TLS.
            SourceType::Live if self.source_urls.iter().any(|u| has_scheme(u, "rtsps")) => {
                Err(Unsupported {
                    field: Field::SourceUrls,
                    value: "rtsps".to_owned(),
                })
            }
            SourceType::Live | SourceType::Vod | SourceType::Url => Ok(()),
        }
    }

    /// Whether the task's callbacks carry the provider's signature headers (`ALI-LIVE-TIMESTAMP`,
    /// `ALI-LIVE-SIGNATURE`): `ReqAuth` is `yes` (ASCII case-insensitive). Validation makes
    /// sure an `AuthKey` is then set.
    pub fn signs_callbacks(&self) -> bool {
        self.req_auth
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
    }

    /// Every field check except the duration rule.
    pub(crate) fn validate_fields(&self) -> Result<(), Rejection> {
        check_len(Field::Name, &self.name, MAX_NAME_LEN)?;
        if self.name.chars().any(is_control_or_bidi) {
            return Err(invalid(
                Field::Name,
                "control or bidirectional formatting characters",
            ));
        }
        check_group_name(&self.group)?;
        check_region(&self.region)?;
        self.check_sources()?;
        // RTMP(S) publish, or MPEG-TS pushed over SRT (its options are the engine's to check).
        check_url(Field::DstUrl, &self.dst_url, DESTINATION_SCHEMES)?;
        self.check_extra_destinations()?;
        self.check_failover()?;
        self.check_slate()?;
        check_time(Field::StartTime, self.start_time)?;
        check_time(Field::EndTime, self.end_time)?;
        if let Some(url) = &self.callback_url {
            check_url(Field::CallbackUrl, url, &["http", "https"])?;
        }
        if self.repeat_number < -1 {
            // "0: no repeat, -1: loop indefinitely, other positive integers" (cloud-apis §2.3).
            return Err(invalid(Field::RepeatNumber, "must be -1 or more"));
        }
        if self.retry_count > MAX_RETRY_COUNT {
            return Err(invalid(Field::RetryCount, "must be at most 100"));
        }
        if !RETRY_INTERVAL_RANGE.contains(&self.retry_interval) {
            return Err(invalid(Field::RetryInterval, "must be 60 to 300 seconds"));
        }
        if self.source_type != SourceType::Live
            && self.file_index as usize >= self.source_urls.len()
        {
            return Err(invalid(Field::FileIndex, "beyond the last source URL"));
        }
        check_opaque(Field::AuthKey, self.auth_key.as_deref())?;
        self.check_callback_auth()?;
        check_opaque(Field::NotifyItemSwitch, self.notify_item_switch.as_deref())
    }

    /// `ReqAuth` and `AuthKey` mean what the provider's `NotifyReqAuth` / `NotifyAuthKey` mean
    /// for its other callbacks (SetLiveStreamsNotifyUrlConfig: "yes: enables callback
    /// authentication. If you set this parameter to yes, you must also specify the
    /// NotifyAuthKey parameter. no: disables"): `yes` or `no`, and `yes` needs a key.
    fn check_callback_auth(&self) -> Result<(), Rejection> {
        match self.req_auth.as_deref() {
            None => Ok(()),
            Some(v) if v.eq_ignore_ascii_case("no") => Ok(()),
            Some(v) if v.eq_ignore_ascii_case("yes") => {
                if self.auth_key.as_deref().is_none_or(str::is_empty) {
                    return Err(invalid(Field::AuthKey, "required when ReqAuth is yes"));
                }
                Ok(())
            }
            Some(_) => Err(invalid(Field::ReqAuth, "must be yes or no")),
        }
    }

    /// `EndTime > StartTime`, and `EndTime > now` when `now` is given.
    pub(crate) fn check_duration(&self, now: Option<UnixTime>) -> Result<(), Rejection> {
        if self.end_time <= self.start_time || now.is_some_and(|now| self.end_time <= now) {
            return Err(Rejection::IllegalDuration);
        }
        Ok(())
    }

    /// Source URLs per type (cloud-apis §2.3 `SourceUrls`): live — one URL whose scheme
    /// matches the protocol, then up to 3 backups checked the same way (none twice; the
    /// dialects refuse backups themselves, with their own errors); vod — 1–30 media IDs; url — 1–30 `http(s)://` URLs or absolute
    /// local paths.
    fn check_sources(&self) -> Result<(), Rejection> {
        let urls = &self.source_urls;
        if urls.is_empty() {
            return Err(invalid(Field::SourceUrls, "at least one is required"));
        }
        match self.source_type {
            SourceType::Live => {
                let Some(protocol) = self.source_protocol else {
                    return Err(invalid(Field::SourceProtocol, "required for live sources"));
                };
                if urls.len() > 1 + MAX_BACKUP_SOURCES {
                    return Err(invalid(
                        Field::SourceUrls,
                        "a live task has one source and at most 3 backups",
                    ));
                }
                for (i, url) in urls.iter().enumerate() {
                    check_url(Field::SourceUrls, url, live_schemes(protocol))?;
                    if urls[..i].contains(url) {
                        return Err(invalid(Field::SourceUrls, "the same source twice"));
                    }
                }
                Ok(())
            }
            SourceType::Vod => {
                check_count(urls.len())?;
                urls.iter().try_for_each(|id| check_media_id(id))
            }
            SourceType::Url => {
                check_count(urls.len())?;
                urls.iter().try_for_each(|url| check_file_source(url))
            }
        }
    }
}

impl TaskSpec {
    /// Each extra destination is a destination URL; no destination twice (a server refuses a
    /// second publish of the same stream, and the two would fight over it).
    fn check_extra_destinations(&self) -> Result<(), Rejection> {
        let extra = &self.extra_dst_urls;
        if extra.len() > MAX_EXTRA_DESTINATIONS {
            return Err(invalid(
                Field::ExtraDstUrls,
                "at most 7 destinations besides the first are allowed",
            ));
        }
        for (i, url) in extra.iter().enumerate() {
            check_url(Field::ExtraDstUrls, url, DESTINATION_SCHEMES)?;
            if *url == self.dst_url || extra[..i].contains(url) {
                return Err(invalid(Field::ExtraDstUrls, "the same destination twice"));
            }
        }
        Ok(())
    }
}

impl TaskSpec {
    /// Failover settings belong to live tasks and stay in range: failing over must come well
    /// before the relay's grace period (35 s) ends, or the destinations close first.
    fn check_failover(&self) -> Result<(), Rejection> {
        let f = self.failover;
        if f == SourceFailover::default() {
            return Ok(());
        }
        if self.source_type != SourceType::Live {
            return Err(invalid(Field::Failover, "only live sources fail over"));
        }
        if f.after
            .is_some_and(|s| !(1..=MAX_FAILOVER_AFTER).contains(&s))
        {
            return Err(invalid(Field::Failover, "failover after 1 to 30 seconds"));
        }
        if f.failback_after
            .is_some_and(|s| !(1..=MAX_FAILBACK_AFTER).contains(&s))
        {
            return Err(invalid(Field::Failover, "failback after 1 to 3600 seconds"));
        }
        Ok(())
    }
}

impl TaskSpec {
    /// A slate belongs to live tasks; its file is `default` or an http(s) URL (a local clip
    /// is the operator's `[slate]` file: a task may not read the server's files), its times
    /// in range.
    fn check_slate(&self) -> Result<(), Rejection> {
        let TaskSlate::On { file, after, hold } = &self.slate else {
            if self.slate == TaskSlate::Off && self.source_type != SourceType::Live {
                return Err(invalid(Field::Slate, "only live sources have a slate"));
            }
            return Ok(());
        };
        if self.source_type != SourceType::Live {
            return Err(invalid(Field::Slate, "only live sources have a slate"));
        }
        if let Some(file) = file
            && file != "default"
        {
            if file.len() > MAX_SLATE_FILE_LEN {
                return Err(invalid(Field::Slate, "slate file longer than 2048 bytes"));
            }
            check_url(Field::Slate, file, &["http", "https"]).map_err(|_| {
                invalid(
                    Field::Slate,
                    "slate file must be `default` or an http(s) URL",
                )
            })?;
        }
        if after.is_some_and(|s| !(1..=MAX_SLATE_AFTER).contains(&s)) {
            return Err(invalid(Field::Slate, "slate after 1 to 60 seconds"));
        }
        if hold.is_some_and(|s| !(1..=MAX_SLATE_HOLD).contains(&s)) {
            return Err(invalid(Field::Slate, "slate hold 1 to 86400 seconds"));
        }
        Ok(())
    }
}

/// The longest slate file URL, in bytes.
pub const MAX_SLATE_FILE_LEN: usize = 2048;

/// The longest time without source media before the slate starts, in seconds.
pub const MAX_SLATE_AFTER: u32 = 60;

/// The longest a slate may play, in seconds (a day).
pub const MAX_SLATE_HOLD: u32 = 86_400;

/// Backup sources a live task may have besides its source: four sources in all (each one
/// is a connection while it is tried; the failback probe is one more).
pub const MAX_BACKUP_SOURCES: usize = 3;

/// The longest failover time, in seconds: well inside the relay's 35 s grace period.
pub const MAX_FAILOVER_AFTER: u32 = 30;

/// The longest failback time, in seconds (an hour).
pub const MAX_FAILBACK_AFTER: u32 = 3600;

/// Destinations a task may have besides `dst_url`: eight in all. Each costs a session and
/// up to 12 MiB of queues while it is slow or away (the relay's out queue and buffer).
pub const MAX_EXTRA_DESTINATIONS: usize = 7;

/// The URL schemes of a destination: RTMP, RTMP over TLS, SRT.
pub const DESTINATION_SCHEMES: &[&str] = &["rtmp", "rtmps", "srt"];

/// The URL schemes of a live source protocol. HTTP-FLV and HLS URLs are not required to end in
/// `.flv` / `.m3u8`: CDNs serve both from query-string URLs, and the puller checks the content.
fn live_schemes(protocol: SourceProtocol) -> &'static [&'static str] {
    match protocol {
        SourceProtocol::Rtmp => &["rtmp", "rtmps"],
        SourceProtocol::HttpFlv | SourceProtocol::Hls => &["http", "https"],
        SourceProtocol::Srt => &["srt"],
        SourceProtocol::Rtsp => &["rtsp", "rtsps"],
    }
}

/// Whether `url` starts with `scheme://` (ASCII case-insensitive).
fn has_scheme(url: &str, scheme: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(s, _)| s.eq_ignore_ascii_case(scheme))
}

fn invalid(field: Field, reason: &str) -> Rejection {
    Rejection::Invalid {
        field,
        reason: reason.to_owned(),
    }
}

fn check_len(field: Field, value: &str, max: usize) -> Result<(), Rejection> {
    // Lengths are in characters, as the providers count them; the byte length bounds the
    // character count from above, so most values skip the count.
    if value.len() > max && value.chars().count() > max {
        return Err(Rejection::Invalid {
            field,
            reason: format!("longer than {max} characters"),
        });
    }
    Ok(())
}

fn check_count(n: usize) -> Result<(), Rejection> {
    if n > MAX_SOURCE_URLS {
        return Err(invalid(Field::SourceUrls, "at most 30 are allowed"));
    }
    Ok(())
}

fn check_region(region: &str) -> Result<(), Rejection> {
    // Which regions exist is configuration the API checks; the domain only keeps the value
    // sane to store and echo (`cn-shanghai`, `preregion`, ...). Empty is "no region": a task
    // created through a dialect without regions (Volcengine); dialects with regions require
    // one themselves.
    check_len(Field::Region, region, MAX_REGION_LEN)?;
    if !region.bytes().all(is_id_byte) {
        return Err(invalid(
            Field::Region,
            "only letters, digits, '_' and '-' are allowed",
        ));
    }
    Ok(())
}

fn check_time(field: Field, t: UnixTime) -> Result<(), Rejection> {
    if !(0..=MAX_TIME).contains(&t) {
        return Err(invalid(field, "outside 1970-01-01 to 9999-12-31"));
    }
    Ok(())
}

fn check_opaque(field: Field, value: Option<&str>) -> Result<(), Rejection> {
    value.map_or(Ok(()), |v| check_len(field, v, MAX_TEXT_LEN))
}

fn check_media_id(id: &str) -> Result<(), Rejection> {
    if id.is_empty() || id.len() > MAX_MEDIA_ID_LEN || !id.bytes().all(is_id_byte) {
        return Err(invalid(
            Field::SourceUrls,
            "a vod source is a media ID: 1-64 letters, digits, '_' or '-'",
        ));
    }
    Ok(())
}

fn check_file_source(url: &str) -> Result<(), Rejection> {
    if url.starts_with('/') {
        check_len(Field::SourceUrls, url, MAX_TEXT_LEN)?;
        if url.chars().any(char::is_control) {
            return Err(invalid(Field::SourceUrls, "control characters in a path"));
        }
        return Ok(());
    }
    check_url(Field::SourceUrls, url, &["http", "https"])
}

/// A URL `scheme://host[:port][/...]` with one of `schemes` (ASCII case-insensitive), a
/// non-empty host, no whitespace or control characters, at most [`MAX_TEXT_LEN`] characters.
fn check_url(field: Field, url: &str, schemes: &[&str]) -> Result<(), Rejection> {
    check_len(field, url, MAX_TEXT_LEN)?;
    if url.is_empty() {
        return Err(invalid(field, "empty"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(field, "whitespace or control characters"));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(Rejection::Invalid {
            field,
            reason: format!("not a URL; expected {}://", schemes.join(":// or ")),
        });
    };
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(Rejection::Invalid {
            field,
            reason: format!(
                "scheme `{scheme}` not allowed; expected {}://",
                schemes.join(":// or ")
            ),
        });
    }
    // RFC 3986 3.2: the authority ends at the first '/', '?' or '#'; userinfo ends at '@'.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    if host_port.is_empty() || host_port.starts_with(':') {
        return Err(invalid(field, "no host"));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn live_spec() -> TaskSpec {
        TaskSpec {
            name: "t".into(),
            group: crate::DEFAULT_GROUP.into(),
            region: "cn-shanghai".into(),
            source_type: SourceType::Live,
            source_protocol: Some(SourceProtocol::Rtmp),
            source_urls: vec!["rtmp://src.example/live/a".into()],
            dst_url: "rtmp://dst.example/live/b".into(),
            extra_dst_urls: Vec::new(),
            failover: SourceFailover::default(),
            slate: TaskSlate::default(),
            start_time: 1_000,
            end_time: 2_000,
            callback_url: None,
            repeat_number: 0,
            retry_count: DEFAULT_RETRY_COUNT,
            retry_interval: DEFAULT_RETRY_INTERVAL,
            file_index: 0,
            offset: 0,
            auth_key: None,
            req_auth: None,
            notify_item_switch: None,
        }
    }

    fn field_of(r: Result<(), Rejection>) -> Option<Field> {
        match r {
            Err(Rejection::Invalid { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn a_plain_live_spec_is_valid_and_supported() {
        let s = live_spec();
        assert_eq!(s.validate(500), Ok(()));
        assert_eq!(s.supported(), Ok(()));
    }

    #[test]
    fn duration_rules() {
        let mut s = live_spec();
        assert_eq!(s.validate(2_000), Err(Rejection::IllegalDuration));
        assert_eq!(s.validate(1_999), Ok(()));
        s.end_time = s.start_time;
        assert_eq!(s.validate(0), Err(Rejection::IllegalDuration));
        s.end_time = s.start_time - 1;
        assert_eq!(s.validate(0), Err(Rejection::IllegalDuration));
        // A start time in the past is fine: the task starts at once.
        let mut s = live_spec();
        s.start_time = 0;
        assert_eq!(s.validate(1_500), Ok(()));
        s.start_time = -1;
        assert_eq!(field_of(s.validate(0)), Some(Field::StartTime));
        let mut s = live_spec();
        s.end_time = MAX_TIME + 1;
        assert_eq!(field_of(s.validate(0)), Some(Field::EndTime));
    }

    #[test]
    fn live_source_scheme_must_match_the_protocol() {
        let cases = [
            (SourceProtocol::Rtmp, "rtmp://h/app/s", true),
            (SourceProtocol::Rtmp, "RTMPS://h:443/app/s", true),
            (SourceProtocol::Rtmp, "http://h/app/s.flv", false),
            (SourceProtocol::HttpFlv, "http://h/app/s.flv", true),
            (SourceProtocol::HttpFlv, "https://h/app/s.flv?a=b", true),
            (SourceProtocol::HttpFlv, "rtmp://h/app/s", false),
            (SourceProtocol::Hls, "https://h/s.m3u8", true),
            (SourceProtocol::Srt, "srt://h:9000?streamid=x", true),
            (SourceProtocol::Srt, "udp://h:9000", false),
            (SourceProtocol::Rtsp, "rtsp://cam/1", true),
        ];
        for (protocol, url, ok) in cases {
            let mut s = live_spec();
            s.source_protocol = Some(protocol);
            s.source_urls = vec![url.into()];
            assert_eq!(s.validate(0).is_ok(), ok, "{protocol:?} {url}");
        }
    }

    #[test]
    fn malformed_urls_name_their_field() {
        for bad in [
            "",
            "rtmp://",
            "rtmp:///app",
            "rtmp://:1935/app",
            "rtmp://user@/app",
            "rtmp//h/app",
            "rtmp://h/a b",
            "rtmp://h/a\nb",
            "h/app/s",
        ] {
            let mut s = live_spec();
            s.source_urls = vec![bad.into()];
            assert_eq!(field_of(s.validate(0)), Some(Field::SourceUrls), "{bad:?}");
            let mut s = live_spec();
            s.dst_url = bad.into();
            assert_eq!(field_of(s.validate(0)), Some(Field::DstUrl), "{bad:?}");
        }
        let mut s = live_spec();
        s.dst_url = "udp://h:1".into();
        assert_eq!(field_of(s.validate(0)), Some(Field::DstUrl));
        s.dst_url = "srt://:9000?mode=listener".into();
        assert_eq!(field_of(s.validate(0)), Some(Field::DstUrl));
        s.dst_url = "rtmp://user:pw@h:1935/app/s?k=v".into();
        assert_eq!(s.validate(0), Ok(()));
        // SRT destinations (their options are checked by the engine).
        s.dst_url = "SRT://h:9000?streamid=live/a&latency=200".into();
        assert_eq!(s.validate(0), Ok(()));
    }

    #[test]
    fn live_needs_a_protocol_and_one_url_plus_up_to_three_backups() {
        let mut s = live_spec();
        s.source_protocol = None;
        assert_eq!(field_of(s.validate(0)), Some(Field::SourceProtocol));
        let mut s = live_spec();
        for i in 1..=3 {
            s.source_urls.push(format!("rtmps://backup{i}/live/a"));
            assert_eq!(s.validate(0), Ok(()), "{i} backups");
        }
        s.source_urls.push("rtmp://backup4/live/a".into());
        assert_eq!(
            field_of(s.validate(0)),
            Some(Field::SourceUrls),
            "4 backups"
        );
        // Each backup is checked like the first: the protocol's schemes, none twice.
        let mut s = live_spec();
        s.source_urls.push("http://h/a.flv".into());
        assert_eq!(field_of(s.validate(0)), Some(Field::SourceUrls));
        let mut s = live_spec();
        s.source_urls.push(s.source_urls[0].clone());
        assert_eq!(field_of(s.validate(0)), Some(Field::SourceUrls));
        s.source_urls.clear();
        assert_eq!(field_of(s.validate(0)), Some(Field::SourceUrls));
    }

    #[test]
    fn slates_are_for_live_tasks_with_a_default_or_http_file_and_times_in_range() {
        let on = |file: Option<&str>, after, hold| TaskSlate::On {
            file: file.map(str::to_owned),
            after,
            hold,
        };
        let check = |slate: TaskSlate, live: bool, ok: bool| {
            let mut s = live_spec();
            s.slate = slate.clone();
            if !live {
                s.source_type = SourceType::Url;
                s.source_protocol = None;
                s.source_urls = vec!["https://h/a.mp4".into()];
            }
            let want = (!ok).then_some(Field::Slate);
            assert_eq!(field_of(s.validate(0)), want, "{slate:?} live {live}");
        };
        check(TaskSlate::Inherit, true, true);
        check(TaskSlate::Inherit, false, true);
        check(TaskSlate::Off, true, true);
        check(TaskSlate::Off, false, false);
        check(on(None, None, None), true, true);
        check(on(None, None, None), false, false);
        check(on(Some("default"), Some(1), Some(86_400)), true, true);
        check(
            on(Some("https://cdn.example/slate.mp4"), Some(60), Some(1)),
            true,
            true,
        );
        check(on(Some("/etc/passwd"), None, None), true, false);
        check(on(Some("file:///srv/slate.flv"), None, None), true, false);
        let long = format!("https://cdn.example/{}", "a".repeat(2048));
        check(on(Some(&long), None, None), true, false);
        check(on(None, Some(0), None), true, false);
        check(on(None, Some(61), None), true, false);
        check(on(None, None, Some(0)), true, false);
        check(on(None, None, Some(86_401)), true, false);
    }

    #[test]
    fn failover_settings_are_for_live_tasks_and_in_range() {
        let check = |after: Option<u32>, back: Option<u32>, live: bool, ok: bool| {
            let mut s = live_spec();
            s.failover = SourceFailover {
                after,
                failback_after: back,
            };
            if !live {
                s.source_type = SourceType::Url;
                s.source_protocol = None;
                s.source_urls = vec!["https://h/a.mp4".into()];
            }
            let want = (!ok).then_some(Field::Failover);
            assert_eq!(
                field_of(s.validate(0)),
                want,
                "{after:?} {back:?} live {live}"
            );
        };
        check(Some(1), None, true, true);
        check(Some(30), Some(3600), true, true);
        check(Some(0), None, true, false);
        check(Some(31), None, true, false);
        check(None, Some(0), true, false);
        check(None, Some(3601), true, false);
        check(Some(5), None, false, false);
        check(None, None, false, true);
    }

    #[test]
    fn file_sources() {
        let mut s = live_spec();
        s.source_type = SourceType::Url;
        s.source_protocol = None;
        s.source_urls = vec!["https://h/a.mp4".into(), "/srv/media/b.flv".into()];
        s.file_index = 1;
        assert_eq!(s.validate(0), Ok(()));
        s.file_index = 2;
        assert_eq!(field_of(s.validate(0)), Some(Field::FileIndex));
        s.file_index = 0;
        s.source_urls = vec!["rtmp://h/a".into()];
        assert_eq!(field_of(s.validate(0)), Some(Field::SourceUrls));
        s.source_urls = vec!["relative/path.mp4".into()];
        assert_eq!(field_of(s.validate(0)), Some(Field::SourceUrls));
        s.source_urls = vec!["https://h/a.mp4".into(); 30];
        assert_eq!(s.validate(0), Ok(()));
        s.source_urls.push("https://h/a.mp4".into());
        assert_eq!(field_of(s.validate(0)), Some(Field::SourceUrls));

        s.source_type = SourceType::Vod;
        s.source_urls = vec!["5f4e1d1f0a2b4c3d8e9f00112233aabb".into()];
        assert_eq!(s.validate(0), Ok(()));
        s.source_urls = vec!["https://h/a.mp4".into()];
        assert_eq!(field_of(s.validate(0)), Some(Field::SourceUrls));
        s.source_urls = vec!["x".repeat(65)];
        assert_eq!(field_of(s.validate(0)), Some(Field::SourceUrls));
    }

    #[test]
    fn ranges_and_lengths() {
        let check = |f: &dyn Fn(&mut TaskSpec), field: Option<Field>| {
            let mut s = live_spec();
            f(&mut s);
            assert_eq!(field_of(s.validate(0)), field);
        };
        check(&|s| s.retry_interval = 59, Some(Field::RetryInterval));
        // Extra destinations: destination URLs, at most seven, none twice.
        let dst = |i: usize| format!("srt://cdn{i}.example:9000?streamid=live/s");
        check(&|s| s.extra_dst_urls = (1..=7).map(dst).collect(), None);
        check(
            &|s| s.extra_dst_urls = (1..=8).map(dst).collect(),
            Some(Field::ExtraDstUrls),
        );
        check(
            &|s| s.extra_dst_urls = vec!["http://h/x.flv".into()],
            Some(Field::ExtraDstUrls),
        );
        check(
            &|s| s.extra_dst_urls = vec![dst(1), dst(2), dst(1)],
            Some(Field::ExtraDstUrls),
        );
        check(
            &|s| s.extra_dst_urls = vec![s.dst_url.clone()],
            Some(Field::ExtraDstUrls),
        );
        check(&|s| s.retry_interval = 60, None);
        check(&|s| s.retry_interval = 300, None);
        check(&|s| s.retry_interval = 301, Some(Field::RetryInterval));
        check(&|s| s.retry_count = 0, None);
        check(&|s| s.retry_count = 100, None);
        check(&|s| s.retry_count = 101, Some(Field::RetryCount));
        check(&|s| s.repeat_number = -1, None);
        check(&|s| s.repeat_number = -2, Some(Field::RepeatNumber));
        check(&|s| s.name = "n".repeat(255), None);
        check(&|s| s.name = "é".repeat(255), None);
        check(&|s| s.name = "n".repeat(256), Some(Field::Name));
        check(&|s| s.name = String::new(), None);
        check(&|s| s.region = String::new(), None);
        check(&|s| s.region = "r".repeat(65), Some(Field::Region));
        check(&|s| s.group = "g".repeat(64), None);
        check(&|s| s.group = "Live 直播".into(), None);
        check(&|s| s.group = String::new(), Some(Field::Group));
        check(&|s| s.group = "g".repeat(65), Some(Field::Group));
        check(&|s| s.group = "a\tb".into(), Some(Field::Group));
        check(&|s| s.region = "cn shanghai".into(), Some(Field::Region));
        check(&|s| s.auth_key = Some("k".repeat(2000)), None);
        check(
            &|s| s.auth_key = Some("k".repeat(2001)),
            Some(Field::AuthKey),
        );
        check(
            &|s| s.req_auth = Some("k".repeat(2001)),
            Some(Field::ReqAuth),
        );
        check(
            &|s| s.notify_item_switch = Some("k".repeat(2001)),
            Some(Field::NotifyItemSwitch),
        );
        check(&|s| s.auth_key = Some(String::new()), None);
        let long = format!("rtmp://h/{}", "a".repeat(1991));
        assert_eq!(long.len(), 2000);
        check(&|s| s.dst_url = long.clone(), None);
        check(&|s| s.dst_url = format!("{long}a"), Some(Field::DstUrl));
        check(
            &|s| s.callback_url = Some("https://cb.example/hook".into()),
            None,
        );
        check(
            &|s| s.callback_url = Some("ftp://cb.example/hook".into()),
            Some(Field::CallbackUrl),
        );
        // Dialects map an empty CallbackUrl to None (no callbacks); Some("") is not a URL.
        check(
            &|s| s.callback_url = Some(String::new()),
            Some(Field::CallbackUrl),
        );
    }

    #[test]
    fn supported_names_the_unsupported_value() {
        let mut s = live_spec();
        s.source_protocol = Some(SourceProtocol::HttpFlv);
        assert_eq!(s.supported(), Ok(()));
        s.source_protocol = Some(SourceProtocol::Srt);
        assert_eq!(s.supported(), Ok(()));
        // RTSP too.
        s.source_protocol = Some(SourceProtocol::Rtsp);
        s.source_urls = vec!["rtsp://u:p@cam/1".into()];
        assert_eq!(s.supported(), Ok(()));
        // RTSP over TLS is not built: refused by name, whatever SourceProtocol says.
        for protocol in [Some(SourceProtocol::Rtsp), None] {
            s.source_protocol = protocol;
            s.source_urls = vec!["RTSPS://u:secret@cam/1".into()];
            assert_eq!(
                s.supported(),
                Err(Unsupported {
                    field: Field::SourceUrls,
                    value: "rtsps".into()
                })
            );
        }
        s.source_urls = vec!["rtmp://h/live/s".into()];
        s.source_protocol = Some(SourceProtocol::Hls);
        assert_eq!(s.supported(), Ok(()));
        // Playlists run whatever their SourceProtocol says (it describes live sources).
        s.source_type = SourceType::Vod;
        assert_eq!(s.supported(), Ok(()));
        s.source_type = SourceType::Url;
        assert_eq!(s.supported(), Ok(()));
    }

    #[test]
    fn playlist_items_of_every_kind_baton_plays_are_supported() {
        let mut s = live_spec();
        s.source_type = SourceType::Url;
        s.source_protocol = None;
        for item in [
            "https://cdn.example/a/index.m3u8",
            "https://cdn.example/a/INDEX.M3U8?token=x",
            "/srv/media/list.M3u8",
            "https://cdn.example/ts/a.flv",
            "http://cdn.example/seg-1.ts#t=3",
            "/srv/media/clip.TS",
        ] {
            s.source_urls = vec!["https://cdn.example/ok.mp4".into(), item.into()];
            assert_eq!(s.supported(), Ok(()), "{item}");
        }
    }

    #[test]
    fn names_refuse_control_and_bidi_characters() {
        for bad in [
            "a\0b",
            "bell\u{7}",
            "\u{1b}[31mred",
            "two\nlines",
            "tab\t",
            "\u{9b}31m",
            "abc\u{202E}gpj.exe",
            "\u{2066}x\u{2069}",
            "\u{200F}",
            "\u{061C}",
        ] {
            let mut s = live_spec();
            s.name = bad.into();
            assert_eq!(field_of(s.validate(0)), Some(Field::Name), "{bad:?}");
            let mut s = live_spec();
            s.group = bad.into();
            assert_eq!(field_of(s.validate(0)), Some(Field::Group), "{bad:?}");
        }
        for good in [
            "relay 测试",
            "Ünïcode — ok",
            "emoji 🎥",
            "עברית",
            "a\u{200D}b",
        ] {
            let mut s = live_spec();
            s.name = good.into();
            assert_eq!(s.validate(0), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn req_auth_is_yes_or_no_and_yes_needs_a_key() {
        let check = |req: Option<&str>, key: Option<&str>| {
            let mut s = live_spec();
            s.req_auth = req.map(str::to_owned);
            s.auth_key = key.map(str::to_owned);
            (field_of(s.validate(0)), s.signs_callbacks())
        };
        assert_eq!(check(None, None), (None, false));
        assert_eq!(check(None, Some("k")), (None, false));
        assert_eq!(check(Some("no"), None), (None, false));
        assert_eq!(check(Some("yes"), Some("k")), (None, true));
        assert_eq!(check(Some("YES"), Some("k")), (None, true));
        assert_eq!(check(Some("yes"), None), (Some(Field::AuthKey), true));
        assert_eq!(check(Some("yes"), Some("")), (Some(Field::AuthKey), true));
        assert_eq!(
            check(Some("true"), Some("k")),
            (Some(Field::ReqAuth), false)
        );
        assert_eq!(check(Some("1"), None), (Some(Field::ReqAuth), false));
    }
}
