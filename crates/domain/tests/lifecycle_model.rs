//! Property tests of the task state machine against a tiny model (STYLE habit 13).
//!
//! Random command sequences at random, non-decreasing times drive a real [`Task`] and a model
//! that knows only the status rules (status, run, retries, retry deadline, exit reason). After
//! every command the two must agree — on acceptance or the kind of rejection too — and the
//! invariants below must hold:
//!
//! * the status is one of the five codes and never leaves -1; an exited task has an exit
//!   reason and time, and nothing changes it any more;
//! * the run number grows only by `StartRelay` effects, one at a time, each naming the new run;
//! * `StopRelay` only ever names a run a `StartRelay` started and that is still alive (as the
//!   engine sees it), and at most one relay is alive;
//! * retries stay within RetryCount while the task runs;
//! * the version grows by one exactly when the task changed;
//! * events follow the status change (Running / Recovering / Offline / Exit) and carry
//!   consecutive sequence numbers, callback URL or not (the event log); they are deliverable
//!   only with a callback URL, to the task's URL;
//! * a relay's error report of the current run becomes the last error; nothing else changes it;
//! * the source is watched (`WatchSource` … `UnwatchSource`) exactly while the task waits for
//!   a retry after its source failed, at most one watch at a time, and a source back during
//!   the wait starts the retry it already counted;
//! * `Forwarding` is recorded when the current run's media first reaches the destination,
//!   after the `Running` of a recovery, and is never deliverable.

use std::collections::BTreeSet;

use baton_domain::{
    AccountId, CallbackState, Command, DEFAULT_GROUP, Effect, ErrorSide, ExitReason, Field,
    InvalidReason, LastError, Policy, Rejection, SourceProtocol, SourceType, Task, TaskId,
    TaskPatch, TaskSpec, TaskStatus, UnixTime,
};
use proptest::prelude::*;

const POLICY: Policy = Policy { retention: 600 };

/// Which run an engine report names.
#[derive(Clone, Copy, Debug)]
enum RunSel {
    Current,
    Previous,
    Other(u64),
}

#[derive(Clone, Debug)]
enum Gen {
    Update(PatchGen),
    Stop,
    Restart,
    Disable,
    Enable(bool),
    Delete,
    Start,
    End,
    RetryDue(RunSel),
    SourceBack(RunSel),
    Running(RunSel),
    Forwarding(RunSel),
    Recovering(RunSel, InvalidReason),
    Failed(RunSel, InvalidReason, bool),
    Finished(RunSel),
    Progress(RunSel, u32, u32),
    Recover,
}

#[derive(Clone, Debug, Default)]
struct PatchGen {
    name: Option<String>,
    region: Option<&'static str>,
    dst_url: Option<&'static str>,
    /// Relative to now.
    start_time: Option<i64>,
    end_time: Option<i64>,
    callback_url: Option<bool>,
    repeat_number: Option<i32>,
    retry_count: Option<u32>,
    retry_interval: Option<u32>,
}

impl PatchGen {
    fn build(&self, now: UnixTime) -> TaskPatch {
        TaskPatch {
            name: self.name.clone(),
            region: self.region.map(Into::into),
            dst_url: self.dst_url.map(Into::into),
            start_time: self.start_time.map(|d| (now + d).max(0)),
            end_time: self.end_time.map(|d| (now + d).max(0)),
            callback_url: self
                .callback_url
                .map(|on| on.then(|| "https://cb.example/hook".to_owned())),
            repeat_number: self.repeat_number,
            retry_count: self.retry_count,
            retry_interval: self.retry_interval,
            ..TaskPatch::default()
        }
    }
}

fn run_sel() -> impl Strategy<Value = RunSel> {
    prop_oneof![
        6 => Just(RunSel::Current),
        1 => Just(RunSel::Previous),
        1 => (0u64..5).prop_map(RunSel::Other),
    ]
}

fn reason() -> impl Strategy<Value = InvalidReason> {
    prop::sample::select(InvalidReason::ALL.to_vec())
}

fn patch_gen() -> impl Strategy<Value = PatchGen> {
    (
        prop::option::weighted(0.2, "[a-z]{0,3}"),
        prop::option::weighted(0.2, prop::sample::select(vec!["cn-shanghai", "cn-beijing"])),
        prop::option::weighted(
            0.2,
            prop::sample::select(vec!["rtmp://d/a/b", "rtmp://e/a/b"]),
        ),
        prop::option::weighted(0.2, -300i64..600),
        prop::option::weighted(0.2, -100i64..1500),
        prop::option::weighted(0.3, any::<bool>()),
        prop::option::weighted(0.3, -1i32..3),
        prop::option::weighted(0.2, 0u32..4),
        prop::option::weighted(0.1, prop::sample::select(vec![30u32, 60, 120])),
    )
        .prop_map(
            |(name, region, dst_url, start_time, end_time, cb, repeat, count, interval)| PatchGen {
                name,
                region,
                dst_url,
                start_time,
                end_time,
                callback_url: cb,
                repeat_number: repeat,
                retry_count: count,
                retry_interval: interval,
            },
        )
}

fn command() -> impl Strategy<Value = Gen> {
    prop_oneof![
        3 => patch_gen().prop_map(Gen::Update),
        2 => Just(Gen::Stop),
        2 => Just(Gen::Restart),
        2 => Just(Gen::Disable),
        2 => any::<bool>().prop_map(Gen::Enable),
        1 => Just(Gen::Delete),
        3 => Just(Gen::Start),
        2 => Just(Gen::End),
        4 => run_sel().prop_map(Gen::RetryDue),
        3 => run_sel().prop_map(Gen::SourceBack),
        4 => run_sel().prop_map(Gen::Running),
        3 => run_sel().prop_map(Gen::Forwarding),
        3 => (run_sel(), reason()).prop_map(|(r, why)| Gen::Recovering(r, why)),
        4 => (run_sel(), reason(), any::<bool>()).prop_map(|(r, why, b)| Gen::Failed(r, why, b)),
        1 => run_sel().prop_map(Gen::Finished),
        1 => (run_sel(), 0u32..5, 0u32..100).prop_map(|(r, i, o)| Gen::Progress(r, i, o)),
        1 => Just(Gen::Recover),
    ]
}

fn spec(start: i64, duration: i64, retry_count: u32, interval: u32, callback: bool) -> TaskSpec {
    TaskSpec {
        name: "model".into(),
        group: DEFAULT_GROUP.to_string(),
        region: "cn-shanghai".into(),
        source_type: SourceType::Live,
        source_protocol: Some(SourceProtocol::Rtmp),
        source_urls: vec!["rtmp://s/a/b".into()],
        dst_url: "rtmp://d/a/b".into(),
        extra_dst_urls: Vec::new(),
        failover: Default::default(),
        slate: Default::default(),
        start_time: start,
        end_time: start + duration,
        callback_url: callback.then(|| "https://cb.example/hook".into()),
        repeat_number: 0,
        retry_count,
        retry_interval: interval,
        file_index: 0,
        offset: 0,
        auth_key: None,
        req_auth: None,
        notify_item_switch: None,
    }
}

/// What the model knows about a task.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Model {
    status: TaskStatus,
    run: u64,
    retries: u32,
    retry_at: Option<UnixTime>,
    exit: Option<ExitReason>,
    /// The last failure of a run was the source's (PullStreamFailed).
    source_failed: bool,
    spec: TaskSpec,
}

/// The model's verdict on a command: rejected (with what), or the next model state.
type Verdict = Result<Model, Rejection>;

impl Model {
    fn alive(&self) -> bool {
        self.status == TaskStatus::Running
            || (self.status == TaskStatus::Abnormal && self.retry_at.is_none())
    }

    /// The run whose source is watched: waiting for a retry after the source failed (the
    /// model's tasks are all live).
    fn watched(&self) -> Option<u64> {
        (self.status == TaskStatus::Abnormal && self.retry_at.is_some() && self.source_failed)
            .then_some(self.run)
    }

    fn start(&mut self) {
        self.status = TaskStatus::Running;
        self.run += 1;
        self.retries = 0;
        self.retry_at = None;
    }

    fn exit(&mut self, why: ExitReason) {
        self.status = TaskStatus::Exited;
        self.exit = Some(why);
        self.retry_at = None;
    }

    fn step(&self, cmd: &Command, now: UnixTime) -> Verdict {
        use TaskStatus::*;
        let mut m = self.clone();
        let (start, end) = (m.spec.start_time, m.spec.end_time);
        let current = |run: u64| run == self.run && self.alive();
        match cmd {
            Command::Update(patch) => return self.update(patch, now),
            Command::Stop => {
                if !matches!(m.status, Running | Abnormal) {
                    return Err(Rejection::TaskHasStopped);
                }
                m.status = Stopped;
                m.retry_at = None;
            }
            Command::Restart => {
                if m.status == Exited {
                    return Err(Rejection::Exited);
                }
                if now < start {
                    return Err(Rejection::NotStartedYet);
                }
                if now >= end {
                    return Err(Rejection::IllegalDuration);
                }
                m.start();
            }
            Command::Disable => match m.status {
                Exited => return Err(Rejection::Exited),
                Stopped => return Err(Rejection::TaskHasStopped),
                _ => {
                    m.status = Stopped;
                    m.retry_at = None;
                }
            },
            Command::Enable { .. } => {
                match m.status {
                    Exited => return Err(Rejection::Exited),
                    Stopped => {}
                    _ => return Err(Rejection::NotStopped),
                }
                if now >= end {
                    return Err(Rejection::IllegalDuration);
                }
                if now < start {
                    m.status = NotStarted;
                    m.retries = 0;
                    m.retry_at = None;
                } else {
                    m.start();
                }
            }
            Command::Delete if m.status != Exited => m.exit(ExitReason::TriggerByUser),
            Command::StartTimeReached if m.status == NotStarted && now >= start => {
                if now >= end {
                    m.exit(ExitReason::OverEndTime);
                } else {
                    m.start();
                }
            }
            Command::EndTimeReached if m.status != Exited && now >= end => {
                m.exit(ExitReason::OverEndTime)
            }
            Command::RetryDue { run } if *run == m.run && m.status == Abnormal => {
                if let Some(at) = m.retry_at {
                    if now >= end {
                        m.exit(ExitReason::OverEndTime);
                    } else if now >= at {
                        m.run += 1;
                        m.retry_at = None;
                    }
                }
            }
            Command::SourceBack { run } if self.watched() == Some(*run) => {
                if now >= end {
                    m.exit(ExitReason::OverEndTime);
                } else {
                    m.run += 1;
                    m.retry_at = None;
                }
            }
            Command::RelayRunning { run } | Command::RelayForwarding { run }
                if current(*run) && m.status == Abnormal =>
            {
                m.status = Running;
                m.retries = 0;
            }
            Command::RelayRecovering { run, .. } if current(*run) => m.status = Abnormal,
            Command::RelayFailed { run, reason, .. } if current(*run) => {
                m.source_failed = *reason == InvalidReason::PullStreamFailed;
                if m.retries < m.spec.retry_count {
                    m.status = Abnormal;
                    m.retries += 1;
                    m.retry_at = Some(now + i64::from(m.spec.retry_interval));
                } else {
                    m.status = Stopped;
                }
            }
            Command::PlaylistFinished { run } if current(*run) => m.status = Stopped,
            Command::Recover if m.status != Exited => {
                if now >= end {
                    m.exit(ExitReason::OverEndTime);
                } else if m.alive() {
                    m.run += 1;
                }
            }
            _ => {}
        }
        Ok(m)
    }

    fn update(&self, patch: &TaskPatch, now: UnixTime) -> Verdict {
        use TaskStatus::*;
        let old = &self.spec;
        let new = patch.apply_to(old);
        let changed: Vec<Field> = [
            (Field::Name, new.name != old.name),
            (Field::Region, new.region != old.region),
            (Field::DstUrl, new.dst_url != old.dst_url),
            (Field::StartTime, new.start_time != old.start_time),
            (Field::EndTime, new.end_time != old.end_time),
            (Field::CallbackUrl, new.callback_url != old.callback_url),
            (Field::RepeatNumber, new.repeat_number != old.repeat_number),
            (Field::RetryCount, new.retry_count != old.retry_count),
            (
                Field::RetryInterval,
                new.retry_interval != old.retry_interval,
            ),
        ]
        .into_iter()
        .filter_map(|(f, c)| c.then_some(f))
        .collect();
        match self.status {
            Exited => return Err(Rejection::Exited),
            Running | Abnormal => {
                if let Some(&f) = changed
                    .iter()
                    .find(|f| !matches!(f, Field::CallbackUrl | Field::RepeatNumber))
                {
                    return Err(Rejection::TaskHasStarted(f));
                }
            }
            Stopped if changed.contains(&Field::Region) => {
                return Err(Rejection::TaskHasStarted(Field::Region));
            }
            _ => {}
        }
        if changed.is_empty() {
            return Ok(self.clone());
        }
        if !(60..=300).contains(&new.retry_interval) {
            return Err(Rejection::Invalid {
                field: Field::RetryInterval,
                reason: String::new(),
            });
        }
        let times = changed.contains(&Field::StartTime) || changed.contains(&Field::EndTime);
        if new.end_time <= new.start_time || (times && new.end_time <= now) {
            return Err(Rejection::IllegalDuration);
        }
        let mut m = self.clone();
        m.spec = new;
        Ok(m)
    }
}

fn resolve(sel: RunSel, run: u64) -> u64 {
    match sel {
        RunSel::Current => run,
        RunSel::Previous => run.saturating_sub(1),
        RunSel::Other(r) => r,
    }
}

fn to_command(g: &Gen, task: &Task, now: UnixTime) -> Command {
    let run = task.runtime.run;
    match g {
        Gen::Update(p) => Command::Update(p.build(now)),
        Gen::Stop => Command::Stop,
        Gen::Restart => Command::Restart,
        Gen::Disable => Command::Disable,
        Gen::Enable(from_start) => Command::Enable {
            from_start: *from_start,
        },
        Gen::Delete => Command::Delete,
        Gen::Start => Command::StartTimeReached,
        Gen::End => Command::EndTimeReached,
        Gen::RetryDue(s) => Command::RetryDue {
            run: resolve(*s, run),
        },
        Gen::SourceBack(s) => Command::SourceBack {
            run: resolve(*s, run),
        },
        Gen::Running(s) => Command::RelayRunning {
            run: resolve(*s, run),
        },
        Gen::Forwarding(s) => Command::RelayForwarding {
            run: resolve(*s, run),
        },
        Gen::Recovering(s, reason) => Command::RelayRecovering {
            run: resolve(*s, run),
            reason: *reason,
            // Every other report says what happened.
            error: (now % 2 == 0).then(|| relay_error(*reason, now)),
        },
        Gen::Failed(s, reason, retryable) => Command::RelayFailed {
            run: resolve(*s, run),
            reason: *reason,
            retryable: *retryable,
            error: retryable.then(|| relay_error(*reason, now)),
        },
        Gen::Finished(s) => Command::PlaylistFinished {
            run: resolve(*s, run),
        },
        Gen::Progress(s, i, o) => Command::Progress {
            run: resolve(*s, run),
            file_index: *i,
            offset: *o,
            loops: 0,
        },
        Gen::Recover => Command::Recover,
    }
}

/// What a relay would report with `reason` at `now`.
fn relay_error(reason: InvalidReason, now: UnixTime) -> LastError {
    let side = match reason {
        InvalidReason::PullStreamFailed => ErrorSide::Source,
        InvalidReason::PushStreamFailed => ErrorSide::Destination,
        InvalidReason::UnknownError => ErrorSide::Internal,
    };
    LastError {
        side,
        code: "Disconnected".into(),
        message: format!("{} lost at {now}", side.as_str()),
        at: now,
    }
}

/// Rejections compared by kind (the reason text of `Invalid` is the implementation's).
fn same_rejection(a: &Rejection, b: &Rejection) -> bool {
    match (a, b) {
        (Rejection::Invalid { field: x, .. }, Rejection::Invalid { field: y, .. }) => x == y,
        _ => a == b,
    }
}

/// The events of a command: the callback state a status change announces (cloud-apis §2.7),
/// then `Forwarding` when the current run's media first reached the destination.
fn expected_events(before: &Task, after: TaskStatus, cmd: &Command) -> Vec<CallbackState> {
    let mut events: Vec<CallbackState> = status_event(before.runtime.status, after, cmd)
        .into_iter()
        .collect();
    if matches!(cmd, Command::RelayForwarding { run } if *run == before.runtime.run && before.relay_alive())
    {
        events.push(CallbackState::Forwarding);
    }
    events
}

fn status_event(before: TaskStatus, after: TaskStatus, cmd: &Command) -> Option<CallbackState> {
    use TaskStatus::*;
    match (before, after) {
        _ if matches!(cmd, Command::Restart) => Some(CallbackState::Running),
        (a, b) if a == b => None,
        (_, Running) => Some(CallbackState::Running),
        (Running, Abnormal) => Some(CallbackState::Recovering),
        (_, Stopped) => Some(CallbackState::Offline),
        (_, Exited) => Some(CallbackState::Exit),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn the_state_machine_follows_the_model(
        start in 0i64..300,
        duration in 1i64..1_500,
        retry_count in 0u32..4,
        interval in prop::sample::select(vec![60u32, 90, 300]),
        callback in any::<bool>(),
        steps in prop::collection::vec((0i64..120, command()), 1..80),
    ) {
        let spec = spec(start, duration, retry_count, interval, callback);
        let created = Task::create(TaskId("p-1".into()), AccountId("a".into()), spec.clone(), 0)
            .expect("generated specs are valid");
        let mut task = created.task;
        let mut model = Model {
            status: TaskStatus::NotStarted,
            run: 0,
            retries: 0,
            retry_at: None,
            exit: None,
            source_failed: false,
            spec,
        };
        // Runs the engine would hold a relay for.
        let mut alive: BTreeSet<u64> = BTreeSet::new();
        let mut started: BTreeSet<u64> = BTreeSet::new();
        // Runs whose source the engine would watch.
        let mut watched: BTreeSet<u64> = BTreeSet::new();
        let mut now = 0;
        for (dt, choice) in &steps {
            now += dt;
            let cmd = to_command(choice, &task, now);
            if cmd == Command::Recover {
                // A restart of the engine: every relay and watch died with the process.
                alive.clear();
                watched.clear();
            }
            let verdict = model.step(&cmd, now);
            let result = task.apply(cmd.clone(), now, &POLICY);
            let t = match (result, verdict) {
                (Err(got), Err(want)) => {
                    prop_assert!(same_rejection(&got, &want), "{cmd:?}: {got:?} vs {want:?}");
                    continue;
                }
                (Ok(t), Ok(next)) => {
                    model = next;
                    t
                }
                (got, want) => {
                    return Err(TestCaseError::fail(format!("{cmd:?} at {now}: {got:?} vs model {want:?}")));
                }
            };
            let (before, after) = (&task, &t.task);
            let rt = &after.runtime;

            // Agreement with the model.
            prop_assert_eq!(rt.status, model.status, "{:?}", cmd);
            prop_assert_eq!(rt.run, model.run);
            prop_assert_eq!(rt.retries, model.retries);
            prop_assert_eq!(rt.next_retry_at, model.retry_at);
            prop_assert_eq!(rt.exit_reason, model.exit);
            prop_assert_eq!(t.task.watched_run(), model.watched());
            prop_assert_eq!(&after.spec, &model.spec);

            // Status and exit invariants.
            prop_assert!([-1, 0, 1, 2, 3].contains(&rt.status.code()));
            if before.runtime.status == TaskStatus::Exited {
                prop_assert_eq!(after, before, "an exited task never changes");
            }
            prop_assert_eq!(rt.status == TaskStatus::Exited, rt.exit_reason.is_some());
            prop_assert_eq!(rt.exit_reason.is_some(), rt.exit_time.is_some());
            match rt.status {
                TaskStatus::Running => prop_assert_eq!(rt.invalid_reason, None),
                TaskStatus::Abnormal => prop_assert!(rt.invalid_reason.is_some()),
                _ => {}
            }
            if rt.status.is_running() {
                prop_assert!(rt.retries <= after.spec.retry_count);
            }

            // Versions.
            let changed = after != &Task { version: after.version, updated_at: after.updated_at, ..before.clone() };
            prop_assert_eq!(after.version, before.version + u64::from(changed));
            prop_assert_eq!(after.updated_at, if changed { now } else { before.updated_at });

            // Relay bookkeeping as the engine sees it.
            let mut run = before.runtime.run;
            let relay_ended = matches!(cmd, Command::RelayFailed { run: r, .. } | Command::PlaylistFinished { run: r } if r == before.runtime.run && before.relay_alive())
                && changed;
            if relay_ended {
                alive.remove(&before.runtime.run);
            }
            for e in &t.effects {
                match e {
                    Effect::StartRelay { run: r } => {
                        run += 1;
                        prop_assert_eq!(*r, run, "runs are numbered in order");
                        prop_assert!(alive.is_empty(), "one relay at a time: {:?}", alive);
                        alive.insert(*r);
                        started.insert(*r);
                    }
                    Effect::StopRelay { run: r } => {
                        prop_assert!(started.contains(r), "stop of a run never started");
                        prop_assert!(alive.remove(r), "stop of a run not alive");
                    }
                    Effect::UpdateRelay { run: r } => prop_assert!(alive.contains(r)),
                    Effect::WatchSource { run: r } => {
                        prop_assert!(watched.is_empty(), "one watch at a time: {:?}", watched);
                        prop_assert_eq!(*r, rt.run, "the current run's source");
                        watched.insert(*r);
                    }
                    Effect::UnwatchSource { run: r } => {
                        prop_assert!(watched.remove(r), "unwatch of a source not watched");
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(run, rt.run, "the run moves only with StartRelay");
            prop_assert_eq!(after.relay_alive(), alive.contains(&rt.run));
            prop_assert!(alive.len() <= 1);
            prop_assert_eq!(watched.iter().next().copied(), after.watched_run());
            prop_assert!(watched.len() <= 1);
            if let Command::SourceBack { run: r } = cmd
                && before.watched_run() == Some(r)
                && rt.status != TaskStatus::Exited
            {
                prop_assert_eq!(rt.run, r + 1, "the retry starts at once");
                prop_assert_eq!(rt.retries, before.runtime.retries, "counted once");
            }

            // The last error: the current run's report, when it says what happened.
            let reported = match &cmd {
                Command::RelayRecovering { run, error, .. } | Command::RelayFailed { run, error, .. }
                    if *run == before.runtime.run && before.relay_alive() => error.clone(),
                _ => None,
            };
            prop_assert_eq!(rt.last_error.as_ref(), reported.as_ref().or(before.runtime.last_error.as_ref()));

            // Events: always recorded, delivered only with a callback URL.
            let events = t.events();
            let mut seq = before.runtime.event_seq;
            for e in &events {
                seq += 1;
                prop_assert_eq!(e.seq, seq);
                prop_assert_eq!(&e.id, &format!("p-1.{seq}"));
                prop_assert_eq!(e.time, now);
            }
            prop_assert_eq!(rt.event_seq, seq);
            let expected = expected_events(before, rt.status, &cmd);
            prop_assert_eq!(events.iter().map(|e| e.state).collect::<Vec<_>>(), expected);
            let url = after.spec.callback_url.clone().unwrap_or_default();
            for e in &events {
                let want = if e.state == CallbackState::Forwarding { "" } else { url.as_str() };
                prop_assert_eq!(e.url.as_str(), want);
            }
            let callbacks = events.iter().filter(|e| e.state != CallbackState::Forwarding).count();
            let deliverable = t.deliverable_events();
            prop_assert_eq!(deliverable.len(), if url.is_empty() { 0 } else { callbacks });
            if let Some(e) = events.first() {
                prop_assert_eq!(e.exit_reason, rt.exit_reason);
            }

            task = t.task;
        }
    }
}
