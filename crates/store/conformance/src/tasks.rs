//! Checks of task storage: round trips, versions, isolation, listing.

use baton_domain::{
    AccountId, ErrorSide, LastError, ListFilter, Page, SourceFailover, StoreError, Task, TaskId,
    TaskSlate, TaskStatus, TaskStore, UnixTime,
};
use futures_util::future::join_all;

use crate::fixtures::{event, exited, full_task, task};

fn acc(s: &str) -> AccountId {
    AccountId(s.into())
}

fn id(s: &str) -> TaskId {
    TaskId(s.into())
}

async fn must_get(store: &dyn TaskStore, t: &Task) -> Task {
    store
        .get(&t.account, &t.id)
        .await
        .expect("get")
        .unwrap_or_else(|| panic!("task {} is stored", t.id))
}

/// A changed copy of `t` at the next version.
fn next(t: &Task) -> Task {
    let mut n = t.clone();
    n.version += 1;
    n.updated_at += 1;
    n.runtime.run += 1;
    n
}

/// Every field comes back as stored, extremes included.
pub async fn round_trip_every_field(store: &dyn TaskStore) {
    let full = full_task();
    store.insert(&full, &[]).await.expect("insert");
    assert_eq!(must_get(store, &full).await, full);

    let plain = task("acc", "plain", 7);
    store.insert(&plain, &[]).await.expect("insert");
    assert_eq!(must_get(store, &plain).await, plain);

    // Every status and reason, through updates of one task.
    let mut t = plain.clone();
    for (status, code) in [
        (TaskStatus::Running, 1),
        (TaskStatus::Abnormal, 2),
        (TaskStatus::Stopped, 3),
        (TaskStatus::Exited, -1),
        (TaskStatus::NotStarted, 0),
    ] {
        assert_eq!(status.code(), code);
        let mut n = next(&t);
        n.runtime.status = status;
        store.update(&n, t.version, &[]).await.expect("update");
        assert_eq!(must_get(store, &n).await, n);
        t = n;
    }
    for reason in baton_domain::InvalidReason::ALL {
        let mut n = next(&t);
        n.runtime.invalid_reason = Some(reason);
        store.update(&n, t.version, &[]).await.expect("update");
        assert_eq!(must_get(store, &n).await, n);
        t = n;
    }
    for protocol in baton_domain::SourceProtocol::ALL {
        let mut n = next(&t);
        n.spec.source_protocol = Some(protocol);
        store.update(&n, t.version, &[]).await.expect("update");
        assert_eq!(must_get(store, &n).await, n);
        t = n;
    }
    for source_type in baton_domain::SourceType::ALL {
        let mut n = next(&t);
        n.spec.source_type = source_type;
        store.update(&n, t.version, &[]).await.expect("update");
        assert_eq!(must_get(store, &n).await, n);
        t = n;
    }
    // Every side of a last error, extreme times; and back to none (the port stores what it
    // is given, though the state machine never clears it).
    for (side, at) in ErrorSide::ALL.into_iter().zip([i64::MAX, 0, -1]) {
        let mut n = next(&t);
        n.runtime.last_error = Some(LastError {
            side,
            code: format!("Code{}", side.as_str()),
            message: format!("{}: went wrong\n\t\"twice\"", side.as_str()),
            at,
        });
        store.update(&n, t.version, &[]).await.expect("update");
        assert_eq!(must_get(store, &n).await, n);
        t = n;
    }
    let mut n = next(&t);
    n.runtime.last_error = None;
    store.update(&n, t.version, &[]).await.expect("update");
    assert_eq!(must_get(store, &n).await, n);
    t = n;
    // Extra destinations: added by an update, in order, then all removed again.
    let mut n = next(&t);
    n.spec.extra_dst_urls = vec![
        "srt://b.example:9000?streamid=s".into(),
        "rtmp://a/x/y".into(),
    ];
    store.update(&n, t.version, &[]).await.expect("update");
    assert_eq!(
        must_get(store, &n).await.spec.extra_dst_urls,
        n.spec.extra_dst_urls
    );
    t = n;
    let mut n = next(&t);
    n.spec.extra_dst_urls = Vec::new();
    store.update(&n, t.version, &[]).await.expect("update");
    assert_eq!(must_get(store, &n).await, n);
    t = n;
    // Backup sources (a live task's source URLs after the first) and the failover settings,
    // at their extremes, then cleared.
    let mut n = next(&t);
    n.spec.source_urls = vec![
        "rtmp://primary.example/live/s".into(),
        "rtmps://backup.example/live/s?k='v'".into(),
        "srt://b2.example:9000?streamid=#!::r=live/s".into(),
        "rtsp://u:p@cam.example/直播".into(),
    ];
    n.spec.failover = SourceFailover {
        after: Some(1),
        failback_after: Some(u32::MAX),
    };
    store.update(&n, t.version, &[]).await.expect("update");
    assert_eq!(must_get(store, &n).await, n);
    t = n;
    let mut n = next(&t);
    n.spec.source_urls.truncate(1);
    n.spec.failover = SourceFailover::default();
    store.update(&n, t.version, &[]).await.expect("update");
    assert_eq!(must_get(store, &n).await, n);
    // The slate setting: each form, at its extremes, then back to the operator's.
    for slate in [
        TaskSlate::Off,
        TaskSlate::On {
            file: None,
            after: None,
            hold: None,
        },
        TaskSlate::On {
            file: Some("https://cdn.example/直播/slate.mp4?k='v'&x=\"q\"".into()),
            after: Some(1),
            hold: Some(u32::MAX),
        },
        TaskSlate::On {
            file: Some("default".into()),
            after: Some(60),
            hold: None,
        },
        TaskSlate::Inherit,
    ] {
        t = n;
        n = next(&t);
        n.spec.slate = slate;
        store.update(&n, t.version, &[]).await.expect("update");
        assert_eq!(must_get(store, &n).await, n);
    }
}

/// `None` and `Some("")` (and an empty list) are different values and stay different.
pub async fn none_and_empty_are_distinct(store: &dyn TaskStore) {
    let mut empty = task("acc", "empty", 1);
    empty.spec.name = String::new();
    empty.spec.group = String::new();
    empty.spec.region = String::new();
    empty.spec.source_protocol = None;
    empty.spec.source_urls = Vec::new();
    empty.spec.callback_url = Some(String::new());
    empty.spec.auth_key = Some(String::new());
    empty.spec.req_auth = Some(String::new());
    empty.spec.notify_item_switch = Some(String::new());
    empty.runtime.last_error = Some(LastError {
        side: ErrorSide::Internal,
        code: String::new(),
        message: String::new(),
        at: 0,
    });
    let mut none = task("acc", "none", 2);
    none.spec.source_urls = vec![String::new()];
    store.insert(&empty, &[]).await.expect("insert");
    store.insert(&none, &[]).await.expect("insert");
    assert_eq!(must_get(store, &empty).await, empty);
    assert_eq!(must_get(store, &none).await, none);
}

/// A task ID exists once, across accounts.
pub async fn duplicates_are_refused(store: &dyn TaskStore) {
    let t = task("a", "dup", 1);
    store.insert(&t, &[]).await.expect("insert");
    let again = store.insert(&task("a", "dup", 2), &[]).await;
    assert!(
        matches!(again, Err(StoreError::Duplicate { .. })),
        "{again:?}"
    );
    let other = store.insert(&task("b", "dup", 3), &[]).await;
    assert!(
        matches!(other, Err(StoreError::Duplicate { .. })),
        "{other:?}"
    );
    assert_eq!(must_get(store, &t).await, t);
    // A refused insert stores none of its events either.
    let mut fresh = task("a", "fresh", 1);
    fresh.spec.callback_url = Some("https://cb.example/hook".into());
    let e = event(&t, 1, 1);
    store.insert(&t, &[]).await.expect_err("duplicate");
    store
        .insert(&fresh, &[e.clone(), e])
        .await
        .expect_err("duplicate event");
    assert_eq!(
        store.get(&fresh.account, &fresh.id).await.expect("get"),
        None
    );
    assert!(
        store
            .due_events(i64::MAX, 10)
            .await
            .expect("due")
            .is_empty()
    );
}

/// An account never sees, changes or deletes another account's task.
pub async fn accounts_are_isolated(store: &dyn TaskStore) {
    let t = task("alice", "shared-looking", 1);
    store.insert(&t, &[]).await.expect("insert");
    let bob = acc("bob");
    assert_eq!(store.get(&bob, &t.id).await.expect("get"), None);
    let list = store
        .list(
            &bob,
            &ListFilter::default(),
            Page {
                number: 1,
                size: 10,
            },
        )
        .await
        .expect("list");
    assert_eq!((list.tasks.len(), list.total), (0, 0));
    let mut stolen = next(&t);
    stolen.account = bob.clone();
    let r = store.update(&stolen, t.version, &[]).await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
    let r = store.delete(&bob, &t.id, t.version, &[]).await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
    assert_eq!(must_get(store, &t).await, t);
}

/// Updates name the version they were computed from; stale or unknown ones write nothing.
pub async fn update_with_optimistic_concurrency(store: &dyn TaskStore) {
    let t = task("acc", "t", 1);
    store.insert(&t, &[]).await.expect("insert");
    let v2 = next(&t);
    let e1 = event(&t, 1, 10);
    store
        .update(&v2, 1, std::slice::from_ref(&e1))
        .await
        .expect("update");
    assert_eq!(must_get(store, &t).await, v2);

    // Stale: computed from version 1 again.
    let mut stale = next(&t);
    stale.spec.name = "lost update".into();
    let r = store.update(&stale, 1, &[event(&t, 2, 11)]).await;
    assert!(
        matches!(r, Err(StoreError::Conflict { expected: 1, .. })),
        "{r:?}"
    );
    assert_eq!(must_get(store, &t).await, v2);
    let due = store.due_events(i64::MAX, 10).await.expect("due");
    assert_eq!(due.len(), 1, "the refused write stored no event");
    assert_eq!(due[0].event, e1);

    // Unknown task.
    let ghost = next(&task("acc", "ghost", 1));
    let r = store.update(&ghost, 1, &[]).await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
    assert_eq!(
        store.get(&ghost.account, &ghost.id).await.expect("get"),
        None
    );

    // The new version must follow the expected one.
    let r = store.update(&v2, 2, &[]).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    assert_eq!(must_get(store, &t).await, v2);
}

/// Many writers from the same version: exactly one wins, the rest conflict.
pub async fn concurrent_updates_one_wins(store: &dyn TaskStore) {
    let t = task("acc", "contended", 1);
    store.insert(&t, &[]).await.expect("insert");
    let candidates: Vec<Task> = (0..8)
        .map(|i| {
            let mut n = next(&t);
            n.spec.name = format!("writer {i}");
            n
        })
        .collect();
    let events: Vec<_> = (0..8).map(|i| vec![event(&t, 100 + i, 5)]).collect();
    let results = join_all(
        candidates
            .iter()
            .zip(&events)
            .map(|(c, e)| store.update(c, t.version, e)),
    )
    .await;
    let winners: Vec<usize> = (0..8).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (i, r) in results.iter().enumerate() {
        if i != winners[0] {
            assert!(matches!(r, Err(StoreError::Conflict { .. })), "{r:?}");
        }
    }
    assert_eq!(must_get(store, &t).await, candidates[winners[0]]);
    let due = store.due_events(i64::MAX, 100).await.expect("due");
    assert_eq!(due.len(), 1, "only the winner's event is stored");
    assert_eq!(due[0].event, events[winners[0]][0]);
}

/// Delete names a version, writes its events in the same transaction, and the task is gone;
/// its ID is free again once its events are purged.
pub async fn delete_with_version_and_events(store: &dyn TaskStore) {
    let t = task("acc", "doomed", 1);
    store.insert(&t, &[]).await.expect("insert");
    let exit = event(&t, 1, 20);
    let r = store
        .delete(&t.account, &t.id, 7, std::slice::from_ref(&exit))
        .await;
    assert!(
        matches!(r, Err(StoreError::Conflict { expected: 7, .. })),
        "{r:?}"
    );
    assert_eq!(must_get(store, &t).await, t);
    assert!(
        store
            .due_events(i64::MAX, 10)
            .await
            .expect("due")
            .is_empty()
    );

    store
        .delete(&t.account, &t.id, 1, std::slice::from_ref(&exit))
        .await
        .expect("delete");
    assert_eq!(store.get(&t.account, &t.id).await.expect("get"), None);
    let due = store.due_events(i64::MAX, 10).await.expect("due");
    assert_eq!(
        due.iter().map(|d| &d.event).collect::<Vec<_>>(),
        vec![&exit]
    );
    let r = store.delete(&t.account, &t.id, 1, &[]).await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
    // The ID stays taken, in every account, while the task's log is kept: a new task of that
    // ID would collide with its event IDs and continue its log.
    for account in ["acc", "other"] {
        let r = store.insert(&task(account, "doomed", 2), &[]).await;
        assert!(
            matches!(r, Err(StoreError::Duplicate { what: "task", .. })),
            "{r:?}"
        );
    }
    // Free again once the log is purged (a store must not keep ghosts).
    store.mark_delivered("doomed.1", 30).await.expect("mark");
    store.purge(31).await.expect("purge");
    store.insert(&t, &[]).await.expect("insert after purge");
    // A task without a log is free at once.
    store
        .delete(&t.account, &t.id, 1, &[])
        .await
        .expect("delete");
    store.insert(&t, &[]).await.expect("insert after delete");
}

/// Fuzzy filters (ASCII case-insensitive substrings, `%` and `_` literal), exact region and
/// status, newest-first pages, totals independent of the page.
pub async fn list_filters_page_and_count(store: &dyn TaskStore) {
    let mut tasks = Vec::new();
    for i in 0..25 {
        let mut t = task("acc", &format!("task-{i:02}"), 100 + i);
        t.spec.name = match i % 3 {
            0 => format!("Morning Show {i}"),
            1 => format!("evening_news 100% {i}"),
            _ => format!("night {i}"),
        };
        t.spec.dst_url = format!("rtmp://cdn{}.example/live/s{i}", i % 2);
        if i % 5 == 0 {
            t.spec.region = "cn-beijing".into();
        }
        if i % 4 == 0 {
            t.runtime.status = TaskStatus::Running;
        }
        store.insert(&t, &[]).await.expect("insert");
        tasks.push(t);
    }
    store
        .insert(&task("other", "task-99", 500), &[])
        .await
        .expect("insert");
    let account = acc("acc");
    let list = |filter: ListFilter, number: u32, size: u32| {
        let account = account.clone();
        async move {
            store
                .list(&account, &filter, Page { number, size })
                .await
                .expect("list")
        }
    };
    let ids = |l: &baton_domain::TaskList| -> Vec<String> {
        l.tasks.iter().map(|t| t.id.0.clone()).collect()
    };

    // Paging: newest first, totals on every page, empty past the end.
    let all = ListFilter::default();
    let p1 = list(all.clone(), 1, 10).await;
    assert_eq!(p1.total, 25);
    assert_eq!(ids(&p1)[..2], ["task-24".to_owned(), "task-23".to_owned()]);
    assert_eq!(p1.tasks[0], tasks[24], "listed tasks are complete");
    let p3 = list(all.clone(), 3, 10).await;
    assert_eq!((ids(&p3).len(), p3.total), (5, 25));
    assert_eq!(ids(&p3).last().map(String::as_str), Some("task-00"));
    let past = list(all.clone(), 4, 10).await;
    assert_eq!((past.tasks.len(), past.total), (0, 25));
    let mut seen: Vec<String> = Vec::new();
    for n in 1..=3 {
        seen.extend(ids(&list(all.clone(), n, 10).await));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25, "pages neither overlap nor skip");
    assert_eq!(list(all.clone(), 1, 100).await.tasks.len(), 25);
    assert_eq!(list(all.clone(), u32::MAX, 100).await.tasks.len(), 0);

    // Equal creation times: ordered by ID.
    let mut twin_a = task("twins", "b-twin", 7);
    let twin_b = task("twins", "a-twin", 7);
    twin_a.spec.name = "x".into();
    store.insert(&twin_a, &[]).await.expect("insert");
    store.insert(&twin_b, &[]).await.expect("insert");
    let twins = store
        .list(
            &acc("twins"),
            &all,
            Page {
                number: 1,
                size: 10,
            },
        )
        .await
        .expect("list");
    assert_eq!(ids(&twins), ["a-twin", "b-twin"]);

    let by = |f: fn(&mut ListFilter)| {
        let mut filter = ListFilter::default();
        f(&mut filter);
        filter
    };
    // Substrings, case-insensitive.
    let l = list(by(|f| f.task_id = Some("SK-1".into())), 1, 100).await;
    assert_eq!(l.total, 10, "task-10..task-19: {:?}", ids(&l));
    let l = list(by(|f| f.name = Some("morning".into())), 1, 100).await;
    assert_eq!(l.total, 9);
    let l = list(by(|f| f.dst_url = Some("CDN1.example".into())), 1, 3).await;
    assert_eq!((l.total, l.tasks.len()), (12, 3));
    // `%` and `_` are literal characters, not wildcards.
    let l = list(by(|f| f.name = Some("100%".into())), 1, 100).await;
    assert_eq!(l.total, 8);
    let l = list(by(|f| f.name = Some("g_n".into())), 1, 100).await;
    assert_eq!(l.total, 8, "evening_news only");
    let l = list(by(|f| f.name = Some("g%n".into())), 1, 100).await;
    assert_eq!(l.total, 0);
    let l = list(by(|f| f.name = Some("g_S".into())), 1, 100).await;
    assert_eq!(l.total, 0, "`_` would match the space of \"Morning Show\"");
    let l = list(by(|f| f.task_id = Some("_".into())), 1, 100).await;
    assert_eq!(l.total, 0);
    // Exact filters, and all filters together.
    let l = list(by(|f| f.region = Some("cn-beijing".into())), 1, 100).await;
    assert_eq!(l.total, 5);
    let l = list(by(|f| f.region = Some("cn-bei".into())), 1, 100).await;
    assert_eq!(l.total, 0, "region is exact");
    let l = list(by(|f| f.status = Some(TaskStatus::Running)), 1, 100).await;
    assert_eq!(l.total, 7);
    let l = list(
        by(|f| {
            f.task_id = Some("task-2".into());
            f.name = Some("show".into());
            f.status = Some(TaskStatus::Running);
        }),
        1,
        100,
    )
    .await;
    assert_eq!(ids(&l), ["task-24"]);
    // No match at all; the other account's task never shows.
    let l = list(by(|f| f.task_id = Some("task-99".into())), 1, 10).await;
    assert_eq!((l.tasks.len(), l.total), (0, 0));
    let l = list(by(|f| f.name = Some(String::new())), 1, 100).await;
    assert_eq!(l.total, 25, "an empty substring matches everything");
}

/// Groups: exact (case-sensitive) names, any of several, `Some([])` matching nothing. Region:
/// exact, except that a task without a region matches every region filter (and still only
/// through the other filters).
pub async fn list_filters_groups_and_regionless_tasks(store: &dyn TaskStore) {
    // (id, group, region, status)
    let rows = [
        ("g-0", "default", "cn-shanghai", TaskStatus::NotStarted),
        ("g-1", "Live", "cn-shanghai", TaskStatus::Running),
        ("g-2", "live", "", TaskStatus::Running),
        ("g-3", "Live", "", TaskStatus::Stopped),
        ("g-4", "vod %_", "cn-beijing", TaskStatus::Running),
        ("g-5", "default", "", TaskStatus::Exited),
    ];
    for (i, (id, group, region, status)) in rows.iter().enumerate() {
        let mut t = task("acc", id, 10 + i as i64);
        t.spec.group = (*group).into();
        t.spec.region = (*region).into();
        t.runtime.status = *status;
        store.insert(&t, &[]).await.expect("insert");
    }
    // Another account's tasks in the same groups, without a region, never show.
    let mut foreign = task("other", "g-9", 99);
    foreign.spec.group = "Live".into();
    foreign.spec.region = String::new();
    store.insert(&foreign, &[]).await.expect("insert");

    let account = acc("acc");
    let ids = |filter: ListFilter| {
        let account = account.clone();
        async move {
            let l = store
                .list(
                    &account,
                    &filter,
                    Page {
                        number: 1,
                        size: 100,
                    },
                )
                .await
                .expect("list");
            let mut ids: Vec<String> = l.tasks.iter().map(|t| t.id.0.clone()).collect();
            assert_eq!(l.total, ids.len() as u64, "total of {filter:?}");
            ids.sort();
            ids
        }
    };
    let groups = |names: &[&str]| ListFilter {
        groups: Some(names.iter().map(|n| (*n).to_string()).collect()),
        ..ListFilter::default()
    };
    let region = |r: &str| ListFilter {
        region: Some(r.into()),
        ..ListFilter::default()
    };

    assert_eq!(ids(groups(&["Live"])).await, ["g-1", "g-3"]);
    assert_eq!(
        ids(groups(&["live"])).await,
        ["g-2"],
        "names are case-sensitive"
    );
    assert_eq!(ids(groups(&["Live", "live"])).await, ["g-1", "g-2", "g-3"]);
    assert_eq!(ids(groups(&["default"])).await, ["g-0", "g-5"]);
    assert_eq!(ids(groups(&["vod %_"])).await, ["g-4"]);
    assert_eq!(ids(groups(&["vod"])).await, Vec::<String>::new(), "exact");
    assert_eq!(
        ids(groups(&["Li%"])).await,
        Vec::<String>::new(),
        "not a pattern"
    );
    assert_eq!(ids(groups(&["nowhere", "vod %_"])).await, ["g-4"]);
    assert_eq!(
        ids(groups(&[])).await,
        Vec::<String>::new(),
        "no names match nothing"
    );
    assert_eq!(ids(ListFilter::default()).await.len(), 6);

    assert_eq!(
        ids(region("cn-shanghai")).await,
        ["g-0", "g-1", "g-2", "g-3", "g-5"]
    );
    assert_eq!(
        ids(region("cn-beijing")).await,
        ["g-2", "g-3", "g-4", "g-5"]
    );
    assert_eq!(
        ids(region("nowhere")).await,
        ["g-2", "g-3", "g-5"],
        "a task without a region is in every region"
    );
    assert_eq!(
        ids(ListFilter {
            region: Some("cn-beijing".into()),
            status: Some(TaskStatus::Running),
            ..groups(&["Live", "live", "vod %_"])
        })
        .await,
        ["g-2", "g-4"]
    );
    assert_eq!(
        ids(ListFilter {
            region: Some("cn-shanghai".into()),
            ..groups(&["vod %_"])
        })
        .await,
        Vec::<String>::new()
    );
}

/// Keyset listing: list order (creation time descending, then ID), strictly after a position
/// (which need not be a task), at most `limit`, with the filters of `list`; pages walked by
/// the last task's position neither overlap nor skip, and end empty.
pub async fn list_after_pages_by_position(store: &dyn TaskStore) {
    // (id, created_at, running): three ties at 20, two at 10.
    let rows = [
        ("k-1", 30, true),
        ("k-b", 20, false),
        ("k-a", 20, true),
        ("k-c", 20, true),
        ("k-e", 10, false),
        ("k-d", 10, true),
        ("k-0", 5, false),
    ];
    for (id, created_at, running) in rows {
        let mut t = task("acc", id, created_at);
        if running {
            t.runtime.status = TaskStatus::Running;
        }
        store.insert(&t, &[]).await.expect("insert");
    }
    // Another account's tasks, interleaved in time, never show.
    for (id, created_at) in [("x-1", 25), ("x-2", 20), ("k-aa", 20)] {
        store
            .insert(&task("other", id, created_at), &[])
            .await
            .expect("insert");
    }
    let account = acc("acc");
    let after = |filter: ListFilter, position: Option<(UnixTime, &str)>, limit: u32| {
        let account = account.clone();
        let position = position.map(|(at, i)| (at, id(i)));
        async move {
            store
                .list_after(&account, &filter, position, limit)
                .await
                .expect("list after")
        }
    };
    let ids = |tasks: &[Task]| -> Vec<String> { tasks.iter().map(|t| t.id.0.clone()).collect() };
    let all = ListFilter::default();
    let order = ["k-1", "k-a", "k-b", "k-c", "k-d", "k-e", "k-0"];

    let everything = after(all.clone(), None, 100).await;
    assert_eq!(ids(&everything), order);
    let page = Page {
        number: 1,
        size: 100,
    };
    let listed = store.list(&account, &all, page).await.expect("list");
    assert_eq!(
        everything, listed.tasks,
        "the same tasks, complete, as list"
    );

    // Walking by the last task's position.
    let mut walked = Vec::new();
    let mut position: Option<(UnixTime, String)> = None;
    let mut sizes = Vec::new();
    // Bounded: a store that does not move past the position must fail, not loop.
    for _ in 0..=order.len() {
        let p = position.as_ref().map(|(at, i)| (*at, i.as_str()));
        let tasks = after(all.clone(), p, 2).await;
        sizes.push(tasks.len());
        let Some(last) = tasks.last() else { break };
        position = Some((last.created_at, last.id.0.clone()));
        walked.extend(ids(&tasks));
    }
    assert_eq!(walked, order);
    assert_eq!(sizes, [2, 2, 2, 1, 0], "empty after the last");

    // Strictly after; a position that is no task (another account's, or none at all).
    assert_eq!(
        ids(&after(all.clone(), Some((20, "k-a")), 2).await),
        ["k-b", "k-c"]
    );
    assert_eq!(
        ids(&after(all.clone(), Some((20, "k-aa")), 1).await),
        ["k-b"]
    );
    assert_eq!(ids(&after(all.clone(), Some((20, "")), 1).await), ["k-a"]);
    assert_eq!(
        ids(&after(all.clone(), Some((25, "zzz")), 1).await),
        ["k-a"]
    );
    assert_eq!(
        ids(&after(all.clone(), Some((30, "k-1")), 1).await),
        ["k-a"]
    );
    assert_eq!(
        ids(&after(all.clone(), Some((i64::MAX, "")), 1).await),
        ["k-1"]
    );
    assert!(after(all.clone(), Some((5, "k-0")), 10).await.is_empty());
    assert!(
        after(all.clone(), Some((i64::MIN, "")), 10)
            .await
            .is_empty()
    );
    assert!(after(all.clone(), None, 0).await.is_empty());

    // With filters, as list filters.
    let running = ListFilter {
        status: Some(TaskStatus::Running),
        ..ListFilter::default()
    };
    assert_eq!(
        ids(&after(running.clone(), None, 10).await),
        ["k-1", "k-a", "k-c", "k-d"]
    );
    assert_eq!(
        ids(&after(running.clone(), Some((20, "k-a")), 10).await),
        ["k-c", "k-d"]
    );
    let named = ListFilter {
        task_id: Some("K-".into()),
        ..running
    };
    assert_eq!(ids(&after(named, Some((20, "k-c")), 10).await), ["k-d"]);
    let nothing = ListFilter {
        groups: Some(Vec::new()),
        ..ListFilter::default()
    };
    assert!(after(nothing, None, 10).await.is_empty());
}

/// Every task that has not exited, of every account, by ID.
pub async fn unfinished_lists_what_must_run(store: &dyn TaskStore) {
    let statuses = [
        ("u-0", TaskStatus::NotStarted),
        ("u-1", TaskStatus::Running),
        ("u-2", TaskStatus::Abnormal),
        ("u-3", TaskStatus::Stopped),
    ];
    for (i, (name, status)) in statuses.iter().enumerate() {
        let mut t = task(if i % 2 == 0 { "a" } else { "b" }, name, 10 - i as i64);
        t.runtime.status = *status;
        store.insert(&t, &[]).await.expect("insert");
    }
    store
        .insert(&exited("a", "u-x", 5), &[])
        .await
        .expect("insert");
    let got = store.unfinished().await.expect("unfinished");
    let ids: Vec<&str> = got.iter().map(|t| t.id.0.as_str()).collect();
    assert_eq!(ids, ["u-0", "u-1", "u-2", "u-3"]);
    assert_eq!(got[2].runtime.status, TaskStatus::Abnormal);
    assert_eq!(got[1].account, acc("b"));
    assert_eq!(
        store
            .get(&acc("a"), &id("u-x"))
            .await
            .expect("get")
            .map(|t| t.id),
        Some(id("u-x"))
    );
}
