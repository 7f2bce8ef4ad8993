//! What the engine can run today, and how a task's configuration becomes a relay.
//!
//! A configuration the relay engine cannot run yet is refused when the task is created
//! (the API names the value); it is never accepted and then faked.

use baton_domain::{Field, TaskSpec};
use baton_relay::RelayConfig;

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

/// Live sources over RTMP and HTTP-FLV ([`TaskSpec::supported`]), over plain TCP: RTMPS is
/// not built yet.
pub fn check_supported(spec: &TaskSpec) -> Result<(), Unsupported> {
    spec.supported().map_err(|u| Unsupported {
        field: u.field,
        value: u.value.to_string(),
    })?;
    let tls = |url: &String| url.to_ascii_lowercase().starts_with("rtmps://");
    if let Some(url) = spec.source_urls.iter().find(|u| tls(u)) {
        return Err(Unsupported {
            field: Field::SourceUrls,
            value: url.clone(),
        });
    }
    if tls(&spec.dst_url) {
        return Err(Unsupported {
            field: Field::DstUrl,
            value: spec.dst_url.clone(),
        });
    }
    Ok(())
}

/// The relay for a (supported) live task: its one source URL to its destination, with the
/// engine's relay defaults in `template`.
pub fn relay_config(spec: &TaskSpec, template: &RelayConfig) -> RelayConfig {
    let mut config = template.clone();
    config.source = spec.source_urls.first().cloned().unwrap_or_default();
    config.destination = spec.dst_url.clone();
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_domain::{SourceProtocol, SourceType};

    fn live(protocol: SourceProtocol, src: &str, dst: &str) -> TaskSpec {
        TaskSpec {
            name: String::new(),
            region: "cn-shanghai".into(),
            source_type: SourceType::Live,
            source_protocol: Some(protocol),
            source_urls: vec![src.into()],
            dst_url: dst.into(),
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
        let ok = live(SourceProtocol::Rtmp, "rtmp://a/b/c", "rtmp://d/e/f");
        assert_eq!(check_supported(&ok), Ok(()));
        let flv = live(SourceProtocol::HttpFlv, "http://a/b/c.flv", "rtmp://d/e/f");
        assert_eq!(check_supported(&flv), Ok(()));
        let srt = live(SourceProtocol::Srt, "srt://a:1", "rtmp://d/e/f");
        assert_eq!(
            check_supported(&srt).unwrap_err().field,
            Field::SourceProtocol
        );
        let mut vod = ok.clone();
        vod.source_type = SourceType::Vod;
        assert_eq!(
            check_supported(&vod),
            Err(Unsupported {
                field: Field::SourceType,
                value: "vod".into()
            })
        );
        let tls = live(SourceProtocol::Rtmp, "rtmp://a/b/c", "rtmps://d/e/f");
        assert_eq!(check_supported(&tls).unwrap_err().field, Field::DstUrl);
    }

    #[test]
    fn relay_config_takes_urls_from_the_spec() {
        let template = RelayConfig::new("x", "y");
        let c = relay_config(
            &live(SourceProtocol::Rtmp, "rtmp://a/b/c", "rtmp://d/e/f"),
            &template,
        );
        assert_eq!(
            (c.source.as_str(), c.destination.as_str()),
            ("rtmp://a/b/c", "rtmp://d/e/f")
        );
        assert_eq!(c.grace, template.grace);
    }
}
