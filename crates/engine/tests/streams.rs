//! Ingest control with paused time: forbid / resume / oneshot / ResumeTime expiry / quota /
//! domains / signed URLs, enforced on publishes from Baton's own RTMP client over an
//! in-memory network.

use std::sync::Arc;
use std::time::Duration;

use baton_domain::{AccountId, AppSelector, BlockQuery, Page, PublishAuth, StreamPath, UnixTime};
use baton_engine::testing::MemoryStore;
use baton_engine::{
    Clock, ControlError, DomainDirectory, StreamControl, StreamControlConfig, TokioClock,
};
use baton_net::hub::{HubConfig, StreamHub, StreamKey};
use baton_net::ingest::{Ingest, IngestConfig};
use baton_net::testing::{MemoryNetwork, publish_test_stream};
use tokio_util::sync::CancellationToken;

const T0: UnixTime = 1_795_305_600; // 2026-11-22T00:00:00Z
const DOMAIN: &str = "127.0.0.1";

/// `127.0.0.1` and `signed.example` belong to `acme`; `signed.example` needs signed URLs.
struct Directory;

impl DomainDirectory for Directory {
    fn owner(&self, domain: &str) -> Option<AccountId> {
        matches!(domain, "127.0.0.1" | "signed.example").then(acme)
    }
    fn publish_auth(&self, domain: &str) -> Option<PublishAuth> {
        (domain == "signed.example").then(|| PublishAuth {
            primary_key: "0123456789abcdef-key".into(),
            secondary_key: None,
            validity: 60,
        })
    }
}

fn acme() -> AccountId {
    AccountId("acme".into())
}

fn path(stream: &str) -> StreamPath {
    StreamPath::new(DOMAIN, "live", stream)
}

struct Node {
    store: Arc<MemoryStore>,
    clock: Arc<TokioClock>,
    hub: Arc<StreamHub>,
    control: StreamControl,
    net: Arc<MemoryNetwork>,
}

async fn node_with(store: Arc<MemoryStore>, config: StreamControlConfig) -> Node {
    let clock = Arc::new(TokioClock::starting_at(T0));
    let hub = StreamHub::new(HubConfig::default());
    let control = StreamControl::start(
        store.clone(),
        clock.clone(),
        Arc::new(Directory),
        Arc::clone(&hub),
        config,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let ingest = Ingest::new(
        IngestConfig::default(),
        Arc::clone(&hub),
        Arc::new(control.clone()),
    );
    let net = MemoryNetwork::new(ingest);
    Node {
        store,
        clock,
        hub,
        control,
        net,
    }
}

async fn node() -> Node {
    node_with(
        Arc::new(MemoryStore::default()),
        StreamControlConfig::default(),
    )
    .await
}

impl Node {
    /// Publishes for `seconds`; Err when the server refuses the publish.
    async fn publish(&self, url: &str, seconds: u32) -> Result<usize, String> {
        publish_test_stream(&self.net, url, seconds, 0)
            .await
            .map_err(|e| e.to_string())
    }

    /// Starts a 60 s publish in the background; returns once the hub has it.
    async fn publishing(&self, stream: &str) -> tokio::task::JoinHandle<Result<usize, String>> {
        let net = Arc::clone(&self.net);
        let url = format!("rtmp://{DOMAIN}/live/{stream}");
        let task = tokio::spawn(async move {
            publish_test_stream(&net, &url, 60, 0)
                .await
                .map_err(|e| e.to_string())
        });
        let key = StreamKey::new(DOMAIN, "live", stream);
        for _ in 0..100 {
            if self.hub.is_publishing(&key) {
                return task;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{stream} never published");
    }
}

#[tokio::test(start_paused = true)]
async fn forbid_disconnects_within_a_second_and_refuses_until_resumed() {
    let n = node().await;
    let publisher = n.publishing("s").await;
    let started = tokio::time::Instant::now();
    n.control
        .forbid(&acme(), path("s"), None, false)
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(1), publisher)
        .await
        .expect("the publisher was not disconnected within 1 s")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    // It ends early: 60 s were planned.
    assert!(
        ended.as_ref().map_or(true, |&frames| frames < 60 * 30),
        "{ended:?}"
    );
    assert!(!n.hub.is_publishing(&StreamKey::new(DOMAIN, "live", "s")));

    // Every new attempt is refused during `publish`, before any media.
    let err = n.publish("rtmp://127.0.0.1/live/s", 1).await.unwrap_err();
    assert!(err.contains("NetStream.Publish.Denied"), "{err}");
    assert!(
        err.contains("forbidden until 2027-05-22T00:00:00Z"),
        "{err}"
    );
    // Other streams are not affected.
    assert_eq!(n.publish("rtmp://127.0.0.1/live/other", 1).await, Ok(31));

    let resumed = n
        .control
        .resume(&acme(), DOMAIN, &AppSelector::Named("live".into()), "s")
        .await
        .unwrap();
    assert_eq!(resumed, vec![path("s")]);
    assert_eq!(n.publish("rtmp://127.0.0.1/live/s", 1).await, Ok(31));
}

#[tokio::test(start_paused = true)]
async fn oneshot_only_kicks() {
    let n = node().await;
    let publisher = n.publishing("s").await;
    n.control
        .forbid(&acme(), path("s"), None, true)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(1), publisher)
        .await
        .expect("kicked within 1 s")
        .unwrap()
        .ok();
    assert_eq!(n.publish("rtmp://127.0.0.1/live/s", 1).await, Ok(31));
    let list = n
        .control
        .block_list(
            &acme(),
            DOMAIN,
            Page {
                number: 1,
                size: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(list.total, 0);
}

#[tokio::test(start_paused = true)]
async fn resume_time_lifts_the_block_by_itself() {
    let n = node().await;
    let resume_at = n.clock.now() + 2;
    n.control
        .forbid(&acme(), path("s"), Some(resume_at), false)
        .await
        .unwrap();
    assert!(n.publish("rtmp://127.0.0.1/live/s", 1).await.is_err());
    assert_eq!(n.control.blocked_until(&path("s")), Some(resume_at));
    tokio::time::sleep_until(n.clock.instant_at(resume_at)).await;
    assert_eq!(n.control.blocked_until(&path("s")), None);
    assert_eq!(n.publish("rtmp://127.0.0.1/live/s", 1).await, Ok(31));
    let list = n
        .control
        .block_list(
            &acme(),
            DOMAIN,
            Page {
                number: 1,
                size: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(list.total, 0, "an expired block is not listed");

    // ResumeTime must be in the future.
    let now = n.clock.now();
    for at in [now, now - 10] {
        let e = n.control.forbid(&acme(), path("t"), Some(at), false).await;
        assert!(matches!(e, Err(ControlError::ResumeTimeInPast)), "{e:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn blocks_survive_a_restart_and_expired_ones_are_purged() {
    let store = Arc::new(MemoryStore::default());
    let config = StreamControlConfig {
        purge_interval: Duration::from_secs(5),
        ..StreamControlConfig::default()
    };
    let n = node_with(Arc::clone(&store), config.clone()).await;
    let soon = n.clock.now() + 3;
    n.control
        .forbid(&acme(), path("long"), None, false)
        .await
        .unwrap();
    n.control
        .forbid(&acme(), path("soon"), Some(soon), false)
        .await
        .unwrap();
    drop(n);

    let again = node_with(Arc::clone(&store), config).await;
    assert!(again.control.blocked_until(&path("long")).is_some());
    assert_eq!(again.control.blocked_until(&path("soon")), Some(soon));
    assert!(
        again
            .publish("rtmp://127.0.0.1/live/long", 1)
            .await
            .is_err()
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    use baton_domain::BlockStore;
    let now = again.clock.now();
    let active = again.store.active_blocks(now - 100).await.unwrap();
    assert_eq!(
        active
            .iter()
            .map(|b| b.path.stream.as_str())
            .collect::<Vec<_>>(),
        ["long"],
        "the expired block was purged from the store"
    );
}

#[tokio::test(start_paused = true)]
async fn domains_quota_and_listing() {
    let config = StreamControlConfig {
        max_blocks: 3,
        ..StreamControlConfig::default()
    };
    let n = node_with(Arc::new(MemoryStore::default()), config).await;
    let other = AccountId("other".into());
    let e = n.control.forbid(&other, path("s"), None, false).await;
    assert!(
        matches!(e, Err(ControlError::DomainNotOwned(ref d)) if d == DOMAIN),
        "{e:?}"
    );
    let e = n
        .control
        .forbid(
            &acme(),
            StreamPath::new("nobody.example", "live", "s"),
            None,
            false,
        )
        .await;
    assert!(matches!(e, Err(ControlError::DomainNotOwned(_))), "{e:?}");
    assert!(matches!(
        n.control
            .resume(&other, DOMAIN, &AppSelector::All, "s")
            .await,
        Err(ControlError::DomainNotOwned(_))
    ));
    assert!(matches!(
        n.control
            .block_list(
                &other,
                DOMAIN,
                Page {
                    number: 1,
                    size: 10
                }
            )
            .await,
        Err(ControlError::DomainNotOwned(_))
    ));
    // A domain nobody owns cannot be published to.
    let err = n
        .publish("rtmp://nobody.example/live/s", 1)
        .await
        .unwrap_err();
    assert!(err.contains("not served here"), "{err}");

    for (app, stream) in [("live", "b"), ("live", "a"), ("app2", "a")] {
        let p = StreamPath::new(DOMAIN, app, stream);
        n.control.forbid(&acme(), p, None, false).await.unwrap();
    }
    let e = n.control.forbid(&acme(), path("c"), None, false).await;
    assert!(
        matches!(e, Err(ControlError::QuotaExceeded { limit: 3 })),
        "{e:?}"
    );
    // Forbidding a stream that is forbidden already is not a new block.
    n.control
        .forbid(&acme(), path("a"), None, false)
        .await
        .unwrap();

    let page = |number| Page { number, size: 2 };
    let first = n
        .control
        .block_list(&acme(), DOMAIN, page(1))
        .await
        .unwrap();
    let second = n
        .control
        .block_list(&acme(), DOMAIN, page(2))
        .await
        .unwrap();
    let names = |l: &baton_domain::BlockList| {
        l.blocks
            .iter()
            .map(|b| b.path.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!((first.total, second.total), (3, 3));
    assert_eq!(names(&first), ["127.0.0.1/app2/a", "127.0.0.1/live/a"]);
    assert_eq!(names(&second), ["127.0.0.1/live/b"]);

    // AppName `*`: stream `a` in every app.
    let resumed = n
        .control
        .resume(&acme(), DOMAIN, &AppSelector::All, "a")
        .await
        .unwrap();
    assert_eq!(resumed.len(), 2);
    assert!(n.publish("rtmp://127.0.0.1/app2/a", 1).await.is_ok());
    assert!(n.publish("rtmp://127.0.0.1/live/b", 1).await.is_err());
}

/// Search: the account's blocks active at the control's clock, on any of its domains, the
/// query's domain lower-cased first.
#[tokio::test(start_paused = true)]
async fn search_lists_the_accounts_active_blocks() {
    let n = node().await;
    let now = n.clock.now();
    let signed = StreamPath::new("signed.example", "live", "show-3");
    for (p, resume_at) in [
        (path("Show-1"), Some(now + 100)),
        (path("show-2"), Some(now + 10)),
        (signed, None),
        (path("other"), Some(now + 5)),
    ] {
        n.control
            .forbid(&acme(), p, resume_at, false)
            .await
            .unwrap();
    }
    let page = Page {
        number: 1,
        size: 10,
    };
    let names = |l: &baton_domain::BlockList| {
        l.blocks
            .iter()
            .map(|b| b.path.to_string())
            .collect::<Vec<_>>()
    };
    let shows = BlockQuery {
        stream: Some("SHOW".into()),
        fuzzy: true,
        ..BlockQuery::default()
    };
    let found = n.control.search(&acme(), &shows, page).await.unwrap();
    assert_eq!(found.total, 3);
    assert_eq!(
        names(&found),
        [
            "127.0.0.1/live/show-2",
            "127.0.0.1/live/Show-1",
            "signed.example/live/show-3"
        ]
    );
    let newest_first = BlockQuery {
        newest_end_first: true,
        ..shows.clone()
    };
    let found = n
        .control
        .search(&acme(), &newest_first, page)
        .await
        .unwrap();
    assert_eq!(names(&found)[0], "signed.example/live/show-3");
    let on_signed = BlockQuery {
        domain: Some("SIGNED.Example".into()),
        ..BlockQuery::default()
    };
    let found = n.control.search(&acme(), &on_signed, page).await.unwrap();
    assert_eq!(names(&found), ["signed.example/live/show-3"]);

    // The clock decides what is active: at now + 10, `other` and `show-2` have ended.
    tokio::time::sleep_until(n.clock.instant_at(now + 10)).await;
    let all = n
        .control
        .search(&acme(), &BlockQuery::default(), page)
        .await
        .unwrap();
    assert_eq!(
        names(&all),
        ["127.0.0.1/live/Show-1", "signed.example/live/show-3"]
    );
    let other = AccountId("other".into());
    let none = n
        .control
        .search(&other, &BlockQuery::default(), page)
        .await
        .unwrap();
    assert_eq!(none.total, 0);
}

#[tokio::test(start_paused = true)]
async fn signed_publish_urls() {
    let n = node().await;
    let auth = Directory.publish_auth("signed.example").unwrap();
    let now = n.clock.now();
    let url = |key: &str| format!("rtmp://signed.example/live/s?auth_key={key}");

    let good = auth.sign("live", "s", now, "0", "0");
    assert_eq!(n.publish(&url(&good), 1).await, Ok(31));
    // In the tcUrl's query instead of the stream's (some encoders put it there).
    let tc = format!("rtmp://signed.example/live?auth_key={good}/s");
    assert_eq!(n.publish(&tc, 1).await, Ok(31));

    let unsigned = n
        .publish("rtmp://signed.example/live/s", 1)
        .await
        .unwrap_err();
    assert!(unsigned.contains("no auth_key"), "{unsigned}");
    let other_stream = auth.sign("live", "t", now, "0", "0");
    let tampered = n.publish(&url(&other_stream), 1).await.unwrap_err();
    assert!(tampered.contains("does not match"), "{tampered}");
    let old = auth.sign("live", "s", now - 61, "0", "0");
    let expired = n.publish(&url(&old), 1).await.unwrap_err();
    assert!(expired.contains("expired"), "{expired}");
    // Valid for `validity` seconds after its timestamp.
    let fresh = auth.sign("live", "s", n.clock.now(), "0", "0");
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert!(n.publish(&url(&fresh), 1).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn live_shows_the_owners_streams_with_origin_codecs_and_rates_until_they_end() {
    let n = node().await;
    let publisher = n.publishing("s").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let live = n.control.live(Some(&acme()));
    assert_eq!(live.len(), 1, "{live:?}");
    let s = &live[0];
    assert_eq!(s.path, path("s"));
    let publish = s.info.publish.as_ref().unwrap();
    let origin = publish.origin.unwrap();
    assert_eq!(origin.protocol.as_str(), "rtmp");
    assert!(s.started_at.unwrap() >= T0 && s.started_at.unwrap() <= n.clock.now() - 2);
    assert_eq!(publish.video.as_ref().unwrap().codec, "h264");
    let audio = publish.audio.as_ref().unwrap();
    assert_eq!((audio.codec, audio.sample_rate), ("aac", Some(44100)));
    assert!((publish.fps - 30.0).abs() < 2.0, "{}", publish.fps);
    assert!(publish.bitrate_bps > 0);
    assert_eq!(s.forbidden_until, None);
    // Another account sees nothing; the operator sees everything.
    assert!(n.control.live(Some(&AccountId("other".into()))).is_empty());
    assert_eq!(n.control.live(None).len(), 1);
    // A forbidden stream says until when, and its publish is gone.
    n.control
        .forbid(&acme(), path("s"), Some(T0 + 3600), false)
        .await
        .unwrap();
    let _ = publisher.await;
    assert!(n.control.live(None).is_empty(), "no publisher, no players");
    let _player = n.hub.subscribe(StreamKey::new(DOMAIN, "live", "s"));
    let live = n.control.live(Some(&acme()));
    assert_eq!(live[0].forbidden_until, Some(T0 + 3600));
    assert!(!live[0].info.publishing && live[0].started_at.is_none());
    assert_eq!(live[0].info.subscribers, 1);
}

/// Two nodes on one store (as on one PostgreSQL database): a forbid through A reaches B's
/// publisher at B's next reload — the notice's entry point — within 1 s of it; B refuses the
/// stream until a resume through A is reloaded; reloading again changes nothing. A one-shot
/// kick through A reaches B only through `kick_local` (it stores nothing).
#[tokio::test(start_paused = true)]
async fn a_forbid_through_one_node_kicks_the_publisher_on_another_after_a_reload() {
    let store = Arc::new(MemoryStore::default());
    let a = node_with(Arc::clone(&store), StreamControlConfig::default()).await;
    let b = node_with(Arc::clone(&store), StreamControlConfig::default()).await;
    let publisher = b.publishing("s").await;

    a.control
        .forbid(&acme(), path("s"), None, false)
        .await
        .unwrap();
    // A has no publisher of it; B does not know yet.
    assert!(b.control.blocked_until(&path("s")).is_none());
    assert!(b.hub.is_publishing(&StreamKey::new(DOMAIN, "live", "s")));

    let started = tokio::time::Instant::now();
    assert_eq!(b.control.reload_blocks().await.unwrap(), 1);
    tokio::time::timeout(Duration::from_secs(1), publisher)
        .await
        .expect("B's publisher was not disconnected within 1 s of the reload")
        .unwrap()
        .ok();
    assert!(started.elapsed() < Duration::from_secs(1));
    let err = b.publish("rtmp://127.0.0.1/live/s", 1).await.unwrap_err();
    assert!(err.contains("NetStream.Publish.Denied"), "{err}");
    // Idempotent: nothing changed, nobody kicked, still forbidden.
    assert_eq!(b.control.reload_blocks().await.unwrap(), 1);
    assert!(b.control.blocked_until(&path("s")).is_some());

    a.control
        .resume(&acme(), DOMAIN, &AppSelector::Named("live".into()), "s")
        .await
        .unwrap();
    assert_eq!(b.control.reload_blocks().await.unwrap(), 0);
    assert_eq!(b.publish("rtmp://127.0.0.1/live/s", 1).await, Ok(31));

    // A one-shot kick: the notice calls B's kick_local.
    let publisher = b.publishing("k").await;
    a.control
        .forbid(&acme(), path("k"), None, true)
        .await
        .unwrap();
    assert_eq!(b.control.reload_blocks().await.unwrap(), 0);
    assert!(b.hub.is_publishing(&StreamKey::new(DOMAIN, "live", "k")));
    assert!(b.control.kick_local(&path("k")));
    tokio::time::timeout(Duration::from_secs(1), publisher)
        .await
        .expect("kicked within 1 s")
        .unwrap()
        .ok();
    assert!(!b.control.kick_local(&path("k")));
}

/// Without any notice, a node re-reads the blocks every `reload_interval`: a forbid through
/// another node kicks its publisher within that interval (and 1 s).
#[tokio::test(start_paused = true)]
async fn blocks_are_reloaded_every_interval_without_a_notice() {
    let store = Arc::new(MemoryStore::default());
    let config = StreamControlConfig {
        reload_interval: Some(Duration::from_millis(500)),
        ..StreamControlConfig::default()
    };
    let a = node_with(Arc::clone(&store), config.clone()).await;
    let b = node_with(Arc::clone(&store), config).await;
    let publisher = b.publishing("s").await;
    let started = tokio::time::Instant::now();
    a.control
        .forbid(&acme(), path("s"), None, false)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(1), publisher)
        .await
        .expect("B's publisher was not disconnected within 1 s by the polling reload")
        .unwrap()
        .ok();
    assert!(
        started.elapsed() <= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert!(b.control.blocked_until(&path("s")).is_some());
    // A resume through A: B lets it publish again by the next reload.
    a.control
        .resume(&acme(), DOMAIN, &AppSelector::Named("live".into()), "s")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(b.control.blocked_until(&path("s")).is_none());
    assert_eq!(b.publish("rtmp://127.0.0.1/live/s", 1).await, Ok(31));
}
