//! Checks of the callback outbox and of purge.

use baton_domain::{
    AccountId, CallbackEvent, CallbackState, EventRecord, ExitReason, InvalidReason, ItemEvent,
    ItemEventKind, Purged, Task, TaskId, TaskStore,
};

use crate::fixtures::{event, exited, recorded_event, task};

async fn due_ids(store: &dyn TaskStore, now: i64, limit: u32) -> Vec<String> {
    store
        .due_events(now, limit)
        .await
        .expect("due events")
        .into_iter()
        .map(|e| e.event.id)
        .collect()
}

/// The log of `t` as (id, attempts, delivered at), newest first.
async fn log_of(
    store: &dyn TaskStore,
    t: &Task,
    before_seq: Option<u64>,
    limit: u32,
) -> Vec<(String, u32, Option<i64>)> {
    store
        .task_events(&t.account, &t.id, before_seq, limit)
        .await
        .expect("task events")
        .into_iter()
        .map(|r| (r.event.id, r.attempts, r.delivered_at))
        .collect()
}

/// Every event field comes back as stored, with 0 attempts and due at the event's time.
pub async fn outbox_round_trips_every_field(store: &dyn TaskStore) {
    let t = task("acc", "ev", 1);
    let mut events = Vec::new();
    for (i, state) in CallbackState::ALL.into_iter().enumerate() {
        let mut e = event(&t, i as u64 + 1, 100 + i as i64);
        e.state = state;
        if !state.is_callback() {
            // Log-only events carry their detail (issue 16). (Here with a URL, to come back
            // as due: the round trip is of the columns, not of what is deliverable.)
            e.detail = Some(format!(
                "destination {i}: refused: rtmp://u:***@h/app — 名前"
            ));
        }
        events.push(e);
    }
    events[1].reason = Some(InvalidReason::PullStreamFailed);
    events[2].reason = Some(InvalidReason::UnknownError);
    events[3].exit_reason = Some(ExitReason::TriggerByUser);
    for (i, kind) in ItemEventKind::ALL.into_iter().enumerate() {
        let mut e = event(&t, 20 + i as u64, 200 + i as i64);
        e.item = Some(ItemEvent {
            kind,
            file_index: [0, 7, u32::MAX, 29, 3][i],
            source: ["https://cdn/a.mp4", "/srv/b.flv", "media-id", "", "c.mp4"][i].into(),
            detail: match i {
                2 => Some("unsupported codec \"mp4v\" — 名前".into()),
                3 => Some("track 2 (audio 'Opus'): codec 'Opus' is not supported".into()),
                _ => None,
            },
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
    odd.auth_key = Some("ali key | 鍵".into());
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
        .reschedule_event("d.1", 3, 50, "HTTP 500")
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
        .reschedule_event("r.1", 1, 30, "HTTP 503")
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
        .reschedule_event("r.1", u32::MAX, 31, "HTTP 503")
        .await
        .expect("reschedule");
    let due = store.due_events(31, 10).await.expect("due");
    assert_eq!((due[1].attempts, due[1].next_attempt_at), (u32::MAX, 31));
    store
        .reschedule_event("nope.1", 1, 1, "HTTP 503")
        .await
        .expect("unknown id");
}

/// Each failed attempt's error is kept with the event (the last one wins) and shown in the
/// task's log, pending or delivered after all; a given-up event is never due again, is
/// purged like a delivered one, and says it was given up (with when, how many attempts and
/// why).
pub async fn delivery_errors_are_kept_and_given_up_is_recorded(store: &dyn TaskStore) {
    let t = task("acc", "fail", 1);
    store
        .insert(&t, &[event(&t, 1, 10), event(&t, 2, 10), event(&t, 3, 10)])
        .await
        .expect("insert");
    let record = |records: &[EventRecord], id: &str| -> (u32, Option<i64>, Option<String>, bool) {
        let r = records
            .iter()
            .find(|r| r.event.id == id)
            .unwrap_or_else(|| panic!("{id} in the log"));
        (r.attempts, r.delivered_at, r.last_error.clone(), r.given_up)
    };
    let log = || async {
        store
            .task_events(&t.account, &t.id, None, 10)
            .await
            .expect("task events")
    };
    let pending = || async { store.pending_events().await.expect("pending") };
    // Nothing failed yet.
    assert_eq!(record(&log().await, "fail.1"), (0, None, None, false));
    assert_eq!(pending().await, 3);
    store
        .reschedule_event(
            "fail.1",
            1,
            20,
            "connect error: Connection refused (os error 111)",
        )
        .await
        .expect("reschedule");
    store
        .reschedule_event("fail.1", 2, 30, "HTTP 503")
        .await
        .expect("reschedule");
    assert_eq!(
        record(&log().await, "fail.1"),
        (2, None, Some("HTTP 503".into()), false),
        "pending, the last error kept"
    );
    assert_eq!(
        pending().await,
        3,
        "an event waiting for a retry is pending"
    );
    // Delivered after all: the error stays as history, it is not given up.
    store.mark_delivered("fail.1", 31).await.expect("mark");
    assert_eq!(
        record(&log().await, "fail.1"),
        (2, Some(31), Some("HTTP 503".into()), false)
    );
    // Given up: never due again, with the attempts and the last error.
    store
        .reschedule_event("fail.2", 1, 20, "timed out after 5 s")
        .await
        .expect("reschedule");
    store
        .give_up_event("fail.2", 60, "HTTP 410", 40)
        .await
        .expect("give up");
    assert_eq!(
        record(&log().await, "fail.2"),
        (60, Some(40), Some("HTTP 410".into()), true)
    );
    assert_eq!(due_ids(store, i64::MAX, 10).await, ["fail.3"]);
    assert_eq!(
        pending().await,
        1,
        "delivered and given-up events are not pending"
    );
    // Giving up a delivered or unknown event changes nothing; nor does a reschedule after.
    store
        .give_up_event("fail.1", 9, "HTTP 500", 50)
        .await
        .expect("give up delivered");
    store
        .give_up_event("nope.1", 1, "HTTP 500", 50)
        .await
        .expect("unknown id");
    store
        .reschedule_event("fail.2", 61, 60, "HTTP 500")
        .await
        .expect("reschedule given up");
    let now = log().await;
    assert_eq!(
        record(&now, "fail.1"),
        (2, Some(31), Some("HTTP 503".into()), false)
    );
    assert_eq!(
        record(&now, "fail.2"),
        (60, Some(40), Some("HTTP 410".into()), true)
    );
    // A given-up event is purged like a delivered one.
    let purged = store.purge(41).await.expect("purge");
    assert_eq!(purged.events, 2);
    assert_eq!(log().await.len(), 1);
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

/// An event without a URL (its task has no callback URL) is recorded, as delivered at its own
/// time, by insert, update and delete alike: never due, untouched by delivery bookkeeping,
/// purged after the cut-off like a delivered event.
pub async fn events_without_a_url_are_recorded_delivered(store: &dyn TaskStore) {
    let t = task("acc", "quiet", 1);
    store
        .insert(&t, &[recorded_event(&t, 1, 10), event(&t, 2, 11)])
        .await
        .expect("insert");
    let mut v2 = t.clone();
    v2.version = 2;
    store
        .update(&v2, 1, &[recorded_event(&t, 3, 12)])
        .await
        .expect("update");
    store
        .delete(&t.account, &t.id, 2, &[recorded_event(&t, 4, 13)])
        .await
        .expect("delete");
    assert_eq!(due_ids(store, i64::MAX, 10).await, ["quiet.2"]);
    assert_eq!(
        store.pending_events().await.expect("pending"),
        1,
        "only the event with a URL waits for delivery"
    );
    let s = |id: &str| id.to_string();
    assert_eq!(
        log_of(store, &t, None, 10).await,
        [
            (s("quiet.4"), 0, Some(13)),
            (s("quiet.3"), 0, Some(12)),
            (s("quiet.2"), 0, None),
            (s("quiet.1"), 0, Some(10)),
        ]
    );
    let logged = store
        .task_events(&t.account, &t.id, None, 10)
        .await
        .expect("task events");
    assert_eq!(
        logged[3].event,
        recorded_event(&t, 1, 10),
        "stored as given"
    );

    // Delivery bookkeeping does not touch them.
    store.mark_delivered("quiet.1", 50).await.expect("mark");
    store
        .reschedule_event("quiet.3", 1, 5, "HTTP 503")
        .await
        .expect("reschedule");
    assert_eq!(due_ids(store, i64::MAX, 10).await, ["quiet.2"]);
    assert_eq!(
        log_of(store, &t, None, 10).await[1],
        (s("quiet.3"), 0, Some(12))
    );
    assert_eq!(
        log_of(store, &t, None, 10).await[3],
        (s("quiet.1"), 0, Some(10))
    );

    // Purged as delivered at their own time; the undelivered one stays.
    assert_eq!(
        store.purge(12).await.expect("purge"),
        Purged {
            tasks: 0,
            events: 1
        }
    );
    assert_eq!(
        store.purge(14).await.expect("purge"),
        Purged {
            tasks: 0,
            events: 2
        }
    );
    assert_eq!(log_of(store, &t, None, 10).await, [(s("quiet.2"), 0, None)]);
}

/// A task's events, newest first (seq descending), by page (`before_seq`, `limit`), of that
/// account only, deliverable or not, with their delivery state, and still there after the
/// task is deleted.
pub async fn task_events_newest_first_by_seq(store: &dyn TaskStore) {
    let t = task("acc", "log", 1);
    let neighbour = task("acc", "log-2", 2);
    let first = [
        event(&t, 1, 10),
        event(&t, 2, 11),
        recorded_event(&t, 3, 12),
    ];
    store.insert(&t, &first).await.expect("insert");
    store
        .insert(&neighbour, &[event(&neighbour, 1, 10)])
        .await
        .expect("insert");
    let mut v2 = t.clone();
    v2.version = 2;
    let mut fourth = event(&t, 4, 13);
    fourth.state = CallbackState::Recovering;
    fourth.reason = Some(InvalidReason::PullStreamFailed);
    let fifth = event(&t, 5, 13);
    store
        .update(&v2, 1, &[fourth.clone(), fifth.clone()])
        .await
        .expect("update");

    let all = store
        .task_events(&t.account, &t.id, None, 100)
        .await
        .expect("task events");
    let mut expected: Vec<CallbackEvent> = first.to_vec();
    expected.extend([fourth, fifth]);
    expected.reverse();
    assert_eq!(
        all.iter().map(|r| &r.event).collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>()
    );
    let seqs = |records: Vec<(String, u32, Option<i64>)>| -> Vec<String> {
        records.into_iter().map(|r| r.0).collect()
    };
    assert_eq!(seqs(log_of(store, &t, None, 2).await), ["log.5", "log.4"]);
    assert_eq!(
        seqs(log_of(store, &t, Some(4), 2).await),
        ["log.3", "log.2"]
    );
    assert_eq!(seqs(log_of(store, &t, Some(2), 10).await), ["log.1"]);
    assert!(log_of(store, &t, Some(1), 10).await.is_empty());
    assert!(log_of(store, &t, Some(0), 10).await.is_empty());
    assert!(log_of(store, &t, None, 0).await.is_empty());
    assert_eq!(log_of(store, &t, Some(u64::MAX), 10).await.len(), 5);
    // Another account sees nothing; an unknown task has no events.
    let stranger = task("bob", "log", 1);
    assert!(log_of(store, &stranger, None, 10).await.is_empty());
    assert!(
        log_of(store, &task("acc", "nope", 1), None, 10)
            .await
            .is_empty()
    );
    assert_eq!(seqs(log_of(store, &neighbour, None, 10).await), ["log-2.1"]);

    // Delivery state as it happens.
    store.mark_delivered("log.4", 30).await.expect("mark");
    store
        .reschedule_event("log.5", 2, 40, "HTTP 502")
        .await
        .expect("reschedule");
    let s = |id: &str| id.to_string();
    assert_eq!(
        log_of(store, &t, None, 3).await,
        [
            (s("log.5"), 2, None),
            (s("log.4"), 0, Some(30)),
            (s("log.3"), 0, Some(12)),
        ]
    );

    // Kept after the task is deleted (until purged).
    let exit = event(&t, 6, 50);
    store
        .delete(&t.account, &t.id, 2, std::slice::from_ref(&exit))
        .await
        .expect("delete");
    let after: Vec<EventRecord> = store
        .task_events(&t.account, &t.id, None, 1)
        .await
        .expect("task events");
    assert_eq!(
        after,
        [EventRecord {
            event: exit,
            attempts: 0,
            delivered_at: None,
            last_error: None,
            given_up: false,
        }]
    );
    assert_eq!(log_of(store, &t, None, 100).await.len(), 6);
}

async fn claim_ids(store: &dyn TaskStore, now: i64, limit: u32) -> Vec<String> {
    store
        .claim_due_events(now, limit, std::time::Duration::from_secs(3600))
        .await
        .expect("claim due events")
        .into_iter()
        .map(|e| e.event.id)
        .collect()
}

/// What one node sees of claims: a claim returns the due events in due order, at most `limit`;
/// a claimed event is not claimed again while its claim lasts (it is still listed as due);
/// recording an attempt ends the claim (a rescheduled event is claimable once due again, a
/// delivered or given-up one never). Expiry is on the store's clock: checked per backend.
pub async fn claimed_events_are_claimed_once(store: &dyn TaskStore) {
    let t = task("acc", "c", 1);
    store
        .insert(
            &t,
            &[
                event(&t, 1, 10),
                event(&t, 2, 11),
                event(&t, 3, 12),
                event(&t, 4, 50),
            ],
        )
        .await
        .expect("insert");

    assert_eq!(claim_ids(store, 20, 2).await, ["c.1", "c.2"]);
    assert_eq!(claim_ids(store, 20, 10).await, ["c.3"]);
    assert_eq!(claim_ids(store, 20, 10).await, Vec::<String>::new());
    assert_eq!(claim_ids(store, 20, 0).await, Vec::<String>::new());
    // Claimed events are still due (and pending) to whoever only looks.
    assert_eq!(due_ids(store, 20, 10).await, ["c.1", "c.2", "c.3"]);
    assert_eq!(store.pending_events().await.expect("pending"), 4);

    // A failed attempt ends the claim: claimable again once due at the new time.
    store
        .reschedule_event("c.1", 1, 30, "HTTP 503")
        .await
        .expect("reschedule");
    assert_eq!(claim_ids(store, 29, 10).await, Vec::<String>::new());
    assert_eq!(claim_ids(store, 30, 10).await, ["c.1"]);
    // Delivered or given up: never again.
    store.mark_delivered("c.1", 31).await.expect("deliver");
    store.mark_delivered("c.2", 31).await.expect("deliver");
    store
        .give_up_event("c.3", 60, "HTTP 400", 31)
        .await
        .expect("give up");
    assert_eq!(claim_ids(store, 60, 10).await, ["c.4"]);
    assert_eq!(claim_ids(store, 61, 10).await, Vec::<String>::new());
    assert_eq!(due_ids(store, i64::MAX, 10).await, ["c.4"]);
}
