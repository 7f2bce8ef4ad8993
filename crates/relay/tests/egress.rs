//! A relay's source side goes only where its account's egress allows: a refused RTMP,
//! HTTP-FLV or playlist source fails the relay at once (not retried: nothing changes by
//! retrying) with the refusal as its error, and nothing is dialled.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use baton_net::client::ClientOptions;
use baton_net::egress::{Egress, EgressPolicy, EgressRules, parse_net};
use baton_net::ingest::AllowAll;
use baton_net::testing::{MemoryNetwork, test_flv_file};
use baton_relay::{
    ErrorKind, ItemNoteKind, PlayerConfig, Playlist, Relay, RelayConfig, RelayError, RelayState,
    Side,
};
use tokio::time::Instant;

/// In a network acme may reach (the in-memory network serves every host).
const DST: &str = "rtmp://10.1.1.1/live/dst";

fn net() -> Arc<MemoryNetwork> {
    MemoryNetwork::with_default_ingest(Arc::new(AllowAll)).0
}

/// Root with the defaults; `acme` may reach 10.0.0.0/8 besides public addresses.
fn egress(account: &str) -> Egress {
    let acme = EgressRules {
        allow: vec![parse_net("10.0.0.0/8").unwrap()],
        ..EgressRules::default()
    };
    let policy = EgressPolicy::new(
        Some("root"),
        EgressRules::default(),
        HashMap::from([("acme".to_string(), acme)]),
    );
    Egress::new(Arc::new(policy), account)
}

fn config(net: &Arc<MemoryNetwork>, source: &str, account: &str) -> RelayConfig {
    let mut config = RelayConfig::new(source, DST);
    config.client = ClientOptions {
        dialer: Arc::new(Arc::clone(net)),
        ..ClientOptions::default()
    };
    config.jitter_seed = Some(3);
    config.egress = egress(account);
    config
}

fn assert_refused(e: &RelayError, what: &str) {
    assert_eq!(
        (e.side, e.kind),
        (Side::Source, ErrorKind::EgressDenied),
        "{e}"
    );
    assert!(!e.retryable, "{e}");
    assert!(e.message.contains("egress refused"), "{e}");
    assert!(e.message.contains(what), "{e}");
}

#[tokio::test(start_paused = true)]
async fn a_refused_rtmp_source_fails_at_once_without_dialling() {
    let net = net();
    let started = Instant::now();
    for (source, what) in [
        ("rtmp://127.0.0.1/live/src", "loopback"),
        ("rtmp://[::ffff:127.0.0.1]:1935/live/src", "127.0.0.1:1935"),
        ("rtmp://169.254.169.254/live/src", "169.254.0.0/16"),
        ("rtmp://0.0.0.0/live/src", "unspecified"),
    ] {
        let relay = Relay::spawn(config(&net, source, "acme")).unwrap();
        assert_refused(&relay.wait().await.unwrap_err(), what);
    }
    assert!(started.elapsed() < Duration::from_secs(1), "retried");
    assert_eq!(net.dials(), 0, "a refused source was dialled");
    // The address the account may reach is dialled (the in-memory network stands for it).
    let relay = Relay::spawn(config(&net, "rtmp://10.0.0.1/live/src", "acme")).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(net.dials(), 1);
    relay.stop();
    assert_eq!(relay.wait().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_refused_http_flv_source_fails_at_once() {
    let net = net();
    for (source, account, what) in [
        ("http://127.0.0.1:8081/live/s.flv", "acme", "loopback"),
        (
            "http://169.254.169.254/latest/meta-data",
            "root",
            "169.254.0.0/16",
        ),
        (
            "https://[fd00:ec2::254]/latest",
            "root",
            "fd00:ec2::254/128",
        ),
    ] {
        let relay = Relay::spawn(config(&net, source, account)).unwrap();
        let status = relay.status_cell();
        assert_refused(&relay.wait().await.unwrap_err(), what);
        let last = status.snapshot().last_error.expect("recorded");
        assert_eq!(last.error.kind, ErrorKind::EgressDenied);
        assert_eq!(status.snapshot().state, RelayState::Failed);
    }
}

#[tokio::test(start_paused = true)]
async fn refused_playlist_items_are_skipped_and_a_list_of_them_fails() {
    let net = net();
    let memory = Arc::new(HashMap::from([(
        "a".to_string(),
        test_flv_file(1, 30, 0x64, 1),
    )]));
    let play = |items: &[&str]| {
        let items = items.iter().map(|s| s.to_string()).collect();
        let playlist = Playlist::new(items, 0, 0, 0, 0).unwrap();
        let mut config = config(&net, "playlist", "acme");
        let player = PlayerConfig {
            memory: Arc::clone(&memory),
            ..PlayerConfig::default()
        };
        config.playlist = Some((Arc::clone(&playlist), player));
        (Relay::spawn(config).unwrap(), playlist)
    };
    let (relay, playlist) = play(&["http://127.0.0.1:8080/a.mp4", "mem:a"]);
    assert_eq!(relay.wait().await, Ok(()));
    let notes = playlist.take_notes();
    let skipped = &notes[0];
    assert_eq!(
        (skipped.kind, skipped.file_index),
        (ItemNoteKind::Skipped, 0)
    );
    let detail = skipped.detail.as_deref().unwrap();
    assert!(
        detail.starts_with("egress refused: 127.0.0.1:8080 is a loopback address"),
        "{detail}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.kind == ItemNoteKind::Finished && n.file_index == 1)
    );

    let (relay, _) = play(&[
        "http://127.0.0.1:8080/a.mp4",
        "http://[::ffff:a9fe:a9fe]/b.flv",
    ]);
    let e = relay.wait().await.unwrap_err();
    assert_refused(&e, "no item of the playlist");
    assert!(e.message.contains("169.254.0.0/16"), "{e}");
}
