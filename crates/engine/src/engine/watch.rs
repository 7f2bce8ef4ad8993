//! Source watches: while a task waits out its RetryInterval after its source failed, the
//! engine watches the source and applies `SourceBack` the moment it is back, so the retry
//! starts then instead of at the end of the interval.
//!
//! Either way "back" means media again, not merely a publisher or an open port: a publisher
//! that connected and sends nothing would fail the retry as it failed the relay. A source on
//! Baton's own ingest ([`LocalIngest`]) is watched through a hub subscription (no network; the
//! hub tells it of the stream's first media frame, from this publisher or a later one); any
//! other is probed ([`baton_relay::probe`]: connect and play as the relay would, until the
//! first media frame) with backoff — an SRT caller too (a handshake, then the first frame
//! of its transport stream). An SRT source in listener mode is not watched: the probe would
//! have to take the relay's port and answer the peer's call itself, only to hang up on it;
//! its peer keeps calling and the retry at its time listens again. The domain asks for a watch
//! (`Effect::WatchSource`) and ends it (`Effect::UnwatchSource`); one task has at most one
//! watch (a new one replaces the old), each a spawned future cancelled by its token, removed
//! from the map when it ends: the map holds one entry per waiting task, no more.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use baton_domain::{AccountId, Command, TaskId};
use baton_net::client::ClientOptions;
use baton_net::egress::{Egress, EgressPolicy};
use baton_net::hub::{StreamEvent, StreamHub, StreamKey};
use baton_relay::SourceUrl;
use baton_relay::probe::{ProbeConfig, wait_for_source};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::supervisor::Report;

/// Baton's own ingest: a source it serves is watched through the hub instead of probed.
#[derive(Clone, Debug)]
pub struct LocalIngest {
    pub hub: Arc<StreamHub>,
    /// Host names and IP literals under which this node's listeners are reached (any case;
    /// IPv6 without brackets): loopback, the listen addresses, the ingest domains.
    pub hosts: Vec<String>,
    /// The RTMP ingest's port.
    pub rtmp_port: u16,
    /// The HTTP-FLV play listener's port.
    pub http_flv_port: u16,
}

impl LocalIngest {
    /// The hub stream that `source` pulls from this node, if it pulls from this node. A
    /// source named some other way (another of the host's names, a proxy) is probed instead:
    /// that costs seconds, never correctness.
    pub fn stream_of(&self, source: &str) -> Option<StreamKey> {
        match SourceUrl::parse(source).ok()? {
            SourceUrl::Rtmp(url)
                if !url.tls && self.serves(&url.host, url.port, self.rtmp_port) =>
            {
                Some(baton_net::ingest::play_key(&url))
            }
            SourceUrl::HttpFlv(text) => {
                let url = reqwest::Url::parse(&text).ok()?;
                let host = url
                    .host_str()?
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                let port = url.port_or_known_default()?;
                let plain = url.scheme() == "http";
                (plain && self.serves(host, port, self.http_flv_port))
                    .then(|| baton_net::http_flv::play_key(&url))
                    .flatten()
            }
            _ => None,
        }
    }

    fn serves(&self, host: &str, port: u16, listener: u16) -> bool {
        port == listener && self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

/// The running watches, by task.
pub(super) struct SourceWatches {
    local: Option<LocalIngest>,
    client: ClientOptions,
    probe: ProbeConfig,
    /// Where each account's probes may connect (the relays' policy).
    egress: Arc<EgressPolicy>,
    report: Report,
    watches: Arc<Mutex<HashMap<TaskId, Watch>>>,
    cancel: CancellationToken,
}

struct Watch {
    run: u64,
    stop: CancellationToken,
}

impl fmt::Debug for SourceWatches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceWatches")
            .field("local", &self.local.is_some())
            .field("watches", &self.count())
            .finish()
    }
}

impl SourceWatches {
    pub(super) fn new(
        local: Option<LocalIngest>,
        client: ClientOptions,
        probe: ProbeConfig,
        egress: Arc<EgressPolicy>,
        report: Report,
        cancel: CancellationToken,
    ) -> SourceWatches {
        SourceWatches {
            local,
            client,
            probe,
            egress,
            report,
            watches: Arc::new(Mutex::new(HashMap::new())),
            cancel,
        }
    }

    /// Watches `source` for run `run` of a task, replacing the task's previous watch. `hls`:
    /// the task names SourceProtocol=hls, so the source is a playlist whatever its URL's path
    /// (as the relay reads it).
    pub(super) fn watch(
        &self,
        account: &AccountId,
        id: &TaskId,
        run: u64,
        source: &str,
        hls: bool,
    ) {
        let stop = self.cancel.child_token();
        let how = match self
            .local
            .as_ref()
            .and_then(|l| Some((l, l.stream_of(source)?)))
        {
            Some((local, key)) => How::Hub(Arc::clone(&local.hub), key),
            None => match SourceUrl::parse_as(source, hls) {
                Ok(SourceUrl::Srt(url)) if url.is_listener() => {
                    debug!(task = %id, run, "SRT listener source not watched (the peer calls; the retry listens)");
                    return;
                }
                Ok(url) => How::Probe(url),
                // Not a source a relay could pull either: the retry at its time says so.
                Err(e) => {
                    debug!(task = %id, run, error = %e, "source not watched");
                    return;
                }
            },
        };
        info!(task = %id, run, source, via = how.name(), "watching the source for its return");
        let previous = self.lock().insert(
            id.clone(),
            Watch {
                run,
                stop: stop.clone(),
            },
        );
        if let Some(old) = previous {
            old.stop.cancel();
        }
        let (client, probe) = (self.client.clone(), self.probe.clone());
        let egress = Egress::new(Arc::clone(&self.egress), &account.0).with_tls(client.tls.clone());
        let (report, watches) = (Arc::clone(&self.report), Arc::clone(&self.watches));
        let (account, id) = (account.clone(), id.clone());
        tokio::spawn(async move {
            let back = async {
                match &how {
                    How::Hub(hub, key) => media_published(hub, key.clone()).await,
                    How::Probe(url) => wait_for_source(url, &client, &egress, &probe).await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                () = back => {}
            }
            {
                let mut watches = watches.lock().unwrap_or_else(|e| e.into_inner());
                if watches.get(&id).is_some_and(|w| w.run == run) {
                    watches.remove(&id);
                }
            }
            info!(task = %id, run, "the source is back; retrying now");
            report(account, id, Command::SourceBack { run }).await;
        });
    }

    /// Ends the watch of run `run` of a task, if it still runs.
    pub(super) fn unwatch(&self, id: &TaskId, run: u64) {
        let mut watches = self.lock();
        if watches.get(id).is_some_and(|w| w.run == run)
            && let Some(w) = watches.remove(id)
        {
            w.stop.cancel();
        }
    }

    /// The run whose source is watched for a task, if one is.
    pub(super) fn run_of(&self, id: &TaskId) -> Option<u64> {
        self.lock().get(id).map(|w| w.run)
    }

    /// Ends the task's watch, whatever its run (the node lost the task's lease).
    pub(super) fn forget(&self, id: &TaskId) {
        if let Some(w) = self.lock().remove(id) {
            w.stop.cancel();
        }
    }

    /// Watches running now.
    pub(super) fn count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, Watch>> {
        // Plain data: a panic while holding the lock leaves nothing half-done that matters.
        self.watches.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Completes at the first audio/video frame of `key` on the hub: the GOP cache if the stream
/// is live now, else the next publisher's. The subscription is the hub's ordinary one (bounded
/// queue, drop to keyframe; it shows as a subscriber of the stream while it waits) and
/// ends when this future does.
async fn media_published(hub: &Arc<StreamHub>, key: StreamKey) {
    let subscription = hub.subscribe(key);
    loop {
        if let StreamEvent::Frame(frame) = subscription.recv().await
            && !frame.config
            && (frame.is_video() || frame.is_audio())
        {
            return;
        }
    }
}

/// How a source is watched.
enum How {
    Hub(Arc<StreamHub>, StreamKey),
    Probe(SourceUrl),
}

impl How {
    fn name(&self) -> &'static str {
        match self {
            How::Hub(..) => "hub",
            How::Probe(..) => "probe",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_net::hub::HubConfig;

    fn local() -> LocalIngest {
        LocalIngest {
            hub: StreamHub::new(HubConfig::default()),
            hosts: vec!["127.0.0.1".into(), "::1".into(), "Live.Example.com".into()],
            rtmp_port: 1935,
            http_flv_port: 8081,
        }
    }

    #[test]
    fn sources_on_this_node_are_its_hub_streams() {
        let l = local();
        let key = |d: &str, s: &str| Some(StreamKey::new(d, "live", s));
        assert_eq!(
            l.stream_of("rtmp://127.0.0.1/live/a"),
            key("127.0.0.1", "a")
        );
        assert_eq!(
            l.stream_of("rtmp://live.example.com:1935/live/a?k=1"),
            key("live.example.com", "a")
        );
        assert_eq!(l.stream_of("rtmp://[::1]/live/a"), key("::1", "a"));
        assert_eq!(
            l.stream_of("http://127.0.0.1:8081/live/a.flv?vhost=v.example"),
            key("v.example", "a")
        );
        // Another port, another host, TLS, a playlist: not this node's ingest.
        assert_eq!(l.stream_of("rtmp://127.0.0.1:1936/live/a"), None);
        assert_eq!(l.stream_of("rtmp://origin.example/live/a"), None);
        assert_eq!(l.stream_of("rtmps://127.0.0.1/live/a"), None);
        assert_eq!(l.stream_of("http://127.0.0.1/live/a.flv"), None);
        assert_eq!(l.stream_of("https://127.0.0.1:8081/live/a.flv"), None);
        assert_eq!(l.stream_of("not a url"), None);
    }

    #[tokio::test]
    async fn an_srt_caller_is_probed_a_listener_is_not_watched() {
        let cancel = CancellationToken::new();
        let report: Report = Arc::new(|_, _, _| Box::pin(async {}));
        let watches = SourceWatches::new(
            None,
            ClientOptions::default(),
            ProbeConfig::default(),
            Arc::new(EgressPolicy::unrestricted()),
            report,
            cancel.clone(),
        );
        let account = AccountId("a".into());
        watches.watch(
            &account,
            &TaskId("listener".into()),
            1,
            "srt://:9000?mode=listener",
            false,
        );
        assert_eq!(watches.count(), 0);
        watches.watch(
            &account,
            &TaskId("caller".into()),
            1,
            "srt://127.0.0.1:9?streamid=a",
            false,
        );
        assert_eq!(watches.count(), 1);
        cancel.cancel();
    }
}
