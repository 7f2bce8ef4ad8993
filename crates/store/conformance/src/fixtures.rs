//! Tasks, events, blocks and groups to store. Built field by field (not through the lifecycle) so that every
//! value a store must keep can be chosen, extreme ones included.

use baton_domain::{
    AccountId, Block, CallbackEvent, CallbackState, DEFAULT_GROUP, ErrorSide, ExitReason,
    GroupStatus, InvalidReason, LastError, SourceProtocol, SourceType, StreamPath, Task, TaskGroup,
    TaskId, TaskRuntime, TaskSpec, TaskStatus, UnixTime,
};

/// A plain not-started live task of `account` named `id`, created at `created_at`.
pub fn task(account: &str, id: &str, created_at: UnixTime) -> Task {
    Task {
        id: TaskId(id.into()),
        account: AccountId(account.into()),
        spec: TaskSpec {
            name: format!("name of {id}"),
            group: DEFAULT_GROUP.to_string(),
            region: "cn-shanghai".into(),
            source_type: SourceType::Live,
            source_protocol: Some(SourceProtocol::Rtmp),
            source_urls: vec![format!("rtmp://src.example/live/{id}")],
            dst_url: format!("rtmp://dst.example/live/{id}"),
            extra_dst_urls: Vec::new(),
            failover: Default::default(),
            slate: Default::default(),
            start_time: 1_000,
            end_time: 2_000,
            callback_url: None,
            repeat_number: 0,
            retry_count: 3,
            retry_interval: 60,
            file_index: 0,
            offset: 0,
            auth_key: None,
            req_auth: None,
            notify_item_switch: None,
        },
        runtime: TaskRuntime::default(),
        created_at,
        updated_at: created_at,
        version: 1,
    }
}

/// A task with every optional field set and every number far from its default: non-ASCII
/// text, 30 sources, the largest counters a store must hold (`i64::MAX` for the 64-bit ones,
/// `u32::MAX` for the 32-bit ones).
pub fn full_task() -> Task {
    let big = i64::MAX as u64;
    Task {
        id: TaskId("Full_task-0123456789abcdef0123456789abcdef0123456789ab".into()),
        account: AccountId("account-full".into()),
        spec: TaskSpec {
            name: "直播 «relay» 'quoted' \"double\" 100%_done \\ back".into(),
            group: "Group «组» 'quoted' 100%_ \\".into(),
            region: "ap-southeast-1".into(),
            source_type: SourceType::Url,
            source_protocol: Some(SourceProtocol::HttpFlv),
            source_urls: (0..30)
                .map(|i| format!("https://files.example/v/{i}.mp4?sig=a%2Fb&x=\"y\""))
                .collect(),
            dst_url: "rtmps://user:pw@dst.example:443/app/stream?key=k%20v".into(),
            extra_dst_urls: vec![
                "srt://dst2.example:9000?streamid=#!::r=live/s,m=publish&passphrase=p%20q".into(),
                "rtmp://dst3.example/直播/\"quoted\"?k='v'".into(),
            ],
            failover: Default::default(),
            slate: Default::default(),
            start_time: 0,
            end_time: 253_402_300_799,
            callback_url: Some("https://cb.example/hook?token=t".into()),
            repeat_number: -1,
            retry_count: u32::MAX,
            retry_interval: u32::MAX,
            file_index: u32::MAX,
            offset: u32::MAX,
            auth_key: Some("auth-key".into()),
            req_auth: Some("req-auth".into()),
            notify_item_switch: Some("on".into()),
        },
        runtime: TaskRuntime {
            status: TaskStatus::Exited,
            invalid_reason: Some(InvalidReason::PushStreamFailed),
            exit_reason: Some(ExitReason::OverEndTime),
            exit_time: Some(i64::MAX),
            retries: u32::MAX,
            next_retry_at: Some(i64::MIN),
            current_file_index: u32::MAX,
            current_offset: u32::MAX,
            current_loop: u32::MAX,
            run: big,
            event_seq: big,
            last_error: Some(LastError {
                side: ErrorSide::Destination,
                code: "Refused «拒绝» 'q' 100%_".into(),
                message: "destination: publish refused: \"NetStream.Publish.BadName\" \\ {}".into(),
                at: i64::MIN,
            }),
        },
        created_at: i64::MIN,
        updated_at: i64::MAX,
        version: big,
    }
}

/// A task of `account` named `id` that exited (at its end time) at `exit_time`.
pub fn exited(account: &str, id: &str, exit_time: UnixTime) -> Task {
    let mut t = task(account, id, 0);
    t.runtime.status = TaskStatus::Exited;
    t.runtime.exit_reason = Some(ExitReason::OverEndTime);
    t.runtime.exit_time = Some(exit_time);
    t
}

/// Event number `seq` of `task`, at `time`, to be delivered to a callback URL.
pub fn event(task: &Task, seq: u64, time: UnixTime) -> CallbackEvent {
    CallbackEvent {
        id: CallbackEvent::id_for(&task.id, seq),
        seq,
        account: task.account.clone(),
        task_id: task.id.clone(),
        task_name: task.spec.name.clone(),
        url: "https://cb.example/hook".into(),
        state: CallbackState::Running,
        reason: None,
        exit_reason: None,
        item: None,
        detail: None,
        time,
        auth_key: None,
    }
}

/// Event number `seq` of `task`, at `time`, of a task without a callback URL: recorded,
/// never delivered.
pub fn recorded_event(task: &Task, seq: u64, time: UnixTime) -> CallbackEvent {
    CallbackEvent {
        url: String::new(),
        ..event(task, seq, time)
    }
}

/// A block of `account` on `domain/app/stream`, forbidden at `created_at` until `resume_at`.
pub fn block(
    account: &str,
    domain: &str,
    app: &str,
    stream: &str,
    created_at: UnixTime,
    resume_at: UnixTime,
) -> Block {
    Block {
        account: AccountId(account.into()),
        path: StreamPath::new(domain, app, stream),
        created_at,
        resume_at,
    }
}

/// An available group of `account` named `name`, created (and last changed) at `created_at`,
/// in project `proj`, without tags.
pub fn group(account: &str, name: &str, created_at: UnixTime) -> TaskGroup {
    TaskGroup {
        account: AccountId(account.into()),
        name: name.into(),
        project: "proj".into(),
        tags: Vec::new(),
        status: GroupStatus::Available,
        created_at,
        updated_at: created_at,
    }
}
