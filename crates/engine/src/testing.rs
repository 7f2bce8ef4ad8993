//! An in-memory [`TaskStore`], [`BlockStore`] and [`GroupStore`] for tests of the engine and the API: no threads, no I/O, so it
//! works under paused tokio time (a database worker thread would let the paused clock jump
//! while a query runs). It follows the port's contract; it is not durable.

use std::collections::BTreeMap;
use std::sync::Mutex;

use baton_domain::{
    AccountId, AppSelector, Block, BlockList, BlockQuery, BlockStore, CallbackEvent, CreateGroup,
    DeleteGroup, EventRecord, GroupList, GroupStatus, GroupStore, Lease, LeaseState, LeaseStore,
    LeaseTerms, ListFilter, NodeId, NodeInfo, OutboxEntry, Page, Purged, PutBlock, StoreError,
    StoreFuture, StreamPath, Tag, Task, TaskGroup, TaskId, TaskList, TaskStatus, TaskStore,
    UnixTime,
};

#[derive(Debug, Default)]
struct State {
    tasks: BTreeMap<TaskId, Task>,
    /// (event, attempts, next attempt, delivered at, failure), in insertion order. An event
    /// that is not deliverable is delivered at its own time as it is stored (the port's rule).
    events: Vec<(CallbackEvent, u32, UnixTime, Option<UnixTime>, Failure)>,
    /// Blocks by account and path (so an account's blocks of one domain are adjacent, ordered
    /// by app then stream).
    blocks: BTreeMap<(AccountId, StreamPath), Block>,
    /// Groups by account and name (so an account's groups are adjacent, ordered by name).
    groups: BTreeMap<(AccountId, String), TaskGroup>,
    /// Claimed events: event ID → end of the claim (the caller's `now` plus the claim).
    claims: BTreeMap<String, UnixTime>,
}

/// What became of an event's failed attempts: the last one's error, and whether it was given
/// up.
#[derive(Debug, Default, Clone)]
struct Failure {
    last_error: Option<String>,
    given_up: bool,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Every event stored so far, deliverable or not, delivered or not (for assertions).
    pub fn events(&self) -> Vec<CallbackEvent> {
        self.lock().events.iter().map(|(e, ..)| e.clone()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn ready<T: Send + 'static>(value: Result<T, StoreError>) -> StoreFuture<'static, T> {
    Box::pin(std::future::ready(value))
}

fn append(state: &mut State, events: &[CallbackEvent]) -> Result<(), StoreError> {
    for (i, e) in events.iter().enumerate() {
        let stored = state.events.iter().any(|(old, ..)| old.id == e.id);
        if stored || events[..i].iter().any(|earlier| earlier.id == e.id) {
            return Err(StoreError::Duplicate {
                what: "event",
                id: e.id.clone(),
            });
        }
    }
    for e in events {
        let delivered = (!e.is_deliverable()).then_some(e.time);
        state
            .events
            .push((e.clone(), 0, e.time, delivered, Failure::default()));
    }
    Ok(())
}

fn check_version(
    state: &State,
    account: &AccountId,
    id: &TaskId,
    expected: u64,
) -> Result<(), StoreError> {
    match state.tasks.get(id) {
        Some(t) if &t.account == account && t.version == expected => Ok(()),
        Some(t) if &t.account == account => Err(StoreError::Conflict {
            id: id.clone(),
            expected,
        }),
        _ => Err(StoreError::NotFound { id: id.clone() }),
    }
}

/// The list order: creation time descending, then ID ascending.
fn list_order(a: &Task, b: &Task) -> std::cmp::Ordering {
    b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id))
}

/// The port's list semantics: ASCII case-insensitive substrings; status exact; region exact,
/// but a task without one matches every region; groups exact, any of them.
fn matches(task: &Task, filter: &ListFilter) -> bool {
    let contains = |needle: &Option<String>, hay: &str| {
        needle.as_ref().is_none_or(|n| {
            hay.to_ascii_lowercase()
                .contains(n.to_ascii_lowercase().as_str())
        })
    };
    contains(&filter.task_id, &task.id.0)
        && contains(&filter.name, &task.spec.name)
        && contains(&filter.dst_url, &task.spec.dst_url)
        && filter
            .region
            .as_ref()
            .is_none_or(|r| task.spec.region.is_empty() || r == &task.spec.region)
        && filter.status.is_none_or(|s| s == task.runtime.status)
        && filter
            .groups
            .as_ref()
            .is_none_or(|groups| groups.contains(&task.spec.group))
}

impl TaskStore for MemoryStore {
    fn insert<'a>(&'a self, task: &'a Task, events: &'a [CallbackEvent]) -> StoreFuture<'a, ()> {
        let mut state = self.lock();
        // A deleted task's events (its log) keep its ID taken until they are purged.
        let logged = state.events.iter().any(|(e, ..)| e.task_id == task.id);
        if state.tasks.contains_key(&task.id) || logged {
            return ready(Err(StoreError::Duplicate {
                what: "task",
                id: task.id.0.clone(),
            }));
        }
        let result = append(&mut state, events).map(|()| {
            state.tasks.insert(task.id.clone(), task.clone());
        });
        ready(result)
    }

    fn update<'a>(
        &'a self,
        task: &'a Task,
        expected_version: u64,
        events: &'a [CallbackEvent],
    ) -> StoreFuture<'a, ()> {
        let mut state = self.lock();
        let result = check_version(&state, &task.account, &task.id, expected_version)
            .and_then(|()| {
                if task.version != expected_version + 1 {
                    return Err(StoreError::Invalid(format!(
                        "version {} does not follow {expected_version}",
                        task.version
                    )));
                }
                append(&mut state, events)
            })
            .map(|()| {
                state.tasks.insert(task.id.clone(), task.clone());
            });
        ready(result)
    }

    fn delete<'a>(
        &'a self,
        account: &'a AccountId,
        id: &'a TaskId,
        expected_version: u64,
        events: &'a [CallbackEvent],
    ) -> StoreFuture<'a, ()> {
        let mut state = self.lock();
        let result = check_version(&state, account, id, expected_version)
            .and_then(|()| append(&mut state, events))
            .map(|()| {
                state.tasks.remove(id);
            });
        ready(result)
    }

    fn get<'a>(&'a self, account: &'a AccountId, id: &'a TaskId) -> StoreFuture<'a, Option<Task>> {
        let state = self.lock();
        ready(Ok(state
            .tasks
            .get(id)
            .filter(|t| &t.account == account)
            .cloned()))
    }

    fn list<'a>(
        &'a self,
        account: &'a AccountId,
        filter: &'a ListFilter,
        page: Page,
    ) -> StoreFuture<'a, TaskList> {
        let state = self.lock();
        let mut all: Vec<&Task> = state
            .tasks
            .values()
            .filter(|t| &t.account == account && matches(t, filter))
            .collect();
        all.sort_by(|a, b| list_order(a, b));
        let (tasks, total) = page.of(all.into_iter().cloned());
        ready(Ok(TaskList { tasks, total }))
    }

    fn list_after<'a>(
        &'a self,
        account: &'a AccountId,
        filter: &'a ListFilter,
        after: Option<(UnixTime, TaskId)>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<Task>> {
        let state = self.lock();
        let mut all: Vec<&Task> = state
            .tasks
            .values()
            .filter(|t| &t.account == account && matches(t, filter))
            .filter(|t| {
                after.as_ref().is_none_or(|(created_at, id)| {
                    t.created_at < *created_at || (t.created_at == *created_at && &t.id > id)
                })
            })
            .collect();
        all.sort_by(|a, b| list_order(a, b));
        ready(Ok(all.into_iter().take(limit as usize).cloned().collect()))
    }

    fn unfinished(&self) -> StoreFuture<'_, Vec<Task>> {
        let state = self.lock();
        ready(Ok(state
            .tasks
            .values()
            .filter(|t| t.runtime.status != TaskStatus::Exited)
            .cloned()
            .collect()))
    }

    fn task_events<'a>(
        &'a self,
        account: &'a AccountId,
        id: &'a TaskId,
        before_seq: Option<u64>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<EventRecord>> {
        let state = self.lock();
        let mut records: Vec<EventRecord> = state
            .events
            .iter()
            .filter(|(e, ..)| {
                &e.account == account && &e.task_id == id && before_seq.is_none_or(|b| e.seq < b)
            })
            .map(|(e, attempts, _, delivered, failure)| EventRecord {
                event: e.clone(),
                attempts: *attempts,
                delivered_at: *delivered,
                last_error: failure.last_error.clone(),
                given_up: failure.given_up,
            })
            .collect();
        records.sort_by_key(|r| std::cmp::Reverse(r.event.seq));
        records.truncate(limit as usize);
        ready(Ok(records))
    }

    fn pending_events(&self) -> StoreFuture<'_, u64> {
        let state = self.lock();
        let n = state
            .events
            .iter()
            .filter(|(_, _, _, delivered, _)| delivered.is_none())
            .count();
        ready(Ok(n as u64))
    }

    fn due_events(&self, now: UnixTime, limit: u32) -> StoreFuture<'_, Vec<OutboxEntry>> {
        let state = self.lock();
        let mut due: Vec<(usize, OutboxEntry)> = state
            .events
            .iter()
            .enumerate()
            .filter(|(_, (_, _, next, delivered, _))| delivered.is_none() && *next <= now)
            .map(|(i, (e, attempts, next, ..))| {
                (
                    i,
                    OutboxEntry {
                        event: e.clone(),
                        attempts: *attempts,
                        next_attempt_at: *next,
                    },
                )
            })
            .collect();
        due.sort_by_key(|(i, e)| (e.next_attempt_at, *i));
        ready(Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|(_, e)| e)
            .collect()))
    }

    fn claim_due_events(
        &self,
        now: UnixTime,
        limit: u32,
        claim: std::time::Duration,
    ) -> StoreFuture<'_, Vec<OutboxEntry>> {
        let all = {
            let mut state = self.lock();
            state.claims.retain(|_, until| *until > now);
            state.events.len() as u32
        };
        // The store's own future is ready at once, so nothing runs between reading and claiming.
        let due = match futures_util::FutureExt::now_or_never(self.due_events(now, all)) {
            Some(Ok(due)) => due,
            Some(Err(e)) => return ready(Err(e)),
            None => unreachable!("the memory store's futures are ready at once"),
        };
        let until = now.saturating_add(i64::try_from(claim.as_secs()).unwrap_or(i64::MAX));
        let mut state = self.lock();
        let claimed: Vec<OutboxEntry> = due
            .into_iter()
            .filter(|e| !state.claims.contains_key(&e.event.id))
            .take(limit as usize)
            .collect();
        for e in &claimed {
            state.claims.insert(e.event.id.clone(), until);
        }
        ready(Ok(claimed))
    }

    fn mark_delivered<'a>(&'a self, event_id: &'a str, now: UnixTime) -> StoreFuture<'a, ()> {
        let mut state = self.lock();
        state.claims.remove(event_id);
        if let Some(entry) = state.events.iter_mut().find(|(e, ..)| e.id == event_id) {
            entry.3.get_or_insert(now);
        }
        ready(Ok(()))
    }

    fn reschedule_event<'a>(
        &'a self,
        event_id: &'a str,
        attempts: u32,
        next_attempt_at: UnixTime,
        error: &'a str,
    ) -> StoreFuture<'a, ()> {
        let mut state = self.lock();
        state.claims.remove(event_id);
        if let Some(entry) = state
            .events
            .iter_mut()
            .find(|(e, _, _, delivered, _)| e.id == event_id && delivered.is_none())
        {
            entry.1 = attempts;
            entry.2 = next_attempt_at;
            entry.4.last_error = Some(error.to_string());
        }
        ready(Ok(()))
    }

    fn give_up_event<'a>(
        &'a self,
        event_id: &'a str,
        attempts: u32,
        error: &'a str,
        now: UnixTime,
    ) -> StoreFuture<'a, ()> {
        let mut state = self.lock();
        state.claims.remove(event_id);
        if let Some(entry) = state
            .events
            .iter_mut()
            .find(|(e, _, _, delivered, _)| e.id == event_id && delivered.is_none())
        {
            entry.1 = attempts;
            entry.3 = Some(now);
            entry.4 = Failure {
                last_error: Some(error.to_string()),
                given_up: true,
            };
        }
        ready(Ok(()))
    }

    fn purge(&self, before: UnixTime) -> StoreFuture<'_, Purged> {
        let mut state = self.lock();
        let tasks_before = state.tasks.len();
        state.tasks.retain(|_, t| {
            !(t.runtime.status == TaskStatus::Exited
                && t.runtime.exit_time.is_some_and(|x| x < before))
        });
        let events_before = state.events.len();
        state
            .events
            .retain(|(_, _, _, delivered, _)| !delivered.is_some_and(|d| d < before));
        ready(Ok(Purged {
            tasks: (tasks_before - state.tasks.len()) as u64,
            events: (events_before - state.events.len()) as u64,
        }))
    }
}

impl MemoryStore {
    /// The first `limit` unfinished tasks, oldest first, as leases of `node` (by task ID).
    fn unfinished_leases(&self, node: &NodeId, limit: usize) -> Vec<Lease> {
        let state = self.lock();
        let mut tasks: Vec<&Task> = state
            .tasks
            .values()
            .filter(|t| t.runtime.status != TaskStatus::Exited)
            .collect();
        tasks.sort_by(|a, b| (a.created_at, &a.id.0).cmp(&(b.created_at, &b.id.0)));
        let mut leases: Vec<Lease> = tasks
            .into_iter()
            .take(limit)
            .map(|t| Lease {
                task: t.id.clone(),
                account: t.account.clone(),
                owner: node.clone(),
                epoch: 0,
            })
            .collect();
        leases.sort_by(|a, b| a.task.0.cmp(&b.task.0));
        leases
    }
}

/// One node owns every task, as with SQLite (`baton-store-sqlite`'s `leases.rs`).
impl LeaseStore for MemoryStore {
    fn register_node<'a>(&'a self, _node: &'a NodeInfo) -> StoreFuture<'a, ()> {
        ready(Ok(()))
    }

    fn claim<'a>(
        &'a self,
        node: &'a NodeId,
        limit: u32,
        _terms: LeaseTerms,
    ) -> StoreFuture<'a, Vec<Lease>> {
        ready(Ok(self.unfinished_leases(node, limit as usize)))
    }

    fn renew<'a>(
        &'a self,
        node: &'a NodeId,
        held: &'a [Lease],
        _terms: LeaseTerms,
    ) -> StoreFuture<'a, Vec<Lease>> {
        let all = self.unfinished_leases(node, usize::MAX);
        ready(Ok(all
            .into_iter()
            .filter(|l| held.iter().any(|h| h.task == l.task))
            .collect()))
    }

    fn release<'a>(&'a self, _leases: &'a [Lease]) -> StoreFuture<'a, u64> {
        ready(Ok(0))
    }

    fn update_leased<'a>(
        &'a self,
        task: &'a Task,
        expected_version: u64,
        events: &'a [CallbackEvent],
        lease: &'a Lease,
    ) -> StoreFuture<'a, ()> {
        if lease.task != task.id {
            return ready(Err(StoreError::Invalid(format!(
                "task {} written under the lease of another task",
                task.id
            ))));
        }
        self.update(task, expected_version, events)
    }

    fn lease_of<'a>(&'a self, _id: &'a TaskId) -> StoreFuture<'a, Option<LeaseState>> {
        ready(Ok(None))
    }

    fn versions<'a>(&'a self, tasks: &'a [TaskId]) -> StoreFuture<'a, Vec<(TaskId, u64)>> {
        let state = self.lock();
        ready(Ok(state
            .tasks
            .values()
            .filter(|t| tasks.contains(&t.id))
            .map(|t| (t.id.clone(), t.version))
            .collect()))
    }
}

impl BlockStore for MemoryStore {
    fn put_block<'a>(&'a self, block: &'a Block, limit: u64) -> StoreFuture<'a, PutBlock> {
        let mut state = self.lock();
        let key = (block.account.clone(), block.path.clone());
        if let Some(stored) = state.blocks.get_mut(&key) {
            *stored = block.clone();
            return ready(Ok(PutBlock::Replaced));
        }
        let active = state
            .blocks
            .values()
            .filter(|b| b.account == block.account && b.is_active(block.created_at))
            .count() as u64;
        if active >= limit {
            return ready(Ok(PutBlock::QuotaExceeded));
        }
        state.blocks.insert(key, block.clone());
        ready(Ok(PutBlock::Added))
    }

    fn remove_blocks<'a>(
        &'a self,
        account: &'a AccountId,
        domain: &'a str,
        app: &'a AppSelector,
        stream: &'a str,
    ) -> StoreFuture<'a, Vec<StreamPath>> {
        let mut state = self.lock();
        let mut removed = Vec::new();
        state.blocks.retain(|(acc, path), _| {
            let hit = acc == account
                && path.domain == domain
                && app.matches(&path.app)
                && path.stream == stream;
            if hit {
                removed.push(path.clone());
            }
            !hit
        });
        removed.sort();
        ready(Ok(removed))
    }

    fn list_blocks<'a>(
        &'a self,
        account: &'a AccountId,
        domain: &'a str,
        now: UnixTime,
        page: Page,
    ) -> StoreFuture<'a, BlockList> {
        let state = self.lock();
        // Key order is (account, domain, app, stream): already the list's order.
        let all: Vec<&Block> = state
            .blocks
            .values()
            .filter(|b| &b.account == account && b.path.domain == domain && b.is_active(now))
            .collect();
        let (blocks, total) = page.of(all.into_iter().cloned());
        ready(Ok(BlockList { blocks, total }))
    }

    fn search_blocks<'a>(
        &'a self,
        account: &'a AccountId,
        query: &'a BlockQuery,
        now: UnixTime,
        page: Page,
    ) -> StoreFuture<'a, BlockList> {
        let state = self.lock();
        let mut all: Vec<&Block> = state
            .blocks
            .values()
            .filter(|b| &b.account == account && b.is_active(now) && query.matches(b))
            .collect();
        all.sort_by(|a, b| query.order(a, b));
        let (blocks, total) = page.of(all.into_iter().cloned());
        ready(Ok(BlockList { blocks, total }))
    }

    fn active_blocks(&self, now: UnixTime) -> StoreFuture<'_, Vec<Block>> {
        let state = self.lock();
        let mut active: Vec<Block> = state
            .blocks
            .values()
            .filter(|b| b.is_active(now))
            .cloned()
            .collect();
        active.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.account.cmp(&b.account)));
        ready(Ok(active))
    }

    fn purge_expired_blocks(&self, now: UnixTime) -> StoreFuture<'_, u64> {
        let mut state = self.lock();
        let before = state.blocks.len();
        state.blocks.retain(|_, b| b.is_active(now));
        ready(Ok((before - state.blocks.len()) as u64))
    }
}

impl GroupStore for MemoryStore {
    fn create_group<'a>(&'a self, group: &'a TaskGroup) -> StoreFuture<'a, CreateGroup> {
        if group.status != GroupStatus::Available {
            return ready(Err(StoreError::Invalid(format!(
                "group {} created with status {:?}",
                group.name, group.status
            ))));
        }
        let mut state = self.lock();
        let key = (group.account.clone(), group.name.clone());
        if state
            .groups
            .get(&key)
            .is_some_and(|g| g.status == GroupStatus::Available)
        {
            return ready(Ok(CreateGroup::Exists));
        }
        state.groups.insert(key, group.clone());
        ready(Ok(CreateGroup::Created))
    }

    fn update_group_tags<'a>(
        &'a self,
        account: &'a AccountId,
        name: &'a str,
        tags: &'a [Tag],
        now: UnixTime,
    ) -> StoreFuture<'a, bool> {
        let mut state = self.lock();
        let key = (account.clone(), name.to_string());
        let Some(group) = state
            .groups
            .get_mut(&key)
            .filter(|g| g.status == GroupStatus::Available)
        else {
            return ready(Ok(false));
        };
        group.tags = tags.to_vec();
        group.updated_at = now;
        ready(Ok(true))
    }

    fn delete_group<'a>(
        &'a self,
        account: &'a AccountId,
        name: &'a str,
        now: UnixTime,
    ) -> StoreFuture<'a, DeleteGroup> {
        // One lock over the count and the change: the same atomicity as a transaction.
        let mut state = self.lock();
        let tasks = state
            .tasks
            .values()
            .filter(|t| {
                &t.account == account
                    && t.spec.group == name
                    && t.runtime.status != TaskStatus::Exited
            })
            .count() as u64;
        let key = (account.clone(), name.to_string());
        let Some(group) = state
            .groups
            .get_mut(&key)
            .filter(|g| g.status == GroupStatus::Available)
        else {
            return ready(Ok(DeleteGroup::NotFound));
        };
        if tasks > 0 {
            return ready(Ok(DeleteGroup::InUse { tasks }));
        }
        group.status = GroupStatus::Deleted;
        group.updated_at = now;
        ready(Ok(DeleteGroup::Deleted))
    }

    fn get_group<'a>(
        &'a self,
        account: &'a AccountId,
        name: &'a str,
    ) -> StoreFuture<'a, Option<TaskGroup>> {
        let state = self.lock();
        let key = (account.clone(), name.to_string());
        ready(Ok(state.groups.get(&key).cloned()))
    }

    fn list_groups<'a>(
        &'a self,
        account: &'a AccountId,
        statuses: &'a [GroupStatus],
        page: Page,
    ) -> StoreFuture<'a, GroupList> {
        let state = self.lock();
        // Key order is (account, name): already the list's order.
        let all: Vec<&TaskGroup> = state
            .groups
            .values()
            .filter(|g| {
                &g.account == account && (statuses.is_empty() || statuses.contains(&g.status))
            })
            .collect();
        let (groups, total) = page.of(all.into_iter().cloned());
        ready(Ok(GroupList { groups, total }))
    }
}
