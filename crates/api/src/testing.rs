//! Small in-memory stand-ins for tests of the HTTP layer: a [`TaskService`] and a
//! [`StreamService`]. Not a second engine: they keep state in memory and apply just enough of
//! the rules (cloud-apis.md §2.4–2.5, §2.8) for the API's answers to be meaningful — nothing
//! runs, and time moves only when a request asks.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use baton_domain::ingest::{MAX_BLOCKS_PER_ACCOUNT, default_resume_at};
use baton_domain::{
    AccountId, AppSelector, Block, BlockList, BlockQuery, Command, EventRecord, GroupList,
    GroupStatus, ListFilter, Page, Rejection, StreamPath, Tag, Task, TaskGroup, TaskId, TaskPatch,
    TaskRuntime, TaskSpec, TaskStatus, UnixTime,
};
use futures_util::future::BoxFuture;

use crate::common::time::WallClock;
use crate::service::{
    GroupError, GroupService, LiveStreamView, RelayView, ServiceError, StreamError, StreamService,
    TaskService,
};

/// Tasks in memory, in creation order.
#[derive(Debug)]
pub struct MemoryTaskService {
    clock: Arc<dyn WallClock>,
    tasks: Mutex<Vec<Task>>,
    /// Ids of deleted tasks: taken for good here, as the stores keep them while the task's
    /// event log is kept.
    retired: Mutex<Vec<TaskId>>,
    /// What tests say tasks' relays and event logs show (the stand-in runs nothing itself).
    relays: Mutex<HashMap<TaskId, RelayView>>,
    events: Mutex<HashMap<TaskId, Vec<EventRecord>>>,
}

impl MemoryTaskService {
    pub fn new(clock: Arc<dyn WallClock>) -> MemoryTaskService {
        MemoryTaskService {
            clock,
            tasks: Mutex::new(Vec::new()),
            retired: Mutex::new(Vec::new()),
            relays: Mutex::new(HashMap::new()),
            events: Mutex::new(HashMap::new()),
        }
    }

    /// Shows `relay` as the task's running relay (`None`: no relay runs).
    pub fn set_relay(&self, id: &TaskId, relay: Option<RelayView>) {
        let mut relays = self.relays.lock().unwrap_or_else(|e| e.into_inner());
        match relay {
            Some(r) => relays.insert(id.clone(), r),
            None => relays.remove(id),
        };
    }

    /// Shows `events` (newest first) as the task's event log.
    pub fn set_events(&self, id: &TaskId, events: Vec<EventRecord>) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), events);
    }

    /// Adds a task as it is (fixtures).
    pub fn insert(&self, task: Task) {
        self.lock().push(task);
    }

    /// A copy of a task, whatever its account.
    pub fn task(&self, id: &TaskId) -> Option<Task> {
        self.lock().iter().find(|t| &t.id == id).cloned()
    }

    /// Changes a task's run-time state (to show states the stand-in never reaches itself,
    /// such as abnormal or exited).
    pub fn set_runtime(&self, id: &TaskId, change: impl FnOnce(&mut TaskRuntime)) {
        if let Some(task) = self.lock().iter_mut().find(|t| &t.id == id) {
            change(&mut task.runtime);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Task>> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_task<T>(
        &self,
        account: &AccountId,
        id: &TaskId,
        f: impl FnOnce(&mut Task, i64) -> Result<T, Rejection>,
    ) -> Result<T, ServiceError> {
        let now = self.clock.now();
        let mut tasks = self.lock();
        let task = tasks
            .iter_mut()
            .find(|t| &t.id == id && &t.account == account)
            .ok_or(Rejection::NotFound)?;
        let out = f(task, now)?;
        task.updated_at = now;
        task.version += 1;
        Ok(out)
    }
}

/// The task a spec becomes at `now`, before its id.
pub fn new_task(id: TaskId, account: AccountId, spec: TaskSpec, now: i64) -> Task {
    let status = if now >= spec.start_time {
        TaskStatus::Running
    } else {
        TaskStatus::NotStarted
    };
    Task {
        id,
        account,
        runtime: TaskRuntime {
            status,
            current_file_index: spec.file_index,
            current_offset: spec.offset,
            run: u64::from(status == TaskStatus::Running),
            ..TaskRuntime::default()
        },
        spec,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

impl TaskService for MemoryTaskService {
    fn create(
        &self,
        account: &AccountId,
        spec: TaskSpec,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let account = account.clone();
        Box::pin(async move {
            supported(&spec)?;
            let now = self.clock.now();
            // The domain's rules, as Task::create applies them in the engine.
            spec.validate(now)?;
            let id = TaskId(uuid::Uuid::new_v4().to_string());
            let task = new_task(id, account, spec, now);
            self.lock().push(task.clone());
            Ok(task)
        })
    }

    fn get(&self, account: &AccountId, id: &TaskId) -> BoxFuture<'_, Result<Task, ServiceError>> {
        // A read: no version bump (with_task counts every call as a write).
        let result = self
            .lock()
            .iter()
            .find(|t| &t.id == id && &t.account == account)
            .cloned()
            .ok_or_else(|| Rejection::NotFound.into());
        Box::pin(async move { result })
    }

    fn list(
        &self,
        account: &AccountId,
        filter: ListFilter,
        page: Page,
    ) -> BoxFuture<'_, Result<(Vec<Task>, u64), ServiceError>> {
        // The stores' fuzzy match: ASCII case-insensitive substrings.
        let contains = |value: &str, needle: &Option<String>| {
            needle
                .as_deref()
                .is_none_or(|n| value.to_ascii_lowercase().contains(&n.to_ascii_lowercase()))
        };
        let matching: Vec<Task> = self
            .lock()
            .iter()
            .filter(|t| &t.account == account)
            .filter(|t| contains(&t.id.0, &filter.task_id))
            .filter(|t| contains(&t.spec.name, &filter.name))
            .filter(|t| contains(&t.spec.dst_url, &filter.dst_url))
            .filter(|t| {
                filter
                    .region
                    .as_deref()
                    .is_none_or(|r| t.spec.region.is_empty() || t.spec.region == r)
            })
            .filter(|t| {
                filter
                    .groups
                    .as_ref()
                    .is_none_or(|g| g.contains(&t.spec.group))
            })
            .filter(|t| filter.status.is_none_or(|s| t.runtime.status == s))
            .cloned()
            .collect();
        let (items, total) = page.of(matching);
        Box::pin(async move { Ok((items, total)) })
    }

    fn update(
        &self,
        account: &AccountId,
        id: &TaskId,
        patch: TaskPatch,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let result = self.with_task(account, id, |t, now| {
            // The domain's rules (seed 003), as the engine applies them; the stand-in keeps
            // its own version and run-time bookkeeping.
            let next = t.apply(
                Command::Update(patch),
                now,
                &baton_domain::Policy::default(),
            )?;
            t.spec = next.task.spec;
            Ok(t.clone())
        });
        Box::pin(async move { result })
    }

    fn stop(&self, account: &AccountId, id: &TaskId) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let result = self.with_task(account, id, |t, _| {
            if !t.runtime.status.is_running() {
                return Err(Rejection::TaskHasStopped);
            }
            t.runtime.status = TaskStatus::Stopped;
            t.runtime.invalid_reason = None;
            Ok(t.clone())
        });
        Box::pin(async move { result })
    }

    fn restart(
        &self,
        account: &AccountId,
        id: &TaskId,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let result = self.with_task(account, id, |t, now| {
            if t.runtime.status == TaskStatus::Exited {
                return Err(Rejection::Exited);
            }
            if now < t.spec.start_time {
                return Err(Rejection::NotStartedYet);
            }
            t.runtime.status = TaskStatus::Running;
            t.runtime.invalid_reason = None;
            t.runtime.retries = 0;
            t.runtime.run += 1;
            Ok(t.clone())
        });
        Box::pin(async move { result })
    }

    fn disable(
        &self,
        account: &AccountId,
        id: &TaskId,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let result = self.with_task(account, id, |t, _| {
            match t.runtime.status {
                TaskStatus::Exited => return Err(Rejection::Exited),
                TaskStatus::Stopped => return Err(Rejection::TaskHasStopped),
                _ => {}
            }
            t.runtime.status = TaskStatus::Stopped;
            t.runtime.invalid_reason = None;
            Ok(t.clone())
        });
        Box::pin(async move { result })
    }

    fn enable(
        &self,
        account: &AccountId,
        id: &TaskId,
        from_start: bool,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let result = self.with_task(account, id, |t, now| {
            match t.runtime.status {
                TaskStatus::Exited => return Err(Rejection::Exited),
                TaskStatus::Stopped => {}
                _ => return Err(Rejection::NotStopped),
            }
            if from_start {
                t.runtime.current_file_index = t.spec.file_index;
                t.runtime.current_offset = t.spec.offset;
            }
            t.runtime.status = if now < t.spec.start_time {
                TaskStatus::NotStarted
            } else {
                t.runtime.run += 1;
                TaskStatus::Running
            };
            Ok(t.clone())
        });
        Box::pin(async move { result })
    }

    fn delete(&self, account: &AccountId, id: &TaskId) -> BoxFuture<'_, Result<(), ServiceError>> {
        let mut tasks = self.lock();
        let before = tasks.len();
        tasks.retain(|t| !(&t.id == id && &t.account == account));
        let result = if tasks.len() < before {
            self.retired
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(id.clone());
            Ok(())
        } else {
            Err(Rejection::NotFound.into())
        };
        Box::pin(async move { result })
    }

    fn create_with_id(
        &self,
        account: &AccountId,
        id: TaskId,
        spec: TaskSpec,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let result = (|| {
            let retired = self
                .retired
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&id);
            if retired || self.lock().iter().any(|t| t.id == id) {
                return Err(ServiceError::Exists);
            }
            supported(&spec)?;
            let now = self.clock.now();
            spec.validate(now)?;
            let task = new_task(id, account.clone(), spec, now);
            self.lock().push(task.clone());
            Ok(task)
        })();
        Box::pin(async move { result })
    }

    fn apply(
        &self,
        account: &AccountId,
        id: &TaskId,
        command: Command,
        expected_version: Option<u64>,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let (account, id) = (account.clone(), id.clone());
        Box::pin(async move {
            if let Some(expected) = expected_version {
                let current = self.get(&account, &id).await?;
                if current.version != expected {
                    return Err(ServiceError::VersionMismatch {
                        current: Box::new(current),
                    });
                }
            }
            // Each write bumps the version (with_task); answer the task as stored.
            let stored = |result: Result<Task, ServiceError>| async {
                result?;
                self.get(&account, &id).await
            };
            match command {
                Command::Update(patch) => stored(self.update(&account, &id, patch).await).await,
                Command::Stop => stored(self.stop(&account, &id).await).await,
                Command::Restart => stored(self.restart(&account, &id).await).await,
                Command::Disable => stored(self.disable(&account, &id).await).await,
                Command::Enable { from_start } => {
                    stored(self.enable(&account, &id, from_start).await).await
                }
                Command::Delete => {
                    let mut task = self.get(&account, &id).await?;
                    self.delete(&account, &id).await?;
                    task.runtime.status = TaskStatus::Exited;
                    Ok(task)
                }
                other => Err(ServiceError::Internal(format!(
                    "{other:?} is not a user command"
                ))),
            }
        })
    }

    fn list_after(
        &self,
        account: &AccountId,
        filter: ListFilter,
        after: Option<(UnixTime, TaskId)>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Task>, ServiceError>> {
        let (account, limit) = (account.clone(), limit as usize);
        Box::pin(async move {
            let all = Page {
                number: 1,
                size: u32::MAX,
            };
            let (mut tasks, _) = self.list(&account, filter, all).await?;
            // The stores' order: newest first, then by id.
            tasks.sort_by(|a, b| {
                b.created_at
                    .cmp(&a.created_at)
                    .then_with(|| a.id.cmp(&b.id))
            });
            Ok(tasks
                .into_iter()
                .filter(|t| {
                    after.as_ref().is_none_or(|(at, id)| {
                        t.created_at < *at || (t.created_at == *at && t.id > *id)
                    })
                })
                .take(limit)
                .collect())
        })
    }

    fn events(
        &self,
        account: &AccountId,
        id: &TaskId,
        _before_seq: Option<u64>,
        _limit: u32,
    ) -> BoxFuture<'_, Result<Vec<EventRecord>, ServiceError>> {
        // The stand-in runs nothing: its tasks have the events tests gave them.
        let known = self
            .lock()
            .iter()
            .any(|t| &t.id == id && &t.account == account);
        let result = if known {
            let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
            Ok(events.get(id).cloned().unwrap_or_default())
        } else {
            Err(ServiceError::Rejected(Rejection::NotFound))
        };
        Box::pin(async move { result })
    }

    fn relay(&self, id: &TaskId) -> Option<RelayView> {
        let relays = self.relays.lock().unwrap_or_else(|e| e.into_inner());
        relays.get(id).cloned()
    }
}

/// What this stand-in "runs": what the domain says this build runs
/// ([`TaskSpec::supported`]), as the engine checks it.
fn supported(spec: &TaskSpec) -> Result<(), ServiceError> {
    spec.supported().map_err(|u| ServiceError::Unsupported {
        field: u.field,
        value: u.value,
    })
}

/// Forbidden streams in memory, for ingest domains given at construction. A forbid records a
/// kick of the current publisher ([`MemoryStreamService::kicks`]); unless `oneshot` it also
/// blocks the stream, within a per-account quota of active blocks.
#[derive(Debug)]
pub struct MemoryStreamService {
    clock: Arc<dyn WallClock>,
    /// Ingest domain (lower-case) → owner.
    owners: HashMap<String, AccountId>,
    max_blocks: u64,
    state: Mutex<StreamState>,
}

#[derive(Debug, Default)]
struct StreamState {
    /// Every block, active or expired (a forbid again replaces it).
    blocks: BTreeMap<(AccountId, StreamPath), Block>,
    kicks: Vec<StreamPath>,
    /// What [`StreamService::live`] shows (owners' domains filter it).
    live: Vec<LiveStreamView>,
}

impl MemoryStreamService {
    /// Ingest control over `domains`: (domain, owner) pairs. The quota is the provider's
    /// [`MAX_BLOCKS_PER_ACCOUNT`].
    pub fn new<D: Into<String>>(
        clock: Arc<dyn WallClock>,
        domains: impl IntoIterator<Item = (D, AccountId)>,
    ) -> MemoryStreamService {
        MemoryStreamService {
            clock,
            owners: domains
                .into_iter()
                .map(|(d, a)| (d.into().to_ascii_lowercase(), a))
                .collect(),
            max_blocks: MAX_BLOCKS_PER_ACCOUNT,
            state: Mutex::new(StreamState::default()),
        }
    }

    /// The same with a quota of `max_blocks` active blocks per account.
    pub fn with_max_blocks(mut self, max_blocks: u64) -> MemoryStreamService {
        self.max_blocks = max_blocks;
        self
    }

    /// The account's blocks active now, by path.
    pub fn blocks(&self, account: &AccountId) -> Vec<Block> {
        let now = self.clock.now();
        self.lock()
            .blocks
            .values()
            .filter(|b| &b.account == account && b.is_active(now))
            .cloned()
            .collect()
    }

    /// Sets the live streams (in any order; their `forbidden_until` is filled in from the
    /// blocks when listed).
    pub fn set_live(&self, streams: Vec<LiveStreamView>) {
        self.lock().live = streams;
    }

    /// The streams whose publisher a forbid disconnected, in call order.
    pub fn kicks(&self) -> Vec<StreamPath> {
        self.lock().kicks.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn owned(&self, account: &AccountId, domain: &str) -> Result<(), StreamError> {
        match self.owners.get(&domain.to_ascii_lowercase()) {
            Some(owner) if owner == account => Ok(()),
            _ => Err(StreamError::DomainNotOwned(domain.to_string())),
        }
    }

    fn do_forbid(
        &self,
        account: &AccountId,
        path: StreamPath,
        resume_at: Option<UnixTime>,
        oneshot: bool,
    ) -> Result<(), StreamError> {
        self.owned(account, &path.domain)?;
        let now = self.clock.now();
        if resume_at.is_some_and(|t| t <= now) {
            return Err(StreamError::ResumeTimeInPast);
        }
        let mut state = self.lock();
        if !oneshot {
            let key = (account.clone(), path.clone());
            let active = state
                .blocks
                .values()
                .filter(|b| &b.account == account && b.is_active(now))
                .count() as u64;
            if !state.blocks.contains_key(&key) && active >= self.max_blocks {
                return Err(StreamError::QuotaExceeded {
                    limit: self.max_blocks,
                });
            }
            let block = Block {
                account: account.clone(),
                path: path.clone(),
                created_at: now,
                resume_at: resume_at.unwrap_or_else(|| default_resume_at(now)),
            };
            state.blocks.insert(key, block);
        }
        state.kicks.push(path);
        Ok(())
    }
}

impl StreamService for MemoryStreamService {
    fn live(&self, account: &AccountId) -> Vec<LiveStreamView> {
        let now = self.clock.now();
        let state = self.lock();
        let mut out: Vec<LiveStreamView> = state
            .live
            .iter()
            .filter(|s| self.owned(account, &s.path.domain).is_ok())
            .map(|s| LiveStreamView {
                forbidden_until: state
                    .blocks
                    .values()
                    .find(|b| b.path == s.path && b.is_active(now))
                    .map(|b| b.resume_at),
                ..s.clone()
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    fn domain_owner(&self, domain: &str) -> Option<AccountId> {
        self.owners.get(&domain.to_ascii_lowercase()).cloned()
    }

    fn forbid(
        &self,
        account: &AccountId,
        path: StreamPath,
        resume_at: Option<UnixTime>,
        oneshot: bool,
    ) -> BoxFuture<'_, Result<(), StreamError>> {
        let result = self.do_forbid(account, path, resume_at, oneshot);
        Box::pin(async move { result })
    }

    fn resume(
        &self,
        account: &AccountId,
        domain: &str,
        app: AppSelector,
        stream: &str,
    ) -> BoxFuture<'_, Result<(), StreamError>> {
        let result = self.owned(account, domain).map(|()| {
            let domain = domain.to_ascii_lowercase();
            self.lock().blocks.retain(|(a, p), _| {
                !(a == account && p.domain == domain && app.matches(&p.app) && p.stream == stream)
            });
        });
        Box::pin(async move { result })
    }

    fn search(
        &self,
        account: &AccountId,
        query: BlockQuery,
        page: Page,
    ) -> BoxFuture<'_, Result<BlockList, StreamError>> {
        let now = self.clock.now();
        let mut matching: Vec<Block> = self
            .lock()
            .blocks
            .values()
            .filter(|b| &b.account == account && b.is_active(now) && query.matches(b))
            .cloned()
            .collect();
        matching.sort_by(|a, b| query.order(a, b));
        let (blocks, total) = page.of(matching);
        Box::pin(async move { Ok(BlockList { blocks, total }) })
    }

    fn block_list(
        &self,
        account: &AccountId,
        domain: &str,
        page: Page,
    ) -> BoxFuture<'_, Result<BlockList, StreamError>> {
        let result = self.owned(account, domain).map(|()| {
            let domain = domain.to_ascii_lowercase();
            let now = self.clock.now();
            // The map is ordered by path: domain, then app, then stream.
            let active: Vec<Block> = self
                .lock()
                .blocks
                .values()
                .filter(|b| &b.account == account && b.path.domain == domain && b.is_active(now))
                .cloned()
                .collect();
            let (blocks, total) = page.of(active);
            BlockList { blocks, total }
        });
        Box::pin(async move { result })
    }
}

/// Task groups in memory. Deleting a group asks `tasks` whether tasks that have not ended are
/// in it.
#[derive(Debug)]
pub struct MemoryGroupService {
    clock: Arc<dyn WallClock>,
    tasks: Option<Arc<MemoryTaskService>>,
    groups: Mutex<BTreeMap<(AccountId, String), TaskGroup>>,
}

impl MemoryGroupService {
    /// Groups whose deletion checks the tasks of `tasks` (none: never in use).
    pub fn new(clock: Arc<dyn WallClock>, tasks: Option<Arc<MemoryTaskService>>) -> Self {
        MemoryGroupService {
            clock,
            tasks,
            groups: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(AccountId, String), TaskGroup>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tasks_in(&self, account: &AccountId, name: &str) -> u64 {
        self.tasks.as_ref().map_or(0, |tasks| {
            tasks
                .lock()
                .iter()
                .filter(|t| {
                    &t.account == account
                        && t.spec.group == name
                        && t.runtime.status != TaskStatus::Exited
                })
                .count() as u64
        })
    }
}

impl GroupService for MemoryGroupService {
    fn create_group(
        &self,
        account: &AccountId,
        name: &str,
        project: &str,
        tags: Vec<Tag>,
    ) -> BoxFuture<'_, Result<(), GroupError>> {
        let now = self.clock.now();
        let mut groups = self.lock();
        let key = (account.clone(), name.to_string());
        let result = if groups
            .get(&key)
            .is_some_and(|g| g.status == GroupStatus::Available)
        {
            Err(GroupError::Exists)
        } else {
            groups.insert(
                key,
                TaskGroup {
                    account: account.clone(),
                    name: name.to_string(),
                    project: project.to_string(),
                    tags,
                    status: GroupStatus::Available,
                    created_at: now,
                    updated_at: now,
                },
            );
            Ok(())
        };
        Box::pin(async move { result })
    }

    fn update_group(
        &self,
        account: &AccountId,
        name: &str,
        tags: Vec<Tag>,
    ) -> BoxFuture<'_, Result<(), GroupError>> {
        let now = self.clock.now();
        let result = match self.lock().get_mut(&(account.clone(), name.to_string())) {
            Some(g) if g.status == GroupStatus::Available => {
                g.tags = tags;
                g.updated_at = now;
                Ok(())
            }
            _ => Err(GroupError::NotFound),
        };
        Box::pin(async move { result })
    }

    fn delete_group(
        &self,
        account: &AccountId,
        name: &str,
    ) -> BoxFuture<'_, Result<(), GroupError>> {
        let now = self.clock.now();
        let in_use = self.tasks_in(account, name);
        let result = match self.lock().get_mut(&(account.clone(), name.to_string())) {
            Some(g) if g.status == GroupStatus::Available => {
                if in_use > 0 {
                    Err(GroupError::InUse { tasks: in_use })
                } else {
                    g.status = GroupStatus::Deleted;
                    g.updated_at = now;
                    Ok(())
                }
            }
            _ => Err(GroupError::NotFound),
        };
        Box::pin(async move { result })
    }

    fn get_group(
        &self,
        account: &AccountId,
        name: &str,
    ) -> BoxFuture<'_, Result<Option<TaskGroup>, GroupError>> {
        let group = self
            .lock()
            .get(&(account.clone(), name.to_string()))
            .cloned();
        Box::pin(async move { Ok(group) })
    }

    fn list_groups(
        &self,
        account: &AccountId,
        statuses: Vec<GroupStatus>,
        page: Page,
    ) -> BoxFuture<'_, Result<GroupList, GroupError>> {
        let matching: Vec<TaskGroup> = self
            .lock()
            .values()
            .filter(|g| &g.account == account)
            .filter(|g| statuses.is_empty() || statuses.contains(&g.status))
            .cloned()
            .collect();
        let (groups, total) = page.of(matching);
        Box::pin(async move { Ok(GroupList { groups, total }) })
    }
}

mod replay;

pub use replay::{MemoryReplayStore, replay};
