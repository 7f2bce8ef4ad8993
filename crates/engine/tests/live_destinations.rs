//! Issue 16: a running task's extra destinations changed by a patch, through the whole engine
//! under paused tokio time. An added one gets the stream while the others keep their ONE
//! session each; a removed one is closed, the others undisturbed; a re-ordered list changes
//! nothing (a destination is known by its URL). A patch that would change the first
//! destination, or add one the engine cannot push to, is refused and nothing is written.

use std::sync::Arc;
use std::time::Duration;

use baton_domain::{Field, Rejection, Task, TaskPatch, TaskStatus};
use baton_engine::{Engine, EngineError};
use baton_net::hub::StreamKey;
use baton_net::testing::publish_test_stream;
use baton_relay::RelayStatus;
use tokio::time::sleep;

mod support;
use support::{T0, World, acct, engine, live_spec, world};

const A: &str = "rtmp://mem/live/a";
const B: &str = "rtmp://mem/live/b";
const C: &str = "rtmp://mem/live/c";

fn key(name: &str) -> StreamKey {
    StreamKey::new("mem", "live", name)
}

/// A running task from `rtmp://mem/live/src` (published for 60 s) to A and B, forwarding.
async fn running_to_a_and_b(w: &World, engine: &Engine) -> Task {
    let net = Arc::clone(&w.net);
    tokio::spawn(async move {
        let _ = publish_test_stream(&net, "rtmp://mem/live/src", 60, 0).await;
    });
    let mut spec = live_spec(T0, T0 + 3600);
    spec.dst_url = A.into();
    spec.extra_dst_urls = vec![B.into()];
    let task = engine.create(&acct(), spec).await.unwrap();
    sleep(Duration::from_secs(4)).await;
    assert!(w.hub.is_publishing(&key("a")) && w.hub.is_publishing(&key("b")));
    engine.get(&acct(), &task.id).await.unwrap()
}

fn extras(urls: &[&str]) -> TaskPatch {
    TaskPatch {
        extra_dst_urls: Some(urls.iter().map(|u| u.to_string()).collect()),
        ..TaskPatch::default()
    }
}

/// Each destination of the relay: (URL, sessions opened, frames sent).
fn sessions(relay: &RelayStatus) -> Vec<(String, u64, u64)> {
    relay
        .destinations
        .iter()
        .map(|d| (d.url.clone(), d.sessions, d.frames_out))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_destination_added_to_a_running_task_gets_the_stream_and_the_others_keep_their_session() {
    let w = world();
    let engine = engine(&w).await;
    let task = running_to_a_and_b(&w, &engine).await;
    let before = engine.relay_status(&task.id).expect("the relay runs");

    let patched = engine
        .update(&acct(), &task.id, extras(&[B, C]))
        .await
        .unwrap();
    assert_eq!(patched.spec.extra_dst_urls, [B, C]);
    assert_eq!(
        patched.runtime.run, task.runtime.run,
        "the same run goes on"
    );
    sleep(Duration::from_secs(4)).await;
    assert!(w.hub.is_publishing(&key("c")), "C receives the stream");
    let relay = engine.relay_status(&task.id).expect("the relay runs");
    let now = sessions(&relay);
    assert_eq!(
        now.iter()
            .map(|(u, s, _)| (u.as_str(), *s))
            .collect::<Vec<_>>(),
        [(A, 1), (B, 1), (C, 1)],
        "one session each: A and B were not reconnected"
    );
    assert!(now[2].2 > 0, "C got frames: {now:?}");
    // A and B kept forwarding all along.
    for (i, (_, _, frames)) in sessions(&before).into_iter().enumerate() {
        assert!(now[i].2 > frames, "{now:?}");
    }

    // The same destinations in another order: nothing changes (known by URL).
    engine
        .update(&acct(), &task.id, extras(&[C, B]))
        .await
        .unwrap();
    sleep(Duration::from_secs(1)).await;
    let relay = engine.relay_status(&task.id).expect("the relay runs");
    let ids: Vec<u32> = relay.destinations.iter().map(|d| d.id.0).collect();
    assert_eq!(ids, [0, 1, 2]);
    assert!(sessions(&relay).iter().all(|(_, s, _)| *s == 1));
    let stored = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(stored.runtime.status, TaskStatus::Running);
    assert_eq!(stored.spec.extra_dst_urls, [C, B]);
}

#[tokio::test(start_paused = true)]
async fn a_destination_removed_from_a_running_task_is_closed_and_the_others_go_on() {
    let w = world();
    let engine = engine(&w).await;
    let task = running_to_a_and_b(&w, &engine).await;
    engine
        .update(&acct(), &task.id, extras(&[B, C]))
        .await
        .unwrap();
    sleep(Duration::from_secs(3)).await;
    let before = engine.relay_status(&task.id).expect("the relay runs");

    engine
        .update(&acct(), &task.id, extras(&[C]))
        .await
        .unwrap();
    sleep(Duration::from_secs(3)).await;
    assert!(!w.hub.is_publishing(&key("b")), "B's session closed");
    assert!(w.hub.is_publishing(&key("a")) && w.hub.is_publishing(&key("c")));
    let relay = engine.relay_status(&task.id).expect("the relay runs");
    let now = sessions(&relay);
    assert_eq!(
        now.iter()
            .map(|(u, s, _)| (u.as_str(), *s))
            .collect::<Vec<_>>(),
        [(A, 1), (C, 1)]
    );
    assert!(now[0].2 > before.destinations[0].frames_out, "A goes on");
    assert!(now[1].2 > before.destinations[2].frames_out, "C goes on");

    // All extras gone: A alone, still its first session.
    engine.update(&acct(), &task.id, extras(&[])).await.unwrap();
    sleep(Duration::from_secs(2)).await;
    assert!(!w.hub.is_publishing(&key("c")));
    let relay = engine.relay_status(&task.id).expect("the relay runs");
    assert_eq!(sessions(&relay).len(), 1);
    assert_eq!(relay.destinations[0].sessions, 1);
    assert_eq!(
        engine.get(&acct(), &task.id).await.unwrap().runtime.status,
        TaskStatus::Running
    );
}

#[tokio::test(start_paused = true)]
async fn a_patch_a_running_task_cannot_carry_out_is_refused_and_nothing_is_written() {
    let w = world();
    let engine = engine(&w).await;
    let task = running_to_a_and_b(&w, &engine).await;

    // The first destination: the dialects' rule, even with the extras.
    let first = TaskPatch {
        dst_url: Some("rtmp://mem/live/z".into()),
        ..extras(&[B, C])
    };
    let refused = engine.update(&acct(), &task.id, first).await.unwrap_err();
    assert!(
        matches!(
            refused,
            EngineError::Rejected(Rejection::TaskHasStarted(Field::DstUrl))
        ),
        "{refused:?}"
    );
    // An SRT option Baton does not build, and an SRT passphrase too short to be one.
    let unbuilt = engine
        .update(
            &acct(),
            &task.id,
            extras(&[B, "srt://c:9000?mode=rendezvous"]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&unbuilt, EngineError::Unsupported(u) if u.field == Field::ExtraDstUrls),
        "{unbuilt:?}"
    );
    let invalid = engine
        .update(
            &acct(),
            &task.id,
            extras(&[B, "srt://c:9000?passphrase=short"]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &invalid,
            EngineError::Rejected(Rejection::Invalid {
                field: Field::ExtraDstUrls,
                ..
            })
        ),
        "{invalid:?}"
    );

    sleep(Duration::from_secs(2)).await;
    let stored = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(stored.version, task.version, "nothing written");
    assert_eq!(stored.spec, task.spec);
    let relay = engine.relay_status(&task.id).expect("the relay runs");
    assert_eq!(
        sessions(&relay)
            .iter()
            .map(|(u, s, _)| (u.as_str(), *s))
            .collect::<Vec<_>>(),
        [(A, 1), (B, 1)]
    );
    assert!(!w.hub.is_publishing(&key("z")));
}
