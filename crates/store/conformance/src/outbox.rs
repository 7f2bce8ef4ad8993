//! Checks of the callback outbox and of purge.

use baton_domain::{
    AccountId, CallbackEvent, CallbackState, ExitReason, InvalidReason, ItemEvent, ItemEventKind,
    Purged, TaskId, TaskStore,
};

use crate::fixtures::{event, exited, task};

async fn due_ids(store: &dyn TaskStore, now: i64, limit: u32) -> Vec<String> {
    store
        .due_events(now, limit)
        .await
        .expect("due events")
        .into_iter()
        .map(|e| e.event.id)
        .collect()
}

/// Every event field comes back as stored, with 0 attempts and due at the event's time.
pub async fn outbox_round_trips_every_field(store: &dyn TaskStore) {
    let t = task("acc", "ev", 1);
    let mut events = Vec::new();
    for (i, state) in CallbackState::ALL.into_iter().enumerate() {
        let mut e = event(&t, i as u64 + 1, 100 + i as i64);
        e.state = state;
        events.push(e);
    }
    events[1].reason = Some(InvalidReason::PullStreamFailed);
    events[2].reason = Some(InvalidReason::UnknownError);
    events[3].exit_reason = Some(ExitReason::TriggerByUser);
    for (i, kind) in ItemEventKind::ALL.into_iter().enumerate() {
        let mut e = event(&t, 10 + i as u64, 200 + i as i64);
        e.item = Some(ItemEvent {
            kind,
            file_index: [0, 7, u32::MAX, 29][i],
            source: ["https://cdn/a.mp4", "/srv/b.flv", "media-id", ""][i].into(),
            detail: (i == 2).then(|| "unsupported codec \"mp4v\" — 名前".into()),
        });
        events.push(e);
    }
    let mut odd = event(&t, i64::MAX as u64, -5);
    odd.task_name = "名前 with 'quotes' and %_".into();
    odd.url = "https://cb.example/hook?a=b&c=%20".into();
    odd.account = AccountId("acc-2".into());
    odd.task_id = TaskId("not-the-same-task".into());
    odd.reason = Some(InvalidReason::PushStreamFailed);
    odd.exit_reason = Some(ExitReason::OverEndTime);
    events.push(odd);
    store.insert(&t, &events).await.expect("insert");

    let due = store.due_events(i64::MAX, 100).await.expect("due");
    let mut expected = events.clone();
    expected.sort_by_key(|e| e.time);
    let got: Vec<&CallbackEvent> = due.iter().map(|d| &d.event).collect();
    assert_eq!(got, expected.iter().collect::<Vec<_>>());
    for d in &due {
        assert_eq!((d.attempts, d.next_attempt_at), (0, d.event.time));
    }
}

/// Earliest due first, then in the order stored; not before they are due; at most `limit`.
pub async fn due_events_in_order(store: &dyn TaskStore) {
    let a = task("acc", "a", 1);
    let b = task("acc", "b", 2);
    // Stored in this order: a.1 @10, a.2 @10, b.1 @5, b.2 @10, a.3 @20.
    store
        .insert(&a, &[event(&a, 1, 10), event(&a, 2, 10)])
        .await
        .expect("insert");
    store
        .insert(&b, &[event(&b, 1, 5), event(&b, 2, 10)])
        .await
        .expect("insert");
    let mut a2 = a.clone();
    a2.version = 2;
    store
        .update(&a2, 1, &[event(&a, 3, 20)])
        .await
        .expect("update");

    assert_eq!(due_ids(store, 4, 10).await, Vec::<String>::new());
    assert_eq!(due_ids(store, 5, 10).await, ["b.1"]);
    assert_eq!(due_ids(store, 19, 10).await, ["b.1", "a.1", "a.2", "b.2"]);
    assert_eq!(
        due_ids(store, 20, 10).await,
        ["b.1", "a.1", "a.2", "b.2", "a.3"]
    );
    assert_eq!(due_ids(store, 20, 2).await, ["b.1", "a.1"]);
    assert_eq!(due_ids(store, 20, 0).await, Vec::<String>::new());
    // Due events stay due until something is recorded about them.
    assert_eq!(due_ids(store, 20, 10).await.len(), 5);
}

/// A delivered event is never due again; marking is idempotent and unknown IDs are fine.
pub async fn delivery_is_recorded_once(store: &dyn TaskStore) {
    let t = task("acc", "d", 1);
    store
        .insert(&t, &[event(&t, 1, 10), event(&t, 2, 11)])
        .await
        .expect("insert");
    store.mark_delivered("d.1", 12).await.expect("mark");
    assert_eq!(due_ids(store, 100, 10).await, ["d.2"]);
    store.mark_delivered("d.1", 13).await.expect("mark again");
    store
        .mark_delivered("nope.1", 13)
        .await
        .expect("unknown id");
    // Rescheduling a delivered event does not revive it.
    store
        .reschedule_event("d.1", 3, 50)
        .await
        .expect("reschedule");
    assert_eq!(due_ids(store, 100, 10).await, ["d.2"]);
    store.mark_delivered("d.2", 14).await.expect("mark");
    assert!(due_ids(store, i64::MAX, 10).await.is_empty());
    // Events outlive their task (the Exit callback of a deleted task must still go out).
    let e = event(&t, 3, 20);
    store
        .delete(&t.account, &t.id, 1, std::slice::from_ref(&e))
        .await
        .expect("delete");
    assert_eq!(due_ids(store, 20, 10).await, ["d.3"]);
}

/// A failed attempt moves the event to its next attempt time and counts it.
pub async fn failed_attempts_reschedule(store: &dyn TaskStore) {
    let t = task("acc", "r", 1);
    store
        .insert(&t, &[event(&t, 1, 10), event(&t, 2, 10)])
        .await
        .expect("insert");
    store
        .reschedule_event("r.1", 1, 30)
        .await
        .expect("reschedule");
    assert_eq!(due_ids(store, 29, 10).await, ["r.2"]);
    let due = store.due_events(30, 10).await.expect("due");
    assert_eq!(
        due.iter()
            .map(|d| (d.event.id.as_str(), d.attempts, d.next_attempt_at))
            .collect::<Vec<_>>(),
        [("r.2", 0, 10), ("r.1", 1, 30)]
    );
    store
        .reschedule_event("r.1", u32::MAX, 31)
        .await
        .expect("reschedule");
    let due = store.due_events(31, 10).await.expect("due");
    assert_eq!((due[1].attempts, due[1].next_attempt_at), (u32::MAX, 31));
    store
        .reschedule_event("nope.1", 1, 1)
        .await
        .expect("unknown id");
}

/// Purge deletes exited tasks that exited before the cut-off and events delivered before it;
/// nothing else.
pub async fn purge_removes_old_exited_tasks_and_delivered_events(store: &dyn TaskStore) {
    let old = exited("acc", "old", 99);
    let edge = exited("acc", "edge", 100);
    let mut stopped = task("acc", "stopped", 0);
    stopped.runtime.status = baton_domain::TaskStatus::Stopped;
    store
        .insert(&old, &[event(&old, 1, 1), event(&old, 2, 2)])
        .await
        .expect("insert");
    store
        .insert(&edge, &[event(&edge, 1, 3)])
        .await
        .expect("insert");
    store.insert(&stopped, &[]).await.expect("insert");
    store.mark_delivered("old.1", 99).await.expect("mark");
    store.mark_delivered("edge.1", 100).await.expect("mark");

    let purged = store.purge(100).await.expect("purge");
    assert_eq!(
        purged,
        Purged {
            tasks: 1,
            events: 1
        }
    );
    assert_eq!(store.get(&old.account, &old.id).await.expect("get"), None);
    assert!(
        store
            .get(&edge.account, &edge.id)
            .await
            .expect("get")
            .is_some()
    );
    assert!(
        store
            .get(&stopped.account, &stopped.id)
            .await
            .expect("get")
            .is_some()
    );
    // Undelivered events are kept, even of purged tasks.
    assert_eq!(due_ids(store, 10, 10).await, ["old.2"]);
    assert_eq!(store.purge(100).await.expect("purge"), Purged::default());
    assert_eq!(
        store.purge(101).await.expect("purge"),
        Purged {
            tasks: 1,
            events: 1
        }
    );
}
