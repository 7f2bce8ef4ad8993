//! What the engine can run today, and how a task's configuration becomes a relay.
//!
//! A configuration the relay engine cannot run yet is refused when the task is created
//! (the API names the value); it is never accepted and then faked.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use std::net::{IpAddr, SocketAddr};

use baton_domain::{AccountId, Field, Rejection, SourceType, Task, TaskSlate, TaskSpec};
use baton_net::RtmpUrl;
use baton_net::egress::{Egress, EgressPolicy, ip_literal};
use baton_net::rtsp::{RtspError, RtspTransport, RtspUrl, mask_userinfo};
use baton_net::srt_client::{SrtError, SrtMode, SrtUrl, is_srt_url};
use baton_relay::{PlayerConfig, Playlist, RelayConfig, RelayError, SlateClip, SlateConfig};

/// A configuration value this installation cannot run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    pub field: Field,
    pub value: String,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {:?} is not supported yet", self.field, self.value)
    }
}

/// What a media ID is followed by in the media library's file names, in the order tried (the
/// formats the player reads).
pub const MEDIA_EXTENSIONS: [&str; 4] = ["", ".mp4", ".flv", ".ts"];

/// Where playlist files may come from besides http(s):// URLs.

#[derive(Clone, Debug, Default)]
pub struct MediaSources {
    /// The media library: SourceType `vod` media IDs are files here (`<id>`, `<id>.mp4`,
    /// `<id>.flv` or `<id>.ts`). `None`: vod tasks are refused.
    pub media_dir: Option<PathBuf>,
    /// Directories whose files SourceType `url` tasks may name by absolute path. Empty: local
    /// paths are refused.
    pub local_roots: Vec<PathBuf>,
}

impl MediaSources {
    /// The file of media ID `id` in the media library, if any: `<id>` or `<id>` with one of
    /// [`MEDIA_EXTENSIONS`], a regular file that, links resolved, is inside the library (a link out of
    /// it is not the library's file, as a `url` task's local path outside the allowed roots
    /// is refused). The path returned is the resolved one.
    pub fn resolve_media_id(&self, id: &str) -> Option<PathBuf> {
        let dir = self.media_dir.as_ref()?.canonicalize().ok()?;
        MEDIA_EXTENSIONS
            .iter()
            .filter_map(|ext| dir.join(format!("{id}{ext}")).canonicalize().ok())
            .find(|p| p.starts_with(&dir) && p.is_file())
    }

    /// Whether something named like media ID `id` is in the library but is not one of its
    /// files ([`MediaSources::resolve_media_id`] refuses it: a link out of the library).
    fn refuses_media_id(&self, id: &str) -> bool {
        let Some(dir) = &self.media_dir else {
            return false;
        };
        self.resolve_media_id(id).is_none()
            && MEDIA_EXTENSIONS
                .iter()
                .any(|ext| std::fs::symlink_metadata(dir.join(format!("{id}{ext}"))).is_ok())
    }

    /// The playlist item of media ID `id`: its resolved file; else a path that names the ID
    /// and that the player finds missing (skipped, logged) — never a link out of the
    /// library.
    fn media_item(&self, id: &str) -> String {
        if let Some(path) = self.resolve_media_id(id) {
            return path.to_string_lossy().into_owned();
        }
        let Some(dir) = &self.media_dir else {
            return id.to_owned();
        };
        let path = dir.join(id);
        if std::fs::symlink_metadata(&path).is_ok() {
            // Something refused is there: `<path>/.` makes the open resolve it as a
            // directory, which fails for a file (ENOTDIR) and reads nothing from a directory
            // (EISDIR), so the item is skipped without its target being read.
            return path.join(".").to_string_lossy().into_owned();
        }
        path.to_string_lossy().into_owned()
    }

    /// Whether `path` lies inside one of the allowed roots (after resolving `..` and links).
    pub fn allows_path(&self, path: &str) -> bool {
        let Ok(real) = Path::new(path).canonicalize() else {
            // A file that does not exist yet: judge the path as written, without `..`.
            let p = Path::new(path);
            return !p
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
                && self.local_roots.iter().any(|root| p.starts_with(root));
        };
        self.local_roots.iter().any(|root| {
            root.canonicalize()
                .map(|r| real.starts_with(r))
                .unwrap_or(false)
        })
    }
}

/// Live sources over RTMP, RTMPS (RTMP over TLS), HTTP(S)-FLV, HLS and SRT (an SRT option
/// Baton does not build, e.g. rendezvous mode, is named), and playlists: http(s) URLs, local
/// paths inside the allowed roots, media IDs of the library. Destinations: `rtmp://`,
/// `rtmps://` and `srt://` (the domain's validation admits no other scheme; an SRT option
/// Baton does not build is named here, as for a source).
pub fn check_supported(spec: &TaskSpec, media: &MediaSources) -> Result<(), Unsupported> {
    spec.supported().map_err(|u| Unsupported {
        field: u.field,
        value: u.value.to_string(),
    })?;
    let unsupported = |field, value: &str| Unsupported {
        field,
        value: value.to_string(),
    };
    let unbuilt = |url: &str| {
        (is_srt_url(url) && matches!(SrtUrl::parse(url), Err(SrtError::Unsupported(_))))
            || (is_rtsp_url(url) && matches!(RtspUrl::parse(url), Err(RtspError::Unsupported(_))))
    };
    if unbuilt(&spec.dst_url) {
        return Err(unsupported(Field::DstUrl, &spec.dst_url));
    }
    if let Some(url) = spec.extra_dst_urls.iter().find(|u| unbuilt(u)) {
        return Err(unsupported(Field::ExtraDstUrls, url));
    }
    match spec.source_type {
        SourceType::Live => {
            // `rtsps://`, an unknown `transport=`; a camera's password is not echoed.
            if let Some(url) = spec.source_urls.iter().find(|u| unbuilt(u)) {
                return Err(unsupported(Field::SourceUrls, &mask_userinfo(url)));
            }
        }
        SourceType::Url => {
            for url in &spec.source_urls {
                if url.starts_with('/') && !media.allows_path(url) {
                    return Err(unsupported(Field::SourceUrls, url));
                }
            }
        }
        SourceType::Vod => {
            if media.media_dir.is_none() {
                return Err(unsupported(Field::SourceType, "vod"));
            }
            // A missing file may still come (it is skipped when played); a link out of the
            // library never becomes its file.
            if let Some(id) = spec
                .source_urls
                .iter()
                .find(|id| media.refuses_media_id(id))
            {
                return Err(unsupported(Field::SourceUrls, id));
            }
        }
    }
    Ok(())
}

/// Refuses at Create / Update a URL whose host is an IP literal the account may never reach
/// (SourceUrls of live and `url` tasks, DstUrl and the extra destinations, CallbackUrl), naming the field and the rule. Only the
/// fields that change are checked (`before`: the spec before an update), so a task stored
/// under an older configuration can still be edited. Names are not resolved here: the check
/// at connect time is the real one, this is early word for the obvious case.
///
/// A live task's `srt://` source and an `srt://` destination are checked here too, whatever
/// the policy: their options ([`SrtUrl::parse`]: passphrase length, latency, …) and, in
/// listener mode, whether the account may make Baton listen ([`EgressPolicy::may_listen`]).
/// The rules are the same for both sides.
pub fn check_reachable(
    spec: &TaskSpec,
    before: Option<&TaskSpec>,
    account: &AccountId,
    egress: &EgressPolicy,
) -> Result<(), Rejection> {
    let sources_changed = before.is_none_or(|b| b.source_urls != spec.source_urls);
    if sources_changed && spec.source_type == SourceType::Live {
        for url in spec.source_urls.iter().filter(|u| is_srt_url(u)) {
            let invalid = |reason: String| Rejection::Invalid {
                field: Field::SourceUrls,
                reason,
            };
            let parsed = SrtUrl::parse(url).map_err(|e| invalid(e.to_string()))?;
            if parsed.is_listener() {
                egress.may_listen(&account.0).map_err(invalid)?;
            }
        }
        for url in spec.source_urls.iter().filter(|u| is_rtsp_url(u)) {
            let invalid = |reason: String| Rejection::Invalid {
                field: Field::SourceUrls,
                reason,
            };
            let parsed = RtspUrl::parse(url).map_err(|e| invalid(e.to_string()))?;
            // RTP over UDP goes where the camera says and binds ports (see `baton_net::rtsp`).
            if parsed.transport() == RtspTransport::Udp {
                egress.may_listen(&account.0).map_err(|_| {
                    invalid(format!(
                        "account {:?} may not receive RTSP over UDP (transport=udp): only the root account may; remove it (RTP over the RTSP TCP connection, the default)",
                        account.0
                    ))
                })?;
            }
        }
    }
    // The destinations that change, each with the field that names it: the first, then the
    // extra ones (checked alike).
    let dst_changed = before.is_none_or(|b| b.dst_url != spec.dst_url);
    let extra_changed = before.is_none_or(|b| b.extra_dst_urls != spec.extra_dst_urls);
    let changed_destinations = || {
        let first = dst_changed.then_some((Field::DstUrl, &spec.dst_url));
        let extra = spec.extra_dst_urls.iter().filter(move |_| extra_changed);
        first
            .into_iter()
            .chain(extra.map(|url| (Field::ExtraDstUrls, url)))
    };
    for (field, url) in changed_destinations().filter(|(_, url)| is_srt_url(url)) {
        let invalid = |reason: String| Rejection::Invalid { field, reason };
        let parsed = SrtUrl::parse(url).map_err(|e| invalid(e.to_string()))?;
        if parsed.is_listener() {
            egress.may_listen(&account.0).map_err(invalid)?;
        }
    }
    if !egress.is_restricted() {
        return Ok(());
    }
    let check = |field: Field, url: &str| match literal_addr(url) {
        Some(addr) => egress
            .allow(&account.0, addr)
            .map_err(|refusal| Rejection::Invalid {
                field,
                reason: refusal.to_string(),
            }),
        None => Ok(()),
    };
    if sources_changed && matches!(spec.source_type, SourceType::Live | SourceType::Url) {
        for url in &spec.source_urls {
            check(Field::SourceUrls, url)?;
        }
    }
    for (field, url) in changed_destinations() {
        check(field, url)?;
    }
    if let Some(url) = &spec.callback_url
        && before.is_none_or(|b| b.callback_url.as_ref() != Some(url))
    {
        check(Field::CallbackUrl, url)?;
    }
    Ok(())
}

/// Whether `url` is an `rtsp://` or `rtsps://` URL.
fn is_rtsp_url(url: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(s, _)| s.eq_ignore_ascii_case("rtsp") || s.eq_ignore_ascii_case("rtsps"))
}

/// The address of a URL whose host is an IP literal (`rtmp`, `rtmps`, `http`, `https`, an
/// SRT caller's `srt`), in the form the connection will use. An SRT listener's host is an
/// address of this host to bind, not a connection: `None`.
fn literal_addr(url: &str) -> Option<SocketAddr> {
    if is_srt_url(url) {
        return match SrtUrl::parse(url).ok()?.mode {
            SrtMode::Caller { host, port } => Some(SocketAddr::new(ip_literal(&host)?, port)),
            SrtMode::Listener { .. } => None,
        };
    }
    let scheme = url.split_once("://")?.0.to_ascii_lowercase();
    if scheme == "rtsp" {
        let parsed = RtspUrl::parse(url).ok()?;
        return Some(SocketAddr::new(ip_literal(parsed.host())?, parsed.port()));
    }
    if scheme.starts_with("rtmp") {
        let parsed = RtmpUrl::parse(url).ok()?;
        let ip = parsed.host.parse::<IpAddr>().ok()?;
        return Some(SocketAddr::new(ip, parsed.port));
    }
    // The URL parser normalises every IPv4 spelling (decimal, hex, octal) to the address.
    let parsed = reqwest::Url::parse(url).ok()?;
    let port = parsed.port_or_known_default()?;
    Some(SocketAddr::new(ip_literal(parsed.host_str()?)?, port))
}

/// The relay for a (supported) task, with the engine's relay defaults in `template`: a live
/// task's source URL and its backups (`TaskSpec::failover`: failback after N s tries the
/// primary every N s and takes it back once it delivered for N s), or a playlist of its files starting at the task's current item and
/// offset (a fresh start sets them to FileIndex / Offset; a recovery keeps the saved
/// progress). The template's slate (`[slate]`) goes to live tasks only.
pub fn relay_config(
    task: &Task,
    template: &RelayConfig,
    media: &MediaSources,
    player: &PlayerConfig,
    egress: &Arc<EgressPolicy>,
) -> Result<RelayConfig, RelayError> {
    let spec = &task.spec;
    let mut config = template.clone();
    config.destination = spec.dst_url.clone();
    config.extra_destinations = spec.extra_dst_urls.clone();
    config.egress =
        Egress::new(Arc::clone(egress), &task.account.0).with_tls(template.client.tls.clone());
    match spec.source_type {
        SourceType::Live => {
            config.source = spec.source_urls.first().cloned().unwrap_or_default();
            // The backups, tried in order when the active source fails (see the relay's
            // failover rule), with the task's failover settings.
            config.backup_sources = spec.source_urls.iter().skip(1).cloned().collect();
            if let Some(after) = spec.failover.after {
                config.failover_after = Duration::from_secs(u64::from(after));
            }
            if let Some(back) = spec.failover.failback_after {
                let back = Duration::from_secs(u64::from(back));
                config.failback_every = Some(back);
                config.failback_healthy = back;
            }
            config.hls = spec.source_protocol == Some(baton_domain::SourceProtocol::Hls);
            config.slate = task_slate(&spec.slate, template.slate.as_ref());
        }
        SourceType::Url | SourceType::Vod => {
            let items: Vec<String> = spec
                .source_urls
                .iter()
                .map(|s| match spec.source_type {
                    // A missing media file is played as a missing item (skipped, logged).
                    SourceType::Vod => media.media_item(s),
                    _ => s.clone(),
                })
                .collect();
            // A playlist plays Baton's own reads of its files: no slate.
            config.slate = None;
            config.source = format!(
                "playlist of {} ({}{})",
                items.len(),
                spec.source_urls[0],
                if items.len() > 1 { ", ..." } else { "" }
            );
            let rt = &task.runtime;
            let playlist = Playlist::new(
                items,
                spec.repeat_number,
                rt.current_file_index,
                u64::from(rt.current_offset) * 1000,
                rt.current_loop,
            )?;
            config.playlist = Some((playlist, player.clone()));
        }
    }
    Ok(config)
}

/// A live task's slate: the operator's (`[slate]`, in the template) unless the task says
/// otherwise; a task's own settings fill in from the operator's, else the built-in defaults.
/// A task's clip is an http(s) URL the relay loads through the task's egress when it starts.
fn task_slate(task: &TaskSlate, operator: Option<&SlateConfig>) -> Option<SlateConfig> {
    match task {
        TaskSlate::Inherit => operator.cloned(),
        TaskSlate::Off => None,
        TaskSlate::On { file, after, hold } => {
            let base = operator.cloned().unwrap_or_else(SlateConfig::default_slate);
            let secs = |s: &u32| Duration::from_secs(u64::from(*s));
            Some(SlateConfig {
                clip: match file.as_deref() {
                    None => base.clip,
                    Some("default") => SlateClip::Default,
                    Some(url) => SlateClip::Load(url.to_owned()),
                },
                after: after.as_ref().map_or(base.after, secs),
                hold: hold.as_ref().map_or(base.hold, secs),
            })
        }
    }
}

/// The playlist of a relay config, if it plays one.
pub fn playlist_of(config: &RelayConfig) -> Option<Arc<Playlist>> {
    config.playlist.as_ref().map(|(p, _)| Arc::clone(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_domain::{DEFAULT_GROUP, SourceProtocol, SourceType};

    fn live(protocol: SourceProtocol, src: &str, dst: &str) -> TaskSpec {
        TaskSpec {
            name: String::new(),
            group: DEFAULT_GROUP.to_string(),
            region: "cn-shanghai".into(),
            source_type: SourceType::Live,
            source_protocol: Some(protocol),
            source_urls: vec![src.into()],
            dst_url: dst.into(),
            extra_dst_urls: Vec::new(),
            failover: Default::default(),
            slate: Default::default(),
            start_time: 0,
            end_time: 1,
            callback_url: None,
            repeat_number: 0,
            retry_count: 3,
            retry_interval: 60,
            file_index: 0,
            offset: 0,
            auth_key: None,
            req_auth: None,
            notify_item_switch: None,
        }
    }

    #[test]
    fn live_rtmp_and_http_flv_run_the_rest_is_named() {
        let none = MediaSources::default();
        let ok = live(SourceProtocol::Rtmp, "rtmp://a/b/c", "rtmp://d/e/f");
        assert_eq!(check_supported(&ok, &none), Ok(()));
        let flv = live(SourceProtocol::HttpFlv, "http://a/b/c.flv", "rtmp://d/e/f");
        assert_eq!(check_supported(&flv, &none), Ok(()));
        let srt = live(SourceProtocol::Srt, "srt://a:1", "rtmp://d/e/f");
        assert_eq!(check_supported(&srt, &none), Ok(()));
        // An SRT feature Baton does not build is named with the URL.
        let rendezvous = live(
            SourceProtocol::Srt,
            "srt://a:1?mode=rendezvous",
            "rtmp://d/e/f",
        );
        assert_eq!(
            check_supported(&rendezvous, &none),
            Err(Unsupported {
                field: Field::SourceUrls,
                value: "srt://a:1?mode=rendezvous".into()
            })
        );
        let rtsp = live(SourceProtocol::Rtsp, "rtsp://u:p@a/1", "rtmp://d/e/f");
        assert_eq!(check_supported(&rtsp, &none), Ok(()));
        // RTSP over TLS is not built (retina has no TLS): refused by name.
        let rtsps = live(SourceProtocol::Rtsp, "rtsps://u:secret@a/1", "rtmp://d/e/f");
        assert_eq!(
            check_supported(&rtsps, &none),
            Err(Unsupported {
                field: Field::SourceUrls,
                value: "rtsps".into()
            })
        );
        // An RTSP option Baton does not know: the URL named, its password masked.
        let odd = live(
            SourceProtocol::Rtsp,
            "rtsp://u:secret@a/1?transport=http",
            "rtmp://d/e/f",
        );
        assert_eq!(
            check_supported(&odd, &none),
            Err(Unsupported {
                field: Field::SourceUrls,
                value: "rtsp://u:***@a/1?transport=http".into()
            })
        );
        // RTMPS both ways.
        let tls = live(
            SourceProtocol::Rtmp,
            "rtmps://a/b/c",
            "rtmps://live-api-s.facebook.com:443/rtmp/k",
        );
        assert_eq!(check_supported(&tls, &none), Ok(()));
    }

    #[test]
    fn playlists_need_their_sources_configured() {
        let dir = std::env::temp_dir().join(format!("baton-cap-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("lib")).unwrap();
        std::fs::write(dir.join("lib/abc123.mp4"), b"x").unwrap();
        let none = MediaSources::default();
        let configured = MediaSources {
            media_dir: Some(dir.join("lib")),
            local_roots: vec![dir.join("lib")],
        };
        let mut vod = live(SourceProtocol::Rtmp, "abc123", "rtmp://d/e/f");
        vod.source_type = SourceType::Vod;
        assert_eq!(
            check_supported(&vod, &none),
            Err(Unsupported {
                field: Field::SourceType,
                value: "vod".into()
            })
        );
        assert_eq!(check_supported(&vod, &configured), Ok(()));
        assert_eq!(
            configured.resolve_media_id("abc123"),
            Some(dir.join("lib/abc123.mp4").canonicalize().unwrap())
        );
        assert_eq!(configured.resolve_media_id("nope"), None);

        let inside = dir.join("lib/abc123.mp4").to_string_lossy().into_owned();
        let escape = format!("{}/lib/../secret", dir.display());
        let mut url = live(SourceProtocol::Rtmp, "https://cdn/a.mp4", "rtmp://d/e/f");
        url.source_type = SourceType::Url;
        assert_eq!(check_supported(&url, &none), Ok(()));
        url.source_urls = vec![inside.clone()];
        assert_eq!(check_supported(&url, &none).unwrap_err().value, inside);
        assert_eq!(check_supported(&url, &configured), Ok(()));
        url.source_urls = vec![escape.clone()];
        assert_eq!(
            check_supported(&url, &configured).unwrap_err().value,
            escape
        );
        url.source_urls = vec!["/etc/passwd".into()];
        assert!(check_supported(&url, &configured).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_media_id_linking_out_of_the_library_is_not_its_file() {
        let dir = std::env::temp_dir().join(format!("baton-vod-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("lib/sub")).unwrap();
        std::fs::write(dir.join("secret.flv"), b"FLV not yours").unwrap();
        std::fs::write(dir.join("lib/sub/inside.flv"), b"FLV").unwrap();
        std::os::unix::fs::symlink(dir.join("secret.flv"), dir.join("lib/evil.flv")).unwrap();
        std::os::unix::fs::symlink(dir.join("secret.flv"), dir.join("lib/bare")).unwrap();
        std::os::unix::fs::symlink(dir.join("lib/sub/inside.flv"), dir.join("lib/ok.flv")).unwrap();
        let media = MediaSources {
            media_dir: Some(dir.join("lib")),
            local_roots: Vec::new(),
        };
        assert_eq!(media.resolve_media_id("evil"), None);
        assert_eq!(media.resolve_media_id("bare"), None);
        // A link that stays inside the library is its file.
        assert_eq!(
            media.resolve_media_id("ok"),
            Some(dir.join("lib/sub/inside.flv").canonicalize().unwrap())
        );
        let mut vod = live(SourceProtocol::Rtmp, "ok", "rtmp://d/e/f");
        vod.source_type = SourceType::Vod;
        assert_eq!(check_supported(&vod, &media), Ok(()));
        for id in ["evil", "bare"] {
            vod.source_urls = vec!["ok".into(), id.into()];
            assert_eq!(
                check_supported(&vod, &media),
                Err(Unsupported {
                    field: Field::SourceUrls,
                    value: id.into()
                })
            );
        }
        // Missing IDs may come later; they are played as missing items.
        vod.source_urls = vec!["later".into()];
        assert_eq!(check_supported(&vod, &media), Ok(()));
        // A link planted after the task was created is still never read.
        vod.source_urls = vec!["evil".into(), "bare".into(), "later".into()];
        vod.end_time = 10;
        let items = playlist_of(
            &relay_config(
                &task(vod),
                &RelayConfig::new("x", "y"),
                &media,
                &PlayerConfig::default(),
                &Arc::default(),
            )
            .unwrap(),
        )
        .unwrap()
        .items()
        .to_vec();
        for item in &items {
            assert!(std::fs::read(item).is_err(), "{item} reads the linked file");
        }
        assert_eq!(items[2], dir.join("lib/later").to_string_lossy());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn task(spec: TaskSpec) -> Task {
        Task::create(
            baton_domain::TaskId("t1".into()),
            baton_domain::AccountId("a".into()),
            spec,
            0,
        )
        .unwrap()
        .task
    }

    #[test]
    fn extra_destinations_are_checked_and_relayed_like_the_first() {
        use baton_net::egress::EgressRules;
        let none = MediaSources::default();
        let mut spec = live(SourceProtocol::Rtmp, "rtmp://a/b/c", "rtmp://d/e/f");
        spec.end_time = 10;
        spec.extra_dst_urls = vec!["srt://g:9000".into(), "srt://h:9000?mode=rendezvous".into()];
        assert_eq!(
            check_supported(&spec, &none),
            Err(Unsupported {
                field: Field::ExtraDstUrls,
                value: "srt://h:9000?mode=rendezvous".into()
            })
        );
        // A tenant may not make Baton listen, nor push to a loopback address, through an
        // extra destination either; unchanged ones are not checked again.
        let policy = EgressPolicy::new(Some("root"), EgressRules::default(), Default::default());
        let tenant = AccountId("acme".into());
        let field_of = |r: Result<(), Rejection>| match r {
            Err(Rejection::Invalid { field, .. }) => Some(field),
            _ => None,
        };
        for refused in ["srt://:9000?mode=listener", "rtmp://127.0.0.1/live/x"] {
            spec.extra_dst_urls = vec!["rtmp://g/h/i".into(), refused.into()];
            let refusal = check_reachable(&spec, None, &tenant, &policy);
            assert_eq!(field_of(refusal), Some(Field::ExtraDstUrls), "{refused}");
            assert_eq!(
                check_reachable(&spec, Some(&spec), &tenant, &policy),
                Ok(())
            );
        }
        spec.extra_dst_urls = vec!["rtmp://g/h/i".into(), "srt://j:9000".into()];
        assert_eq!(check_supported(&spec, &none), Ok(()));
        assert_eq!(check_reachable(&spec, None, &tenant, &policy), Ok(()));
        let c = relay_config(
            &task(spec),
            &RelayConfig::new("x", "y"),
            &none,
            &PlayerConfig::default(),
            &Arc::default(),
        )
        .unwrap();
        assert_eq!(c.destination, "rtmp://d/e/f");
        assert_eq!(c.extra_destinations, ["rtmp://g/h/i", "srt://j:9000"]);
    }

    #[test]
    fn backup_sources_are_checked_like_the_first_and_handed_to_the_relay() {
        use baton_domain::SourceFailover;
        let none = MediaSources::default();
        let policy = EgressPolicy::new(Some("root"), Default::default(), Default::default());
        let tenant = AccountId("acme".into());
        let mut spec = live(SourceProtocol::Rtmp, "rtmp://a/b/c", "rtmp://d/e/f");
        spec.end_time = 10;
        // A backup at a loopback address: refused for a tenant, as the source would be.
        spec.source_urls
            .extend(["rtmp://b/live/s".into(), "rtmp://127.0.0.1/live/s".into()]);
        assert!(matches!(
            check_reachable(&spec, None, &tenant, &policy),
            Err(Rejection::Invalid {
                field: Field::SourceUrls,
                ..
            })
        ));
        // An unbuilt SRT mode in a backup is named like one in the source.
        spec.source_urls[2] = "srt://h:9000?mode=rendezvous".into();
        spec.source_protocol = Some(SourceProtocol::Srt);
        assert_eq!(
            check_supported(&spec, &none).map_err(|u| u.field),
            Err(Field::SourceUrls)
        );
        spec.source_protocol = Some(SourceProtocol::Rtmp);
        spec.source_urls[2] = "rtmps://c/live/s".into();
        assert_eq!(check_supported(&spec, &none), Ok(()));
        assert_eq!(check_reachable(&spec, None, &tenant, &policy), Ok(()));
        let template = RelayConfig::new("x", "y");
        let c = relay_config(
            &task(spec.clone()),
            &template,
            &none,
            &PlayerConfig::default(),
            &Arc::default(),
        )
        .unwrap();
        assert_eq!(c.source, "rtmp://a/b/c");
        assert_eq!(c.backup_sources, ["rtmp://b/live/s", "rtmps://c/live/s"]);
        assert_eq!(c.failover_after, template.failover_after);
        assert_eq!(c.failback_every, None, "no failback by default");
        spec.failover = SourceFailover {
            after: Some(3),
            failback_after: Some(20),
        };
        let c = relay_config(
            &task(spec),
            &template,
            &none,
            &PlayerConfig::default(),
            &Arc::default(),
        )
        .unwrap();
        assert_eq!(c.failover_after, Duration::from_secs(3));
        assert_eq!(c.failback_every, Some(Duration::from_secs(20)));
        assert_eq!(c.failback_healthy, Duration::from_secs(20));
    }

    #[test]
    fn relay_config_takes_urls_from_the_spec() {
        let mut template = RelayConfig::new("x", "y");
        // `[slate]`: for live tasks only.
        template.slate = Some(baton_relay::SlateConfig::default_slate());
        let none = MediaSources::default();
        let mut spec = live(SourceProtocol::Rtmp, "rtmp://a/b/c", "rtmp://d/e/f");
        spec.end_time = 10;
        let c = relay_config(
            &task(spec.clone()),
            &template,
            &none,
            &PlayerConfig::default(),
            &Arc::default(),
        )
        .unwrap();
        assert_eq!(
            (c.source.as_str(), c.destination.as_str()),
            ("rtmp://a/b/c", "rtmp://d/e/f")
        );
        assert_eq!(c.grace, template.grace);
        assert!(c.playlist.is_none());
        assert!(!c.hls);
        assert!(c.slate.is_some(), "a live task has the operator's slate");

        // SourceProtocol=hls: followed as a playlist whatever the URL's path says.
        let mut hls = live(SourceProtocol::Hls, "https://cdn/live?id=1", "rtmp://d/e/f");
        hls.end_time = 10;
        let c = relay_config(
            &task(hls),
            &template,
            &none,
            &PlayerConfig::default(),
            &Arc::default(),
        )
        .unwrap();
        assert!(c.hls);

        spec.source_type = SourceType::Url;
        spec.source_urls = vec!["https://cdn/a.mp4".into(), "https://cdn/b.flv".into()];
        spec.repeat_number = 2;
        let mut t = task(spec);
        t.runtime.current_file_index = 1;
        t.runtime.current_offset = 7;
        let c = relay_config(
            &t,
            &template,
            &none,
            &PlayerConfig::default(),
            &Arc::default(),
        )
        .unwrap();
        let playlist = playlist_of(&c).expect("a playlist");
        assert!(c.slate.is_none(), "a playlist has no slate");
        assert_eq!(playlist.items(), ["https://cdn/a.mp4", "https://cdn/b.flv"]);
        let p = playlist.progress();
        assert_eq!((p.file_index, p.offset_ms, p.loops_done), (1, 7000, 0));
    }

    #[test]
    fn a_tasks_slate_setting_overrides_the_operators_field_by_field() {
        let operator = SlateConfig {
            clip: SlateClip::Load("https://ops.example/slate.flv".into()),
            after: Duration::from_secs(2),
            hold: Duration::from_secs(600),
        };
        let summary = |s: Option<SlateConfig>| {
            s.map(|s| {
                let clip = match s.clip {
                    SlateClip::Default => "default".to_owned(),
                    SlateClip::Load(url) => url,
                    SlateClip::Clip(c) => c.name.clone(),
                };
                (clip, s.after.as_secs(), s.hold.as_secs())
            })
        };
        let on = |file: Option<&str>, after, hold| TaskSlate::On {
            file: file.map(str::to_owned),
            after,
            hold,
        };
        let ops = "https://ops.example/slate.flv".to_owned();
        // Nothing said: the operator's, or none.
        assert_eq!(
            summary(task_slate(&TaskSlate::Inherit, Some(&operator))),
            Some((ops.clone(), 2, 600))
        );
        assert_eq!(summary(task_slate(&TaskSlate::Inherit, None)), None);
        // Off wins over the operator's.
        assert_eq!(summary(task_slate(&TaskSlate::Off, Some(&operator))), None);
        // On: the task's own values, the rest from the operator's, else the defaults.
        assert_eq!(
            summary(task_slate(&on(None, Some(5), None), Some(&operator))),
            Some((ops, 5, 600))
        );
        assert_eq!(
            summary(task_slate(&on(None, None, None), None)),
            Some(("default".into(), 1, 300))
        );
        assert_eq!(
            summary(task_slate(
                &on(Some("https://cdn/s.mp4"), None, Some(30)),
                None
            )),
            Some(("https://cdn/s.mp4".into(), 1, 30))
        );
        assert_eq!(
            summary(task_slate(
                &on(Some("default"), None, None),
                Some(&operator)
            )),
            Some(("default".into(), 2, 600))
        );
    }

    #[test]
    fn unreachable_literals_are_refused_only_in_the_fields_that_change() {
        let policy = EgressPolicy::new(Some("root"), Default::default(), Default::default());
        let acme = AccountId("acme".into());
        let root = AccountId("root".into());
        let loopback = live(
            SourceProtocol::Rtmp,
            "rtmp://127.0.0.1/live/s",
            "rtmp://d/e/f",
        );
        let refused = |spec: &TaskSpec, before, account| match check_reachable(
            spec, before, account, &policy,
        ) {
            Err(Rejection::Invalid { field, reason }) => Some((field, reason)),
            Err(other) => panic!("{other:?}"),
            Ok(()) => None,
        };
        let (field, reason) = refused(&loopback, None, &acme).expect("refused");
        assert_eq!(field, Field::SourceUrls);
        assert!(
            reason.contains("127.0.0.1:1935 is a loopback address"),
            "{reason}"
        );
        assert_eq!(refused(&loopback, None, &root), None);
        // Unchanged sources of a stored task are not judged again (the config may have changed).
        let mut renamed = loopback.clone();
        renamed.name = "renamed".into();
        assert_eq!(refused(&renamed, Some(&loopback), &acme), None);
        // Names are left to the connection; local playlist paths and vod IDs are no address.
        let named = live(
            SourceProtocol::Rtmp,
            "rtmp://localhost/live/s",
            "rtmp://d/e/f",
        );
        assert_eq!(refused(&named, None, &acme), None);
        let mut vod = live(SourceProtocol::Rtmp, "127.0.0.1", "rtmp://d/e/f");
        vod.source_type = SourceType::Vod;
        assert_eq!(refused(&vod, None, &acme), None);
        let mut url = live(SourceProtocol::Rtmp, "https://0x7f.1/a.mp4", "rtmp://d/e/f");
        url.source_type = SourceType::Url;
        assert_eq!(refused(&url, None, &acme).unwrap().0, Field::SourceUrls);
        let mut callback = named.clone();
        callback.callback_url = Some("http://[::ffff:169.254.169.254]/cb".into());
        assert_eq!(
            refused(&callback, None, &root).unwrap().0,
            Field::CallbackUrl
        );
        assert_eq!(refused(&callback, Some(&callback), &root), None);
        // The destination is a connection the account makes too.
        let push = live(
            SourceProtocol::Rtmp,
            "rtmp://origin.example/live/s",
            "rtmp://10.1.2.3/live/out",
        );
        let (field, reason) = refused(&push, None, &acme).expect("refused");
        assert_eq!(field, Field::DstUrl);
        assert!(reason.contains("10.1.2.3:1935"), "{reason}");
        assert_eq!(refused(&push, None, &root), None);
        assert_eq!(refused(&push, Some(&push), &acme), None);
        // Unrestricted: nothing is judged.
        assert_eq!(
            check_reachable(&callback, None, &root, &EgressPolicy::unrestricted()),
            Ok(())
        );
    }

    #[test]
    fn srt_sources_are_checked_and_only_the_root_account_may_listen() {
        let policy = EgressPolicy::new(Some("root"), Default::default(), Default::default());
        let (acme, root) = (AccountId("acme".into()), AccountId("root".into()));
        let reason = |url: &str, account: &AccountId, policy: &EgressPolicy| {
            let spec = live(SourceProtocol::Srt, url, "rtmp://d/e/f");
            match check_reachable(&spec, None, account, policy) {
                Err(Rejection::Invalid { field, reason }) => {
                    assert_eq!(field, Field::SourceUrls);
                    Some(reason)
                }
                Err(other) => panic!("{other:?}"),
                Ok(()) => None,
            }
        };
        let listener = "srt://:9000?mode=listener&passphrase=0123456789";
        let refused = reason(listener, &acme, &policy).expect("a tenant may not listen");
        assert!(refused.contains("only the root account"), "{refused}");
        assert_eq!(reason(listener, &root, &policy), None);
        assert_eq!(reason(listener, &acme, &EgressPolicy::unrestricted()), None);
        // A loopback listener address is a bind, not a connection: not judged as egress.
        assert_eq!(
            reason("srt://127.0.0.1:9000?mode=listener", &root, &policy),
            None
        );
        // A caller's literal address is egress like any other.
        let loopback = reason("srt://127.0.0.1:9000", &acme, &policy).expect("refused");
        assert!(loopback.contains("loopback"), "{loopback}");
        assert_eq!(reason("srt://origin.example:9000", &acme, &policy), None);
        // Bad options are named whatever the policy.
        let short = reason(
            "srt://origin.example:9000?passphrase=short",
            &acme,
            &EgressPolicy::unrestricted(),
        )
        .expect("refused");
        assert!(short.contains("10 to 79"), "{short}");
    }

    #[test]
    fn rtsp_sources_are_egress_checked_and_only_the_root_account_takes_udp() {
        let policy = EgressPolicy::new(Some("root"), Default::default(), Default::default());
        let (acme, root) = (AccountId("acme".into()), AccountId("root".into()));
        let reason = |url: &str, account: &AccountId| {
            let spec = live(SourceProtocol::Rtsp, url, "rtmp://d/e/f");
            match check_reachable(&spec, None, account, &policy) {
                Err(Rejection::Invalid { field, reason }) => {
                    assert_eq!(field, Field::SourceUrls);
                    Some(reason)
                }
                Err(other) => panic!("{other:?}"),
                Ok(()) => None,
            }
        };
        // The literal's port is RTSP's 554 when the URL has none.
        let private = reason("rtsp://admin:pw@192.168.1.64/Streaming/101", &acme).expect("refused");
        assert!(private.contains("192.168.1.64:554"), "{private}");
        assert!(!private.contains("pw"), "{private}");
        assert_eq!(reason("rtsp://admin:pw@192.168.1.64/s", &root), None);
        let udp = reason("rtsp://cam.example/s?transport=udp", &acme).expect("refused");
        assert!(udp.contains("may not receive RTSP over UDP"), "{udp}");
        assert_eq!(reason("rtsp://cam.example/s?transport=udp", &root), None);
        assert_eq!(reason("rtsp://cam.example/s", &acme), None);
    }

    #[test]
    fn srt_destinations_run_with_the_sources_rules() {
        let none = MediaSources::default();
        let push = |dst: &str| live(SourceProtocol::Rtmp, "rtmp://a/b/c", dst);
        assert_eq!(
            check_supported(&push("srt://d:9000?streamid=live/out"), &none),
            Ok(())
        );
        // An SRT feature Baton does not build is named with the destination.
        for dst in ["srt://d:9000?mode=rendezvous", "srt://d:9000?maxbw=1000"] {
            assert_eq!(
                check_supported(&push(dst), &none),
                Err(Unsupported {
                    field: Field::DstUrl,
                    value: dst.into()
                })
            );
        }
        let policy = EgressPolicy::new(Some("root"), Default::default(), Default::default());
        let (acme, root) = (AccountId("acme".into()), AccountId("root".into()));
        let reason = |dst: &str, account: &AccountId, policy: &EgressPolicy| match check_reachable(
            &push(dst),
            None,
            account,
            policy,
        ) {
            Err(Rejection::Invalid { field, reason }) => {
                assert_eq!(field, Field::DstUrl);
                Some(reason)
            }
            Err(other) => panic!("{other:?}"),
            Ok(()) => None,
        };
        // Listening for the receiver: the operator's only.
        let listener = "srt://0.0.0.0:9000?mode=listener";
        let refused = reason(listener, &acme, &policy).expect("a tenant may not listen");
        assert!(refused.contains("only the root account"), "{refused}");
        assert_eq!(reason(listener, &root, &policy), None);
        // A caller's literal address is egress; bad options are named whatever the policy.
        let loopback = reason("srt://127.0.0.1:9000", &acme, &policy).expect("refused");
        assert!(loopback.contains("loopback"), "{loopback}");
        let short = reason(
            "srt://d:9000?passphrase=short",
            &acme,
            &EgressPolicy::unrestricted(),
        )
        .expect("refused");
        assert!(short.contains("10 to 79"), "{short}");
        // An unchanged destination is not judged again.
        let spec = push(listener);
        assert_eq!(check_reachable(&spec, Some(&spec), &acme, &policy), Ok(()));
    }
}
