//! Rule-by-rule tests of the state machine (the model-based property tests are in
//! `tests/lifecycle_model.rs`).

use super::*;
use crate::event::ItemEventKind;
use crate::request::Field;
use crate::validate::tests::live_spec;

const P: Policy = Policy { retention: 3600 };
const CB: &str = "https://cb.example/hook";

fn task_with(spec: TaskSpec) -> Task {
    Task::create(TaskId("t-1".into()), AccountId("acc".into()), spec, 0)
        .expect("valid spec")
        .task
}

/// A task with a callback URL, spec times 1000..2000.
fn task() -> Task {
    let mut spec = live_spec();
    spec.callback_url = Some(CB.into());
    task_with(spec)
}

fn apply(t: &Task, cmd: Command, now: UnixTime) -> Transition {
    t.apply(cmd, now, &P).expect("accepted")
}

fn reject(t: &Task, cmd: Command, now: UnixTime) -> Rejection {
    t.apply(cmd, now, &P).expect_err("rejected")
}

fn running() -> Task {
    apply(&task(), Command::StartTimeReached, 1_000).task
}

fn notified(t: &Transition) -> Vec<(CallbackState, Option<InvalidReason>, Option<ExitReason>)> {
    t.events()
        .into_iter()
        .map(|e| (e.state, e.reason, e.exit_reason))
        .collect()
}

const PULL: InvalidReason = InvalidReason::PullStreamFailed;

#[test]
fn create_schedules_start_and_end_and_sends_nothing() {
    let t = Task::create(TaskId("t-1".into()), AccountId("a".into()), live_spec(), 5).unwrap();
    assert_eq!(t.task.runtime, TaskRuntime::default());
    assert_eq!(
        (t.task.version, t.task.created_at, t.task.updated_at),
        (1, 5, 5)
    );
    assert_eq!(
        t.effects,
        vec![
            Effect::Schedule {
                at: 1_000,
                timer: Timer::Start
            },
            Effect::Schedule {
                at: 2_000,
                timer: Timer::End
            },
        ]
    );
    let bad_id = Task::create(TaskId("a.b".into()), AccountId("a".into()), live_spec(), 5);
    assert!(matches!(
        bad_id,
        Err(Rejection::Invalid {
            field: Field::TaskId,
            ..
        })
    ));
    let late = Task::create(
        TaskId("t".into()),
        AccountId("a".into()),
        live_spec(),
        2_000,
    );
    assert_eq!(late, Err(Rejection::IllegalDuration));
}

#[test]
fn starts_at_start_time_not_before() {
    let t = task();
    let early = apply(&t, Command::StartTimeReached, 999);
    assert_eq!(early.task, t, "an early timer changes nothing");
    assert_eq!(
        early.effects,
        vec![Effect::Schedule {
            at: 1_000,
            timer: Timer::Start
        }]
    );
    let started = apply(&t, Command::StartTimeReached, 1_000);
    let rt = &started.task.runtime;
    assert_eq!((rt.status, rt.run), (TaskStatus::Running, 1));
    assert_eq!(started.task.version, t.version + 1);
    assert_eq!(started.task.updated_at, 1_000);
    assert_eq!(started.effects[0], Effect::StartRelay { run: 1 });
    assert_eq!(
        notified(&started),
        vec![(CallbackState::Running, None, None)]
    );
    let event = &started.events()[0];
    assert_eq!((event.seq, event.id.as_str()), (1, "t-1.1"));
    assert_eq!((event.url.as_str(), event.time), (CB, 1_000));
    // A second firing is stale.
    let again = apply(&started.task, Command::StartTimeReached, 1_001);
    assert_eq!((again.task, again.effects), (started.task, vec![]));
}

#[test]
fn nothing_starts_past_the_end_time() {
    let t = apply(&task(), Command::StartTimeReached, 2_000);
    assert_eq!(t.task.runtime.status, TaskStatus::Exited);
    assert_eq!(t.task.runtime.exit_reason, Some(ExitReason::OverEndTime));
    assert!(
        !t.effects
            .iter()
            .any(|e| matches!(e, Effect::StartRelay { .. }))
    );
}

#[test]
fn end_time_exits_from_every_state_and_stops_the_relay() {
    let states = [
        task(),
        running(),
        stopped(),
        abnormal_waiting(),
        abnormal_alive(),
    ];
    for t in states {
        let was_alive = t.relay_alive();
        let early = apply(&t, Command::EndTimeReached, 1_999);
        assert_eq!(early.task, t);
        let done = apply(&t, Command::EndTimeReached, 2_000);
        let rt = &done.task.runtime;
        assert_eq!(rt.status, TaskStatus::Exited);
        assert_eq!(
            (rt.exit_reason, rt.exit_time),
            (Some(ExitReason::OverEndTime), Some(2_000))
        );
        assert_eq!(rt.invalid_reason, None);
        assert_eq!(
            done.effects
                .contains(&Effect::StopRelay { run: t.runtime.run }),
            was_alive
        );
        assert_eq!(done.purge_at(), Some(2_000 + 3_600));
        assert_eq!(
            notified(&done),
            vec![(CallbackState::Exit, None, Some(ExitReason::OverEndTime))]
        );
        let after = apply(&done.task, Command::EndTimeReached, 2_001);
        assert!(after.effects.is_empty() && after.task == done.task);
    }
}

fn stopped() -> Task {
    apply(&running(), Command::Stop, 1_100).task
}

/// Failed once, waiting for the first retry (due at 1_160).
fn abnormal_waiting() -> Task {
    let t = running();
    apply(
        &t,
        Command::RelayFailed {
            run: 1,
            reason: PULL,
            retryable: true,
            error: None,
        },
        1_100,
    )
    .task
}

/// Inside the relay's own grace period.
fn abnormal_alive() -> Task {
    apply(
        &running(),
        Command::RelayRecovering {
            run: 1,
            reason: InvalidReason::PushStreamFailed,
            error: None,
        },
        1_100,
    )
    .task
}

#[test]
fn relay_grace_period_then_recovery() {
    let t = abnormal_alive();
    assert_eq!(t.runtime.status, TaskStatus::Abnormal);
    assert_eq!(
        t.runtime.invalid_reason,
        Some(InvalidReason::PushStreamFailed)
    );
    assert!(t.relay_alive());
    let back = apply(&t, Command::RelayRunning { run: 1 }, 1_110);
    assert_eq!(back.task.runtime.status, TaskStatus::Running);
    assert_eq!(back.task.runtime.invalid_reason, None);
    assert_eq!(notified(&back), vec![(CallbackState::Running, None, None)]);
    // Seq: Running (1), Recovering (2), Running (3).
    assert_eq!(back.events()[0].seq, 3);
}

#[test]
fn retries_every_interval_up_to_the_count_then_stops() {
    let mut t = running();
    let mut now = 1_100;
    for attempt in 1..=3u32 {
        let failed = apply(
            &t,
            Command::RelayFailed {
                run: t.runtime.run,
                reason: PULL,
                retryable: false,
                error: None,
            },
            now,
        );
        let rt = &failed.task.runtime;
        assert_eq!(rt.status, TaskStatus::Abnormal);
        assert_eq!((rt.retries, rt.next_retry_at), (attempt, Some(now + 60)));
        assert!(failed.effects.contains(&Effect::Schedule {
            at: now + 60,
            timer: Timer::Retry
        }));
        let expected_events = if attempt == 1 {
            vec![(CallbackState::Recovering, Some(PULL), None)]
        } else {
            vec![]
        };
        assert_eq!(notified(&failed), expected_events, "attempt {attempt}");
        // An early or stale RetryDue does nothing (the early one re-arms).
        let stale = apply(&failed.task, Command::RetryDue { run: 99 }, now + 60);
        assert_eq!(stale.task, failed.task);
        let early = apply(
            &failed.task,
            Command::RetryDue { run: t.runtime.run },
            now + 59,
        );
        assert_eq!(early.task, failed.task);
        now += 60;
        let retry = apply(&failed.task, Command::RetryDue { run: t.runtime.run }, now);
        assert_eq!(retry.task.runtime.status, TaskStatus::Abnormal);
        assert_eq!(retry.task.runtime.run, t.runtime.run + 1);
        // The retry ends the source watch the failure started.
        assert_eq!(
            failed.effects.last(),
            Some(&Effect::WatchSource { run: t.runtime.run })
        );
        assert_eq!(
            retry.effects,
            vec![
                Effect::UnwatchSource { run: t.runtime.run },
                Effect::StartRelay {
                    run: t.runtime.run + 1
                }
            ]
        );
        t = retry.task;
    }
    let out = apply(
        &t,
        Command::RelayFailed {
            run: t.runtime.run,
            reason: PULL,
            retryable: true,
            error: None,
        },
        now,
    );
    assert_eq!(out.task.runtime.status, TaskStatus::Stopped);
    assert_eq!(out.task.runtime.invalid_reason, Some(PULL));
    assert_eq!(
        notified(&out),
        vec![(CallbackState::Offline, Some(PULL), None)]
    );
    assert!(
        !out.effects
            .iter()
            .any(|e| matches!(e, Effect::StopRelay { .. }))
    );
}

#[test]
fn recovery_resets_the_retry_budget() {
    let t = abnormal_waiting();
    let retry = apply(&t, Command::RetryDue { run: 1 }, 1_160).task;
    let up = apply(&retry, Command::RelayRunning { run: 2 }, 1_170).task;
    assert_eq!(
        (up.runtime.status, up.runtime.retries),
        (TaskStatus::Running, 0)
    );
    // A report from the replaced run moves nothing.
    let stale = apply(
        &up,
        Command::RelayFailed {
            run: 1,
            reason: PULL,
            retryable: true,
            error: None,
        },
        1_180,
    );
    assert_eq!(stale.task, up);
}

#[test]
fn zero_retries_stop_at_the_first_failure() {
    let mut spec = live_spec();
    spec.retry_count = 0;
    let t = apply(&task_with(spec), Command::StartTimeReached, 1_000).task;
    let out = apply(
        &t,
        Command::RelayFailed {
            run: 1,
            reason: PULL,
            retryable: true,
            error: None,
        },
        1_001,
    );
    assert_eq!(out.task.runtime.status, TaskStatus::Stopped);
}

fn relay_error(code: &str, at: UnixTime) -> LastError {
    LastError {
        side: crate::task::ErrorSide::Source,
        code: code.into(),
        message: format!("source: {code} happened"),
        at,
    }
}

#[test]
fn relay_errors_become_the_last_error_and_stay() {
    let first = relay_error("Disconnected", 1_100);
    let recovering = apply(
        &running(),
        Command::RelayRecovering {
            run: 1,
            reason: PULL,
            error: Some(first.clone()),
        },
        1_100,
    );
    assert_eq!(recovering.task.runtime.last_error, Some(first.clone()));
    // Recovery keeps it: it is the last error, with its time, not the current state.
    let back = apply(&recovering.task, Command::RelayRunning { run: 1 }, 1_110).task;
    assert_eq!(back.runtime.status, TaskStatus::Running);
    assert_eq!(back.runtime.last_error, Some(first.clone()));
    // A failure that says nothing keeps it too; one that does replaces it.
    let silent = apply(
        &back,
        Command::RelayFailed {
            run: 1,
            reason: PULL,
            retryable: true,
            error: None,
        },
        1_120,
    )
    .task;
    assert_eq!(silent.runtime.last_error, Some(first.clone()));
    let retry = apply(&silent, Command::RetryDue { run: 1 }, 1_180).task;
    let second = relay_error("Timeout", 1_190);
    let failed = apply(
        &retry,
        Command::RelayFailed {
            run: 2,
            reason: PULL,
            retryable: true,
            error: Some(second.clone()),
        },
        1_190,
    )
    .task;
    assert_eq!(failed.runtime.last_error, Some(second.clone()));
    // A report of a replaced run moves nothing, its error included.
    let stale = apply(
        &failed,
        Command::RelayRecovering {
            run: 1,
            reason: PULL,
            error: Some(relay_error("Refused", 1_200)),
        },
        1_200,
    );
    assert_eq!(stale.task, failed);
    // Stop and Restart keep it.
    let stopped = apply(&failed, Command::Stop, 1_300).task;
    let restarted = apply(&stopped, Command::Restart, 1_400).task;
    assert_eq!(restarted.runtime.status, TaskStatus::Running);
    assert_eq!(restarted.runtime.last_error, Some(second));
}

#[test]
fn stop_rules() {
    for t in [running(), abnormal_alive(), abnormal_waiting()] {
        let s = apply(&t, Command::Stop, 1_200);
        assert_eq!(s.task.runtime.status, TaskStatus::Stopped);
        assert_eq!(s.task.runtime.next_retry_at, None);
        assert_eq!(
            s.effects
                .contains(&Effect::StopRelay { run: t.runtime.run }),
            t.relay_alive()
        );
        assert_eq!(notified(&s), vec![(CallbackState::Offline, None, None)]);
    }
    for t in [task(), stopped(), apply(&task(), Command::Delete, 5).task] {
        assert_eq!(reject(&t, Command::Stop, 1_200), Rejection::TaskHasStopped);
    }
}

#[test]
fn restart_rules() {
    // Running: stop, then start a new run of the latest spec, from the top of the playlist.
    let mut t = running();
    t.runtime.current_file_index = 3;
    let r = apply(&t, Command::Restart, 1_200);
    assert_eq!(
        &r.effects[..2],
        &[Effect::StopRelay { run: 1 }, Effect::StartRelay { run: 2 }]
    );
    assert_eq!(r.task.runtime.current_file_index, t.spec.file_index);
    assert_eq!(notified(&r), vec![(CallbackState::Running, None, None)]);
    // Stopped or waiting for a retry: start directly.
    for t in [stopped(), abnormal_waiting()] {
        let r = apply(&t, Command::Restart, 1_200);
        let starts: Vec<&Effect> = r
            .effects
            .iter()
            .filter(|e| matches!(e, Effect::StartRelay { .. } | Effect::StopRelay { .. }))
            .collect();
        assert_eq!(
            starts,
            [&Effect::StartRelay {
                run: t.runtime.run + 1
            }]
        );
        let rt = &r.task.runtime;
        assert_eq!(
            (rt.status, rt.retries, rt.invalid_reason),
            (TaskStatus::Running, 0, None)
        );
    }
    // Refused before the start time, at or after the end time, and once exited.
    assert_eq!(
        reject(&task(), Command::Restart, 999),
        Rejection::NotStartedYet
    );
    assert_eq!(
        reject(&stopped(), Command::Restart, 2_000),
        Rejection::IllegalDuration
    );
    let exited = apply(&running(), Command::EndTimeReached, 2_000).task;
    assert_eq!(reject(&exited, Command::Restart, 1_500), Rejection::Exited);
    // Not started but past the start time (timer late): starts.
    let r = apply(&task(), Command::Restart, 1_000);
    assert_eq!(r.task.runtime.status, TaskStatus::Running);
}

#[test]
fn delete_exits_with_trigger_by_user_and_purges_now() {
    for t in [task(), running(), stopped(), abnormal_waiting()] {
        let d = apply(&t, Command::Delete, 1_500);
        let rt = &d.task.runtime;
        assert_eq!(
            (rt.status, rt.exit_reason),
            (TaskStatus::Exited, Some(ExitReason::TriggerByUser))
        );
        assert_eq!(rt.exit_time, Some(1_500));
        assert_eq!(d.purge_at(), Some(1_500));
        assert_eq!(
            notified(&d),
            vec![(CallbackState::Exit, None, Some(ExitReason::TriggerByUser))]
        );
    }
    let exited = apply(&running(), Command::EndTimeReached, 2_000).task;
    let d = apply(&exited, Command::Delete, 2_100);
    assert_eq!(d.task, exited);
    assert_eq!(d.effects, vec![Effect::Purge { at: 2_100 }]);
}

fn patch(f: impl FnOnce(&mut TaskPatch)) -> Command {
    let mut p = TaskPatch::default();
    f(&mut p);
    Command::Update(p)
}

#[test]
fn update_while_running_allows_only_callback_and_repeat() {
    for t in [running(), abnormal_alive(), abnormal_waiting()] {
        let u = apply(&t, patch(|p| p.callback_url = Some(None)), 1_200);
        assert_eq!(u.task.spec.callback_url, None);
        let u = apply(&t, patch(|p| p.repeat_number = Some(-1)), 1_200);
        assert_eq!(u.task.spec.repeat_number, -1);
        assert_eq!(
            u.effects
                .contains(&Effect::UpdateRelay { run: t.runtime.run }),
            t.relay_alive()
        );
        let refused = [
            (
                patch(|p| p.dst_url = Some("rtmp://x/y/z".into())),
                Field::DstUrl,
            ),
            (
                patch(|p| p.region = Some("cn-beijing".into())),
                Field::Region,
            ),
            (patch(|p| p.end_time = Some(1_900)), Field::EndTime),
            (patch(|p| p.file_index = Some(1)), Field::FileIndex),
        ];
        for (cmd, field) in refused {
            assert_eq!(reject(&t, cmd, 1_200), Rejection::TaskHasStarted(field));
        }
        // Unchanged values (the SDK always sends Region) are not changes.
        let same = apply(&t, patch(|p| p.region = Some(t.spec.region.clone())), 1_200);
        assert_eq!(same.task, t);
    }
}

/// The extra destinations (native API only) may change while the task runs, and reach a live
/// relay through `UpdateRelay`; the first destination may not, even together with them, and a
/// refused patch changes nothing.
#[test]
fn update_while_running_changes_the_extra_destinations_but_not_the_first() {
    let extras = vec!["rtmp://b.example/live/b".to_string()];
    for t in [running(), abnormal_alive(), abnormal_waiting()] {
        let u = apply(
            &t,
            patch(|p| p.extra_dst_urls = Some(extras.clone())),
            1_200,
        );
        assert_eq!(u.task.spec.extra_dst_urls, extras);
        assert_eq!(u.task.runtime, t.runtime, "the run goes on");
        let update = Effect::UpdateRelay { run: t.runtime.run };
        if t.relay_alive() {
            assert_eq!(u.effects, vec![update.clone()]);
        } else {
            // No relay to tell: the retry's relay starts with the new list.
            assert!(u.effects.is_empty(), "{:?}", u.effects);
        }
        // Removing them again is a change too.
        let back = apply(
            &u.task,
            patch(|p| p.extra_dst_urls = Some(Vec::new())),
            1_300,
        );
        assert!(back.task.spec.extra_dst_urls.is_empty());
        assert_eq!(back.effects.contains(&update), t.relay_alive());
        // The same list again is no change: no update for the relay.
        let same = apply(
            &u.task,
            patch(|p| p.extra_dst_urls = Some(extras.clone())),
            1_300,
        );
        assert_eq!(same.task, u.task);
        assert!(same.effects.is_empty());
        let first_too = patch(|p| {
            p.dst_url = Some("rtmp://x/y/z".into());
            p.extra_dst_urls = Some(extras.clone());
        });
        assert_eq!(
            reject(&t, first_too, 1_200),
            Rejection::TaskHasStarted(Field::DstUrl)
        );
        // Still validated: the first destination repeated among the extras.
        let repeated = patch(|p| p.extra_dst_urls = Some(vec![t.spec.dst_url.clone()]));
        assert!(matches!(
            reject(&t, repeated, 1_200),
            Rejection::Invalid {
                field: Field::ExtraDstUrls,
                ..
            }
        ));
    }
}

#[test]
fn update_while_stopped_allows_all_but_region() {
    let t = stopped();
    let u = apply(
        &t,
        patch(|p| {
            p.dst_url = Some("rtmp://new/app/s".into());
            p.end_time = Some(3_000);
            p.name = Some("renamed".into());
        }),
        1_200,
    );
    assert_eq!(u.task.spec.dst_url, "rtmp://new/app/s");
    assert_eq!(
        u.task.runtime.status,
        TaskStatus::Stopped,
        "effective at the next start"
    );
    assert_eq!(
        u.effects,
        vec![Effect::Schedule {
            at: 3_000,
            timer: Timer::End
        }]
    );
    assert_eq!(
        reject(&t, patch(|p| p.region = Some("cn-beijing".into())), 1_200),
        Rejection::TaskHasStarted(Field::Region)
    );
    // The new configuration is what the next run uses.
    let r = apply(&u.task, Command::Restart, 1_300);
    assert_eq!(r.task.spec.dst_url, "rtmp://new/app/s");
}

#[test]
fn update_before_start_allows_everything_and_rearms_timers() {
    let t = task();
    let u = apply(
        &t,
        patch(|p| {
            p.region = Some("cn-beijing".into());
            p.start_time = Some(1_500);
        }),
        100,
    );
    assert_eq!(u.task.spec.region, "cn-beijing");
    assert_eq!(
        u.effects,
        vec![Effect::Schedule {
            at: 1_500,
            timer: Timer::Start
        }]
    );
    // The old start timer fires early now, and re-arms.
    let early = apply(&u.task, Command::StartTimeReached, 1_000);
    assert_eq!(early.task.runtime.status, TaskStatus::NotStarted);
}

#[test]
fn update_durations_and_validation() {
    let t = task();
    let cases = [
        (patch(|p| p.end_time = Some(1_000)), 100),
        (patch(|p| p.start_time = Some(2_000)), 100),
        (patch(|p| p.end_time = Some(1_100)), 1_100),
    ];
    for (cmd, now) in cases {
        assert_eq!(reject(&t, cmd, now), Rejection::IllegalDuration);
    }
    assert!(matches!(
        reject(&t, patch(|p| p.retry_interval = Some(10)), 100),
        Rejection::Invalid {
            field: Field::RetryInterval,
            ..
        }
    ));
    // A stopped task past its end time (timer not yet fired) can still get other updates.
    let s = stopped();
    let u = apply(&s, patch(|p| p.name = Some("x".into())), 2_000);
    assert_eq!(u.task.spec.name, "x");
    // Exited: nothing.
    let exited = apply(&s, Command::EndTimeReached, 2_000).task;
    assert_eq!(reject(&exited, patch(|_| {}), 2_001), Rejection::Exited);
}

#[test]
fn no_callback_url_no_deliverable_events_but_a_log() {
    let t = task_with(live_spec());
    let started = apply(&t, Command::StartTimeReached, 1_000);
    assert!(started.deliverable_events().is_empty());
    // Still the task's history: numbered, with an empty URL (recorded, never delivered).
    let logged = started.events();
    assert_eq!(
        notified(&started),
        vec![(CallbackState::Running, None, None)]
    );
    assert_eq!((logged[0].seq, logged[0].url.as_str()), (1, ""));
    assert!(!logged[0].is_deliverable());
    assert_eq!(started.task.runtime.event_seq, 1);
    let stopped = apply(&started.task, Command::Stop, 1_100);
    assert!(stopped.deliverable_events().is_empty());
    assert_eq!(stopped.events()[0].seq, 2);
    // A callback URL set later applies from the next event on; the numbering continues.
    let with_url = apply(
        &stopped.task,
        patch(|p| p.callback_url = Some(Some(CB.into()))),
        1_200,
    );
    let restarted = apply(&with_url.task, Command::Restart, 1_300);
    assert_eq!(restarted.deliverable_events(), restarted.events());
    assert_eq!(restarted.events()[0].seq, 3);
    assert_eq!(restarted.events()[0].url, CB);
}

#[test]
fn callback_url_change_applies_to_the_next_event() {
    let t = running();
    let u = apply(
        &t,
        patch(|p| p.callback_url = Some(Some("https://new.example/cb".into()))),
        1_100,
    )
    .task;
    let s = apply(&u, Command::Stop, 1_200);
    assert_eq!(s.events()[0].url, "https://new.example/cb");
}

#[test]
fn playlist_finished_and_progress() {
    let t = running();
    let p = apply(
        &t,
        Command::Progress {
            run: 1,
            file_index: 2,
            offset: 30,
            loops: 1,
        },
        1_100,
    );
    let rt = &p.task.runtime;
    assert_eq!(
        (rt.current_file_index, rt.current_offset, rt.current_loop),
        (2, 30, 1)
    );
    assert!(p.effects.is_empty());
    let f = apply(&p.task, Command::PlaylistFinished { run: 1 }, 1_200);
    assert_eq!(f.task.runtime.status, TaskStatus::Stopped);
    assert_eq!(notified(&f), vec![(CallbackState::Offline, None, None)]);
    let item = f.events()[0]
        .item
        .clone()
        .expect("the end of the list is named");
    assert_eq!(item.kind, ItemEventKind::PlaylistFinished);
    assert_eq!(item.file_index, 2);
    let stale = apply(&f.task, Command::PlaylistFinished { run: 1 }, 1_201);
    assert_eq!(stale.task, f.task);
    // A restart plays from FileIndex / Offset, pass 0.
    let r = apply(&f.task, Command::Restart, 1_300);
    let rt = &r.task.runtime;
    assert_eq!(
        (rt.current_file_index, rt.current_offset, rt.current_loop),
        (0, 0, 0)
    );
}

#[test]
fn item_events_skips_always_switches_on_request() {
    let t = running();
    let event = |kind| Command::Item {
        run: 1,
        event: ItemEvent {
            kind,
            file_index: 0,
            source: String::new(),
            detail: Some("unsupported codec mp4v".into()),
        },
    };
    let skipped = apply(&t, event(ItemEventKind::Skipped), 1_100);
    let item = skipped.events()[0].item.clone().unwrap();
    assert_eq!(skipped.events()[0].state, CallbackState::Running);
    assert_eq!(
        item.source, t.spec.source_urls[0],
        "the source is filled in"
    );
    assert!(
        apply(&t, event(ItemEventKind::Started), 1_100)
            .events()
            .is_empty()
    );
    // A track the item plays without is told like a skipped item: always.
    let dropped = apply(&t, event(ItemEventKind::TrackDropped), 1_100);
    let item = dropped.events()[0].item.clone().unwrap();
    assert_eq!(item.kind, ItemEventKind::TrackDropped);
    assert_eq!(item.detail.as_deref(), Some("unsupported codec mp4v"));
    assert!(dropped.events()[0].is_deliverable());

    let mut switched = t.clone();
    switched.spec.notify_item_switch = Some("on".into());
    for kind in [ItemEventKind::Started, ItemEventKind::Finished] {
        let e = apply(&switched, event(kind), 1_100);
        assert_eq!(e.events()[0].item.as_ref().unwrap().kind, kind);
    }
    switched.spec.notify_item_switch = Some("off".into());
    assert!(
        apply(&switched, event(ItemEventKind::Started), 1_100)
            .events()
            .is_empty()
    );
    // A stale run's report changes nothing.
    let stale = Command::Item {
        run: 7,
        event: ItemEvent {
            kind: ItemEventKind::Skipped,
            file_index: 0,
            source: String::new(),
            detail: None,
        },
    };
    assert!(apply(&t, stale, 1_100).events().is_empty());
}

#[test]
fn recover_rearms_and_restarts() {
    let r = apply(&task(), Command::Recover, 10);
    assert_eq!(r.task, task());
    assert_eq!(
        r.effects,
        vec![
            Effect::Schedule {
                at: 1_000,
                timer: Timer::Start
            },
            Effect::Schedule {
                at: 2_000,
                timer: Timer::End
            }
        ]
    );
    let run = running();
    let r = apply(&run, Command::Recover, 1_500);
    assert_eq!(r.task.runtime.status, TaskStatus::Running);
    assert_eq!(r.effects[0], Effect::StartRelay { run: 2 });
    assert!(r.events().is_empty());
    let w = abnormal_waiting();
    let r = apply(&w, Command::Recover, 1_500);
    assert_eq!(r.task, w);
    assert_eq!(
        r.effects[0],
        Effect::Schedule {
            at: 1_160,
            timer: Timer::Retry
        }
    );
    // Past the end: exits, and stops no relay (none survived the restart).
    let r = apply(&running(), Command::Recover, 2_500);
    assert_eq!(r.task.runtime.status, TaskStatus::Exited);
    assert!(
        !r.effects
            .iter()
            .any(|e| matches!(e, Effect::StopRelay { .. }))
    );
    let r = apply(&stopped(), Command::Recover, 2_500);
    assert_eq!(r.task.runtime.exit_reason, Some(ExitReason::OverEndTime));
    let exited = r.task;
    let r = apply(&exited, Command::Recover, 2_600);
    assert_eq!(r.effects, vec![Effect::Purge { at: 2_500 + 3_600 }]);
}

#[test]
fn huge_retention_saturates() {
    let p = Policy {
        retention: u64::MAX,
    };
    let done = running().apply(Command::EndTimeReached, 2_000, &p).unwrap();
    assert_eq!(done.purge_at(), Some(UnixTime::MAX));
}

// --- Disable / Enable (the Volcengine dialect's Stop, Continue and Relaunch) ---

#[test]
fn disable_stops_a_task_that_has_not_started_and_it_never_starts() {
    let t = task();
    let off = apply(&t, Command::Disable, 500);
    assert_eq!(off.task.runtime.status, TaskStatus::Stopped);
    // Nothing ran: no relay to stop; stopped by the API: Offline.
    assert!(
        !off.effects
            .iter()
            .any(|e| matches!(e, Effect::StopRelay { .. })),
        "{:?}",
        off.effects
    );
    assert_eq!(notified(&off), vec![(CallbackState::Offline, None, None)]);
    let later = apply(&off.task, Command::StartTimeReached, 1_000);
    assert_eq!(later.task.runtime.status, TaskStatus::Stopped);
    assert_eq!(
        reject(&off.task, Command::Disable, 600),
        Rejection::TaskHasStopped
    );
}

#[test]
fn disable_of_a_running_task_is_stop() {
    let t = running();
    let off = apply(&t, Command::Disable, 1_100);
    assert_eq!(off.task.runtime.status, TaskStatus::Stopped);
    assert_eq!(notified(&off), vec![(CallbackState::Offline, None, None)]);
    assert!(off.effects.contains(&Effect::StopRelay { run: 1 }));
    let done = apply(&t, Command::EndTimeReached, 2_000).task;
    assert_eq!(reject(&done, Command::Disable, 2_001), Rejection::Exited);
}

#[test]
fn enable_accepts_only_stopped_tasks() {
    assert_eq!(
        reject(&task(), Command::Enable { from_start: false }, 500),
        Rejection::NotStopped
    );
    assert_eq!(
        reject(&running(), Command::Enable { from_start: true }, 1_100),
        Rejection::NotStopped
    );
    let done = apply(&running(), Command::EndTimeReached, 2_000).task;
    assert_eq!(
        reject(&done, Command::Enable { from_start: false }, 2_001),
        Rejection::Exited
    );
}

#[test]
fn enable_before_the_start_time_waits_for_it() {
    let off = apply(&task(), Command::Disable, 500).task;
    let on = apply(&off, Command::Enable { from_start: false }, 600);
    assert_eq!(on.task.runtime.status, TaskStatus::NotStarted);
    assert_eq!(
        on.effects,
        vec![Effect::Schedule {
            at: 1_000,
            timer: Timer::Start
        }]
    );
    let started = apply(&on.task, Command::StartTimeReached, 1_000);
    assert_eq!(started.task.runtime.status, TaskStatus::Running);
}

#[test]
fn continue_keeps_the_playlist_position_and_relaunch_starts_over() {
    let mut spec = live_spec();
    spec.source_type = crate::SourceType::Url;
    spec.source_protocol = None;
    spec.source_urls = vec!["http://h/a.mp4".into(), "http://h/b.mp4".into()];
    spec.repeat_number = 1;
    spec.callback_url = Some(CB.into());
    let t = apply(&task_with(spec), Command::StartTimeReached, 1_000).task;
    let run = t.runtime.run;
    let t = apply(
        &t,
        Command::Progress {
            run,
            file_index: 1,
            offset: 7,
            loops: 1,
        },
        1_050,
    )
    .task;
    let off = apply(&t, Command::Disable, 1_100).task;
    let on = apply(&off, Command::Enable { from_start: false }, 1_200);
    let rt = &on.task.runtime;
    assert_eq!(rt.status, TaskStatus::Running);
    assert_eq!(
        (rt.current_file_index, rt.current_offset, rt.current_loop),
        (1, 7, 1)
    );
    assert_eq!(rt.run, run + 1);
    assert!(on.effects.contains(&Effect::StartRelay { run: run + 1 }));
    assert!(notified(&on).contains(&(CallbackState::Running, None, None)));

    let again = apply(&off, Command::Enable { from_start: true }, 1_200).task;
    let rt = &again.runtime;
    assert_eq!(
        (rt.current_file_index, rt.current_offset, rt.current_loop),
        (0, 0, 0)
    );

    // A list that played to its end starts over on Continue. Its last progress report
    // counted the last pass; the end does not count it again: pass 2 of 2.
    let last = Command::Progress {
        run,
        file_index: 1,
        offset: 9,
        loops: 2,
    };
    let t = apply(&t, last, 1_290).task;
    let t = apply(&t, Command::PlaylistFinished { run }, 1_300).task;
    assert_eq!(t.runtime.status, TaskStatus::Stopped);
    assert_eq!(t.runtime.current_loop, 2);
    assert_eq!((t.playlist_pass(), t.playlist_passes()), (2, Some(2)));
    let on = apply(&t, Command::Enable { from_start: false }, 1_400).task;
    let rt = &on.runtime;
    assert_eq!(
        (rt.current_file_index, rt.current_offset, rt.current_loop),
        (0, 0, 0)
    );
}

#[test]
fn enable_past_the_end_time_is_an_illegal_duration() {
    let off = apply(&running(), Command::Disable, 1_100).task;
    assert_eq!(
        reject(&off, Command::Enable { from_start: false }, 2_000),
        Rejection::IllegalDuration
    );
}

fn failed_with(t: &Task, reason: InvalidReason, now: UnixTime) -> Transition {
    apply(
        t,
        Command::RelayFailed {
            run: t.runtime.run,
            reason,
            retryable: true,
            error: None,
        },
        now,
    )
}

#[test]
fn a_source_back_during_the_retry_interval_starts_the_retry_at_once() {
    let failed = failed_with(&running(), PULL, 1_100);
    let t = failed.task;
    assert_eq!(t.watched_run(), Some(1));
    assert_eq!(failed.effects.last(), Some(&Effect::WatchSource { run: 1 }));

    // Back 10 s into the 60 s interval: the retry starts now, counted once, no event yet.
    let back = apply(&t, Command::SourceBack { run: 1 }, 1_110);
    let rt = &back.task.runtime;
    assert_eq!(
        (rt.status, rt.run, rt.retries, rt.next_retry_at),
        (TaskStatus::Abnormal, 2, 1, None)
    );
    assert_eq!(
        back.effects,
        vec![
            Effect::UnwatchSource { run: 1 },
            Effect::StartRelay { run: 2 }
        ]
    );
    assert!(back.events().is_empty(), "no callback until media flows");
    assert!(back.task.relay_alive());

    // The retry timer finds nothing due; a second or stale report changes nothing.
    let due = apply(&back.task, Command::RetryDue { run: 2 }, 1_160);
    assert_eq!((due.task, due.effects), (back.task.clone(), vec![]));
    for stale in [1, 2, 99] {
        let again = apply(&back.task, Command::SourceBack { run: stale }, 1_111);
        assert_eq!((again.task, again.effects), (back.task.clone(), vec![]));
    }

    // The new run's media reaches the destination: 1, as any recovery, then Forwarding.
    let up = apply(&back.task, Command::RelayForwarding { run: 2 }, 1_112);
    assert_eq!(
        (up.task.runtime.status, up.task.runtime.retries),
        (TaskStatus::Running, 0)
    );
    assert_eq!(
        notified(&up),
        vec![
            (CallbackState::Running, None, None),
            (CallbackState::Forwarding, None, None)
        ]
    );
}

#[test]
fn a_source_back_past_the_end_time_exits() {
    let t = failed_with(&running(), PULL, 1_990).task;
    let back = apply(&t, Command::SourceBack { run: 1 }, 2_000);
    assert_eq!(back.task.runtime.status, TaskStatus::Exited);
    assert_eq!(back.effects[0], Effect::UnwatchSource { run: 1 });
    assert!(
        !back
            .effects
            .iter()
            .any(|e| matches!(e, Effect::StartRelay { .. }))
    );
}

#[test]
fn only_a_live_source_that_failed_is_watched() {
    // The destination failed: its source never left; the interval is waited out.
    let push = failed_with(&running(), InvalidReason::PushStreamFailed, 1_100);
    assert_eq!(push.task.watched_run(), None);
    assert!(
        !push
            .effects
            .iter()
            .any(|e| matches!(e, Effect::WatchSource { .. }))
    );
    let back = apply(&push.task, Command::SourceBack { run: 1 }, 1_110);
    assert_eq!(back.task, push.task);

    // Files are not "back": a playlist waits out its interval too.
    let mut spec = live_spec();
    spec.source_type = crate::task::SourceType::Url;
    spec.source_protocol = None;
    spec.source_urls = vec!["https://cdn.example/a.mp4".into()];
    let list = apply(&task_with(spec), Command::StartTimeReached, 1_000).task;
    let failed = failed_with(&list, PULL, 1_100);
    assert_eq!(failed.task.watched_run(), None);
    assert!(
        !failed
            .effects
            .iter()
            .any(|e| matches!(e, Effect::WatchSource { .. }))
    );

    // Inside the relay's grace period nothing is watched: the relay reconnects by itself.
    assert_eq!(abnormal_alive().watched_run(), None);
}

#[test]
fn every_way_out_of_the_wait_ends_the_watch() {
    let t = abnormal_waiting();
    let unwatch = Effect::UnwatchSource { run: 1 };
    for (cmd, now) in [
        (Command::Stop, 1_110),
        (Command::Disable, 1_110),
        (Command::Restart, 1_110),
        (Command::Delete, 1_110),
        (Command::EndTimeReached, 2_000),
        (Command::RetryDue { run: 1 }, 1_160),
        (Command::SourceBack { run: 1 }, 1_110),
    ] {
        let r = apply(&t, cmd.clone(), now);
        assert_eq!(r.effects.first(), Some(&unwatch), "{cmd:?}");
        assert_eq!(r.task.watched_run(), None, "{cmd:?}");
        assert!(
            !r.effects
                .iter()
                .any(|e| matches!(e, Effect::WatchSource { .. })),
            "{cmd:?}"
        );
    }
    // What a waiting task may change leaves the watch alone.
    let cb = apply(&t, patch(|p| p.callback_url = Some(None)), 1_110);
    assert_eq!(cb.task.watched_run(), Some(1));
    assert!(
        !cb.effects
            .iter()
            .any(|e| matches!(e, Effect::WatchSource { .. } | Effect::UnwatchSource { .. }))
    );
    // After an engine restart no watch exists: Recover starts one again.
    let r = apply(&t, Command::Recover, 1_120);
    assert_eq!(r.effects.last(), Some(&Effect::WatchSource { run: 1 }));
    assert!(
        !r.effects
            .iter()
            .any(|e| matches!(e, Effect::UnwatchSource { .. }))
    );
}

#[test]
fn forwarding_is_recorded_and_never_delivered() {
    let t = running();
    let fwd = apply(&t, Command::RelayForwarding { run: 1 }, 1_005);
    assert_eq!(fwd.task.runtime.status, TaskStatus::Running);
    assert_eq!(
        notified(&fwd),
        vec![(CallbackState::Forwarding, None, None)]
    );
    let event = &fwd.events()[0];
    assert_eq!((event.seq, event.time), (2, 1_005));
    assert_eq!(
        event.url, "",
        "recorded only, though the task has a callback URL"
    );
    assert!(fwd.deliverable_events().is_empty());
    assert_eq!(
        fwd.task.version,
        t.version + 1,
        "the event log is part of the task"
    );
    // A stale run, or a task whose relay is gone, records nothing.
    for (task, run) in [(t.clone(), 7), (stopped(), 1), (abnormal_waiting(), 1)] {
        let r = apply(&task, Command::RelayForwarding { run }, 1_200);
        assert_eq!((r.task, r.effects), (task, vec![]));
    }
}

#[test]
fn relay_notes_are_recorded_with_their_detail_and_never_delivered() {
    use crate::note::{NoteError, RelayNote};
    let t = running();
    let notes = [
        (
            RelayNote::SourceSwitched {
                from: 0,
                to: 1,
                switches: 1,
                why: Some(NoteError {
                    code: "timeout".into(),
                    message: "no media from the source within 5s".into(),
                }),
            },
            CallbackState::SourceSwitched,
            "source 0 -> 1: timeout: no media from the source within 5s",
        ),
        (
            RelayNote::DestinationDown {
                index: 1,
                error: Some(NoteError {
                    code: "connection-refused".into(),
                    message: "rtmp://a:b@h/live refused".into(),
                }),
                failed: false,
                unrecorded: 0,
            },
            CallbackState::DestinationDown,
            "destination 1: connection-refused: rtmp://a:***@h/live refused",
        ),
        (
            RelayNote::DestinationUp { index: 1 },
            CallbackState::DestinationUp,
            "destination 1",
        ),
        (
            RelayNote::SlateOn {
                starts: 1,
                unrecorded: 0,
                why: Some(NoteError {
                    code: "Timeout".into(),
                    message: "source: no media from the source for 1s".into(),
                }),
            },
            CallbackState::SlateOn,
            "slate on (start 1): Timeout: source: no media from the source for 1s",
        ),
        (
            RelayNote::SlateOff { source: 0 },
            CallbackState::SlateOff,
            "slate off: source 0 back",
        ),
    ];
    for (note, state, detail) in notes {
        let r = apply(
            &t,
            Command::RelayNote {
                run: 1,
                note: note.clone(),
            },
            1_010,
        );
        // The task's state is untouched: only the log grows (hence the version).
        let mut same = t.clone();
        same.runtime.event_seq += 1;
        same.version += 1;
        same.updated_at = 1_010;
        assert_eq!(r.task, same, "{note:?}");
        let events = r.events();
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!((e.state, e.detail.as_deref()), (state, Some(detail)));
        assert_eq!((e.reason, e.exit_reason, &e.item), (None, None, &None));
        assert_eq!(
            e.url, "",
            "recorded only, though the task has a callback URL"
        );
        assert!(r.deliverable_events().is_empty());
        // A stale run, or a task whose relay is gone, records nothing.
        for (task, run) in [(t.clone(), 7), (stopped(), 1), (abnormal_waiting(), 1)] {
            let r = apply(
                &task,
                Command::RelayNote {
                    run,
                    note: note.clone(),
                },
                1_200,
            );
            assert_eq!((r.task, r.effects), (task, vec![]));
        }
    }
    // While recovering (2, the relay alive), a note is recorded all the same.
    let r = apply(
        &abnormal_alive(),
        Command::RelayNote {
            run: abnormal_alive().runtime.run,
            note: RelayNote::DestinationUp { index: 0 },
        },
        1_300,
    );
    assert_eq!(
        notified(&r),
        vec![(CallbackState::DestinationUp, None, None)]
    );
    assert_eq!(r.task.runtime.status, TaskStatus::Abnormal);
}

#[test]
fn a_takeover_is_recorded_in_any_state_but_exited() {
    use crate::note::Takeover;
    let takeover = Takeover {
        node: "n1".into(),
        name: Some("a:8080".into()),
        epoch: 4,
    };
    for t in [running(), stopped(), abnormal_waiting(), task()] {
        let r = apply(&t, Command::TakenOver(takeover.clone()), 1_050);
        assert_eq!(r.task.runtime.status, t.runtime.status);
        assert_eq!(
            r.task.runtime.run, t.runtime.run,
            "recovery starts the relay, not this"
        );
        let events = r.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].state, CallbackState::TakenOver);
        assert_eq!(
            events[0].detail.as_deref(),
            Some("from node a:8080 (n1), epoch 4")
        );
        assert!(r.deliverable_events().is_empty());
        assert!(
            r.effects.iter().all(|e| matches!(e, Effect::Notify(_))),
            "{:?}",
            r.effects
        );
    }
    let exited = apply(&running(), Command::Delete, 1_060).task;
    let r = apply(&exited, Command::TakenOver(takeover), 1_070);
    assert_eq!((r.task, r.effects), (exited, vec![]));
}

#[test]
fn only_the_providers_states_are_callbacks() {
    let callbacks: Vec<CallbackState> = CallbackState::ALL
        .into_iter()
        .filter(|s| s.is_callback())
        .collect();
    assert_eq!(
        callbacks,
        [
            CallbackState::Running,
            CallbackState::Recovering,
            CallbackState::Offline,
            CallbackState::Exit
        ]
    );
}
