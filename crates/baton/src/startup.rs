//! The message `baton serve` prints on stderr once it is ready, for the person who started it
//! (as MinIO does): where to publish, play and call the API, and what to type next.
//!
//! The first start of a data dir (no task store yet) also shows the root credentials — the
//! AccessKey the dialect SDKs sign with, a native-API token for the CLI and the dashboard, the
//! root callback secret — once: the file keeps only the token's SHA-256, and later starts say
//! where the credentials live and how to make a new token instead. The message is plain text
//! on stderr (not a log line), so it reads the same whatever `--log-format` is.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::credentials::ApiKeyConfig;

/// Where the listeners are (as bound).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub rtmp: SocketAddr,
    pub play: SocketAddr,
    pub srt: Option<SocketAddr>,
    /// The RTMPS ingest listener, if configured.
    pub rtmps: Option<SocketAddr>,
    pub api: SocketAddr,
    /// The metrics listener of its own, if configured.
    pub metrics: Option<SocketAddr>,
}

/// The secrets of a first start, shown once.
#[derive(Debug, Clone)]
pub struct FirstStart {
    /// The root AccessKey generated now; `None` when one was configured (config file,
    /// environment, or `baton key create` before this start).
    pub access_key: Option<ApiKeyConfig>,
    /// The root native-API token generated now.
    pub token: String,
    /// The root account's callback secret, when generated now.
    pub callback_secret: Option<String>,
}

/// A host for URLs a person can use from this machine: an all-interfaces listener is reached
/// on loopback; IPv6 in brackets.
pub fn url_host(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    match ip {
        IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
    }
}

/// The message; `first` holds the secrets of a first start.
pub fn message(
    version: &str,
    data_dir: &Path,
    at: &Endpoints,
    first: Option<&FirstStart>,
) -> String {
    let api = format!("http://{}", url_host(at.api));
    let rtmp = format!("rtmp://{}/live", url_host(at.rtmp));
    let credentials = data_dir.join(crate::credentials::FILE_NAME);
    let rule = "-".repeat(78);
    let mut m = String::new();
    // `write!` to a String cannot fail.
    let mut line = |text: String| {
        let _ = writeln!(m, "{text}");
    };
    line(rule.clone());
    line(format!(
        " Baton {version} is ready{}. State: {}",
        if first.is_some() {
            " (first start)"
        } else {
            ""
        },
        data_dir.display()
    ));
    line(String::new());
    line(format!(" RTMP ingest     {rtmp}/STREAM"));
    if let Some(rtmps) = at.rtmps {
        line(format!(
            " RTMPS ingest    rtmps://{}/live/STREAM",
            url_host(rtmps)
        ));
    }
    line(format!(
        " HTTP-FLV play   http://{}/live/STREAM.flv",
        url_host(at.play)
    ));
    match at.srt {
        Some(srt) => line(format!(
            " SRT ingest      srt://{}?streamid=#!::r=live/STREAM,m=publish",
            url_host(srt)
        )),
        None => line(" SRT ingest      off (--srt-listen to enable)".into()),
    }
    line(format!(
        " API             {api}  (Alibaba, Volcengine, /v1)"
    ));
    match at.metrics {
        Some(metrics) => line(format!(
            " Metrics         http://{}/metrics  (Prometheus; also {api}/metrics with a root token)",
            url_host(metrics)
        )),
        None => line(format!(
            " Metrics         {api}/metrics  (Prometheus, root token)"
        )),
    }
    match first {
        Some(f) => line(format!(" Dashboard       {api}/ui/#token={}", f.token)),
        None => line(format!(
            " Dashboard       {api}/ui/  (sign in with a token)"
        )),
    }
    line(String::new());
    match first {
        Some(f) => {
            line(format!(
                " Root credentials, shown this once (kept in {}; the token only as its SHA-256):",
                credentials.display()
            ));
            match &f.access_key {
                Some(key) => {
                    line(format!(
                        "   AccessKeyId      {}   (Alibaba / Volcengine SDKs)",
                        key.access_key_id
                    ));
                    line(format!("   AccessKeySecret  {}", key.access_key_secret));
                }
                None => line(
                    "   AccessKey        the one configured (config file, environment or `baton key list`)"
                        .into(),
                ),
            }
            line(format!(
                "   Token            {}   (CLI, /v1, dashboard)",
                f.token
            ));
            if let Some(secret) = &f.callback_secret {
                line(format!(
                    "   Callback secret  {secret}   (checks X-Baton-Signature of root's callbacks)"
                ));
            }
            line(String::new());
            line(" Next:".into());
            line(format!(
                "   export BATON_ENDPOINT={api} BATON_TOKEN={}",
                f.token
            ));
        }
        None => {
            line(format!(
                " Credentials: {} (secrets were shown at the first start; tokens are kept only as SHA-256).",
                credentials.display()
            ));
            line(format!(
                "   New token: baton token create --data-dir {}",
                data_dir.display()
            ));
            line(format!(
                "   New key:   baton key create --account root --data-dir {}",
                data_dir.display()
            ));
            line(String::new());
            line(" Next:".into());
            line(format!(
                "   export BATON_ENDPOINT={api} BATON_TOKEN=<a token>"
            ));
        }
    }
    line(format!(
        "   ffmpeg -re -i input.mp4 -c copy -f flv {rtmp}/demo"
    ));
    line(format!(
        "   baton task create --source {rtmp}/demo --destination rtmp://DESTINATION/app/KEY --end +2h"
    ));
    line("   baton task list".into());
    line(rule);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Endpoints {
        Endpoints {
            rtmp: "0.0.0.0:1935".parse().unwrap(),
            play: "[::]:8081".parse().unwrap(),
            srt: None,
            rtmps: None,
            api: "127.0.0.1:8080".parse().unwrap(),
            metrics: None,
        }
    }

    #[test]
    fn all_interfaces_are_shown_as_loopback() {
        assert_eq!(url_host("0.0.0.0:1935".parse().unwrap()), "127.0.0.1:1935");
        assert_eq!(url_host("[::]:8081".parse().unwrap()), "[::1]:8081");
        assert_eq!(url_host("10.1.2.3:80".parse().unwrap()), "10.1.2.3:80");
    }

    #[test]
    fn the_first_start_shows_the_secrets_and_later_ones_do_not() {
        let first = FirstStart {
            access_key: Some(ApiKeyConfig {
                access_key_id: "LTAIkeyid".into(),
                access_key_secret: "keysecret".into(),
                account: "root".into(),
                policy: Vec::new(),
                resources: Vec::new(),
            }),
            token: "btn_token".into(),
            callback_secret: Some("cbsecret".into()),
        };
        let m = message("0.1.0", Path::new("/d"), &endpoints(), Some(&first));
        for wanted in [
            "rtmp://127.0.0.1:1935/live/STREAM",
            "http://[::1]:8081/live/STREAM.flv",
            "http://127.0.0.1:8080/ui/#token=btn_token",
            "LTAIkeyid",
            "keysecret",
            "cbsecret",
            "export BATON_ENDPOINT=http://127.0.0.1:8080 BATON_TOKEN=btn_token",
            "ffmpeg -re -i input.mp4 -c copy -f flv rtmp://127.0.0.1:1935/live/demo",
        ] {
            assert!(m.contains(wanted), "{wanted} missing from\n{m}");
        }
        let later = message("0.1.0", Path::new("/d"), &endpoints(), None);
        for secret in ["btn_token", "keysecret", "cbsecret", "LTAIkeyid"] {
            assert!(!later.contains(secret), "{secret} in\n{later}");
        }
        assert!(
            later.contains("baton token create --data-dir /d"),
            "{later}"
        );
    }
}
