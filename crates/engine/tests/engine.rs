//! The engine end to end under paused tokio time: tasks created in an in-memory store run
//! real relays over an in-memory network between Baton's own ingest streams.

use std::sync::Arc;
use std::time::Duration;

use baton_domain::{
    CallbackState, ErrorSide, ExitReason, InvalidReason, SourceProtocol, TaskSpec, TaskStatus,
};
use baton_net::testing::publish_test_stream;
use tokio::time::sleep;

mod support;
use support::{T0, acct, dst, engine, live_spec, world};

/// A live task whose callbacks go to a closed port.
fn spec(start: i64, end: i64) -> TaskSpec {
    TaskSpec {
        callback_url: Some("http://127.0.0.1:9/cb".into()),
        ..live_spec(start, end)
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_starts_runs_stops_restarts_and_exits_on_schedule() {
    let w = world();
    let engine = engine(&w).await;
    {
        let net = Arc::clone(&w.net);
        tokio::spawn(async move { publish_test_stream(&net, "rtmp://mem/live/src", 300, 0).await });
    }
    let task = engine
        .create(&acct(), spec(T0 + 10, T0 + 200))
        .await
        .unwrap();
    assert_eq!(task.runtime.status, TaskStatus::NotStarted);
    sleep(Duration::from_secs(5)).await;
    assert!(!w.hub.is_publishing(&dst()));

    sleep(Duration::from_secs(7)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Running);
    assert!(w.hub.is_publishing(&dst()), "relay pushes at StartTime");

    let t = engine.stop(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Stopped);
    sleep(Duration::from_millis(100)).await;
    assert!(!w.hub.is_publishing(&dst()), "stop ends the push");
    assert!(
        engine.stop(&acct(), &task.id).await.is_err(),
        "already stopped"
    );

    let t = engine.restart(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Running);
    sleep(Duration::from_secs(2)).await;
    assert!(w.hub.is_publishing(&dst()), "restart pushes again");

    sleep(Duration::from_secs(200)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Exited);
    assert_eq!(t.runtime.exit_reason, Some(ExitReason::OverEndTime));
    assert_eq!(t.runtime.exit_time, Some(T0 + 200));
    assert!(!w.hub.is_publishing(&dst()));

    let states: Vec<CallbackState> = w.store.events().iter().map(|e| e.state).collect();
    assert_eq!(
        states,
        vec![
            CallbackState::Running,
            CallbackState::Forwarding,
            CallbackState::Offline,
            CallbackState::Running,
            CallbackState::Forwarding,
            CallbackState::Exit
        ]
    );
    // The callbacks are the provider's: Forwarding is only recorded.
    let delivered: Vec<CallbackState> = w
        .store
        .events()
        .iter()
        .filter(|e| e.is_deliverable())
        .map(|e| e.state)
        .collect();
    assert_eq!(
        delivered,
        vec![
            CallbackState::Running,
            CallbackState::Offline,
            CallbackState::Running,
            CallbackState::Exit
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_source_is_retried_by_policy_then_stopped() {
    let w = world();
    let engine = engine(&w).await;
    let task = engine.create(&acct(), spec(T0, T0 + 3600)).await.unwrap();
    // The relay holds on for its 35 s grace period, then fails: 2, retry in 60 s.
    sleep(Duration::from_secs(37)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Abnormal);
    assert_eq!(
        t.runtime.invalid_reason,
        Some(InvalidReason::PullStreamFailed)
    );
    // Two retries of 35 s each, 60 s apart, then stopped with the reason.
    sleep(Duration::from_secs(200)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Stopped);
    assert_eq!(
        t.runtime.invalid_reason,
        Some(InvalidReason::PullStreamFailed)
    );
    assert_eq!(t.runtime.run, 3, "first run and two retries");
    // Why, and when: the last run's failure, at the engine's time.
    let error = t.runtime.last_error.expect("the last error");
    assert_eq!(
        (error.side, error.code.as_str()),
        (ErrorSide::Source, "Timeout")
    );
    assert!(error.message.starts_with("source: "), "{error:?}");
    assert!((T0 + 220..=T0 + 237).contains(&error.at), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_source_is_the_last_error_while_recovering_and_after() {
    let w = world();
    let engine = engine(&w).await;
    {
        let net = Arc::clone(&w.net);
        tokio::spawn(async move { publish_test_stream(&net, "rtmp://mem/live/src", 5, 0).await });
    }
    let task = engine.create(&acct(), spec(T0, T0 + 3600)).await.unwrap();
    sleep(Duration::from_secs(3)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Running);
    assert_eq!(t.runtime.last_error, None);

    // The publisher is gone after 5 s: the relay reconnects within its grace period.
    sleep(Duration::from_secs(4)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Abnormal);
    assert!(t.relay_alive(), "inside the relay's grace period");
    let recovering = t
        .runtime
        .last_error
        .expect("the error that took the source down");
    assert_eq!(
        (recovering.side, recovering.code.as_str()),
        (ErrorSide::Source, "Ended")
    );
    assert_eq!(
        recovering.message,
        "source: the source stream was unpublished"
    );
    // The publisher sends ahead of real time: it is done a little before 5 s.
    assert!((T0 + 3..=T0 + 7).contains(&recovering.at), "{recovering:?}");

    // The grace period runs out: the failure replaces it, and it stays through the retry.
    sleep(Duration::from_secs(35)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Abnormal);
    assert!(t.runtime.next_retry_at.is_some(), "waiting for a retry");
    let failed = t.runtime.last_error.expect("the failure");
    assert_eq!(failed.side, ErrorSide::Source);
    assert!(failed.at > recovering.at, "{failed:?} after {recovering:?}");
    let t = engine.stop(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.last_error, Some(failed), "kept when stopped");
}

#[tokio::test(start_paused = true)]
async fn a_restarted_engine_runs_what_should_be_running() {
    let w = world();
    {
        let net = Arc::clone(&w.net);
        tokio::spawn(async move { publish_test_stream(&net, "rtmp://mem/live/src", 300, 0).await });
    }
    let first = engine(&w).await;
    let task = first.create(&acct(), spec(T0, T0 + 3600)).await.unwrap();
    sleep(Duration::from_secs(2)).await;
    assert!(w.hub.is_publishing(&dst()));
    first.shutdown(Duration::from_secs(3)).await;
    drop(first);
    sleep(Duration::from_secs(1)).await;
    assert!(!w.hub.is_publishing(&dst()), "the old process is gone");

    let second = engine(&w).await;
    sleep(Duration::from_secs(2)).await;
    let t = second.get(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Running);
    assert!(
        w.hub.is_publishing(&dst()),
        "running again after the restart"
    );
}

#[tokio::test(start_paused = true)]
async fn unsupported_sources_are_refused_at_create() {
    let w = world();
    let engine = engine(&w).await;
    let mut s = spec(T0, T0 + 60);
    s.source_protocol = Some(SourceProtocol::Rtsp);
    s.source_urls = vec!["rtsps://mem/cam".into()];
    match engine.create(&acct(), s.clone()).await {
        Err(baton_engine::EngineError::Unsupported(u)) => assert_eq!(u.value, "rtsps"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    // SRT is built; its rendezvous mode is not, and is named with the URL.
    s.source_protocol = Some(SourceProtocol::Srt);
    s.source_urls = vec!["srt://mem:9000?mode=rendezvous".into()];
    match engine.create(&acct(), s.clone()).await {
        Err(baton_engine::EngineError::Unsupported(u)) => {
            assert_eq!(u.value, "srt://mem:9000?mode=rendezvous")
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    s.source_urls = vec!["srt://mem:9000?streamid=live/a".into()];
    engine
        .create(&acct(), s.clone())
        .await
        .expect("an SRT caller source");
    // RTMPS both ways (Facebook Live's form of destination).
    s.source_protocol = Some(SourceProtocol::Rtmp);
    s.source_urls = vec!["rtmps://mem/live/src".into()];
    s.dst_url = "rtmps://live-api-s.facebook.com:443/rtmp/key".into();
    engine
        .create(&acct(), s)
        .await
        .expect("an rtmps source and destination");
}
