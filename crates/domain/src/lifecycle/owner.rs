//! What the owner of a task has running for it, read from the stored task alone.
//!
//! On one node the engine carries out each transition's effects and so keeps its relays,
//! source watches and timers in line with the task. On a shared database a user's command may
//! be applied by a node that does not own the task: the write lands, its effects do not. The
//! owner then reads the stored task and brings what it runs in line with [`Task::owner_plan`]
//! (docs/design/multi-node.md, "owner reconciliation"). The plan is what the transitions'
//! effects would have left running, so a node that carried them out itself finds nothing to
//! change.

use super::Timer;
use crate::task::{Task, TaskStatus, UnixTime};

/// What the owner of a task has running for it ([`Task::owner_plan`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerPlan {
    /// The run whose relay runs (`None`: no relay). A run the owner did not start itself is
    /// started; a relay of any other run is stopped.
    pub relay: Option<u64>,
    /// The run whose source is watched for its return ([`Task::watched_run`]).
    pub watch: Option<u64>,
    /// The timers that are armed, each at its time (a time past fires at once; a timer that
    /// fires early re-arms itself, one that finds nothing to do changes nothing).
    pub timers: Vec<(Timer, UnixTime)>,
    /// The task exited: nothing runs for it, and its owner gives its lease back.
    pub exited: bool,
}

impl Task {
    /// What the task's owner has running for it as stored: the relay of the current run while
    /// the relay is alive (1, or 2 inside the relay's grace period), the source watch while it
    /// waits for a retry, the start timer before it started, the retry timer while a retry is
    /// due, and the end timer until it exits — the state [`Command::Recover`] sets up, except
    /// that the relay keeps its run (the owner's relay of that run goes on, brought in line
    /// with the stored spec as [`Effect::UpdateRelay`] would: its RepeatNumber and its
    /// destinations, when a patch was applied on another node).
    ///
    /// [`Effect::UpdateRelay`]: super::Effect::UpdateRelay
    ///
    /// [`Command::Recover`]: super::Command::Recover
    pub fn owner_plan(&self) -> OwnerPlan {
        let rt = &self.runtime;
        if rt.status == TaskStatus::Exited {
            return OwnerPlan {
                relay: None,
                watch: None,
                timers: Vec::new(),
                exited: true,
            };
        }
        let mut timers = Vec::new();
        match (rt.status, rt.next_retry_at) {
            (TaskStatus::NotStarted, _) => timers.push((Timer::Start, self.spec.start_time)),
            (TaskStatus::Abnormal, Some(due)) => timers.push((Timer::Retry, due)),
            _ => {}
        }
        timers.push((Timer::End, self.spec.end_time));
        OwnerPlan {
            relay: self.relay_alive().then_some(rt.run),
            watch: self.watched_run(),
            timers,
            exited: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Command, Effect, Policy};
    use super::*;
    use crate::task::{AccountId, InvalidReason, TaskId, TaskSpec};

    fn spec() -> TaskSpec {
        TaskSpec {
            name: "t".into(),
            group: crate::DEFAULT_GROUP.to_string(),
            region: "cn-shanghai".into(),
            source_type: crate::SourceType::Live,
            source_protocol: Some(crate::SourceProtocol::Rtmp),
            source_urls: vec!["rtmp://src.example/live/a".into()],
            dst_url: "rtmp://dst.example/live/a".into(),
            extra_dst_urls: Vec::new(),
            failover: Default::default(),
            slate: Default::default(),
            start_time: 1_000,
            end_time: 5_000,
            callback_url: None,
            repeat_number: 0,
            retry_count: 2,
            retry_interval: 60,
            file_index: 0,
            offset: 0,
            auth_key: None,
            req_auth: None,
            notify_item_switch: None,
        }
    }

    fn apply(task: &Task, command: Command, now: UnixTime) -> (Task, Vec<Effect>) {
        let t = task
            .apply(command, now, &Policy::default())
            .expect("applies");
        (t.task, t.effects)
    }

    /// The plan is what the effects leave running: followed through a task's life, each
    /// transition's StartRelay / StopRelay / WatchSource / Schedule agree with the plans of
    /// the states before and after it.
    #[test]
    fn the_plan_is_what_the_effects_leave_running() {
        let id = TaskId("t-1".into());
        let created = Task::create(id, AccountId("a".into()), spec(), 500).expect("created");
        let task = created.task;
        assert_eq!(
            task.owner_plan(),
            OwnerPlan {
                relay: None,
                watch: None,
                timers: vec![(Timer::Start, 1_000), (Timer::End, 5_000)],
                exited: false,
            }
        );
        let (running, effects) = apply(&task, Command::StartTimeReached, 1_000);
        assert!(effects.contains(&Effect::StartRelay { run: 1 }));
        assert_eq!(running.owner_plan().relay, Some(1));
        assert_eq!(running.owner_plan().timers, vec![(Timer::End, 5_000)]);

        // The source failed: a retry is due in 60 s and the source is watched meanwhile.
        let (waiting, effects) = apply(
            &running,
            Command::RelayFailed {
                run: 1,
                reason: InvalidReason::PullStreamFailed,
                retryable: true,
                error: None,
            },
            1_100,
        );
        assert!(effects.contains(&Effect::WatchSource { run: 1 }));
        let plan = waiting.owner_plan();
        assert_eq!((plan.relay, plan.watch), (None, Some(1)));
        assert_eq!(
            plan.timers,
            vec![(Timer::Retry, 1_160), (Timer::End, 5_000)]
        );

        // A restart elsewhere: a new run, no watch, no retry.
        let (restarted, effects) = apply(&waiting, Command::Restart, 1_120);
        assert!(effects.contains(&Effect::StartRelay { run: 2 }));
        let plan = restarted.owner_plan();
        assert_eq!((plan.relay, plan.watch), (Some(2), None));
        assert_eq!(plan.timers, vec![(Timer::End, 5_000)]);

        let (stopped, effects) = apply(&restarted, Command::Stop, 1_130);
        assert!(effects.contains(&Effect::StopRelay { run: 2 }));
        assert_eq!(stopped.owner_plan().relay, None);
        assert_eq!(stopped.owner_plan().timers, vec![(Timer::End, 5_000)]);

        let (deleted, _) = apply(&stopped, Command::Delete, 1_140);
        assert!(deleted.owner_plan().exited);
        assert_eq!(deleted.owner_plan().timers, Vec::new());
    }

    /// After a restart of the engine, Recover sets up the plan but with a new run: the plan
    /// keeps the stored run (the owner's relay of that run goes on).
    #[test]
    fn recovery_sets_up_the_plan_with_a_new_run() {
        let id = TaskId("t-2".into());
        let task = Task::create(id, AccountId("a".into()), spec(), 500)
            .expect("created")
            .task;
        let (running, _) = apply(&task, Command::StartTimeReached, 1_000);
        let (recovered, effects) = apply(&running, Command::Recover, 2_000);
        assert!(effects.contains(&Effect::StartRelay { run: 2 }));
        assert!(effects.contains(&Effect::Schedule {
            at: 5_000,
            timer: Timer::End
        }));
        assert_eq!(recovered.owner_plan().relay, Some(2));
    }
}
