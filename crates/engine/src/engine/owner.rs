//! Owner reconciliation: on a shared database, the node holding a task's lease runs what the
//! stored task says, whoever wrote it (docs/design/multi-node.md).
//!
//! A user's command applied on a node that does not own the task is written (versioned) with
//! its callbacks, but its relay, watch and timer effects are the owner's. The owner learns of
//! the write from [`Engine::task_changed`] (a cross-node notice, or its own poll of the held
//! tasks' versions every renew round: [`Engine::poll_held`]), re-reads the task and brings
//! what it runs in line with [`Task::owner_plan`]: the relay of the stored run and no other
//! (a Stop elsewhere stops it, a Restart elsewhere stops the old run and starts the new one),
//! the stored RepeatNumber, the source watch, the timers; a deleted or exited task's relay is
//! stopped and its lease given back.
//!
//! The owner remembers, per held task, the version it last brought its effects in line with
//! and the highest run it started itself ([`Owned`]). A notice for that version costs nothing;
//! its own writes keep the version current (the transition's effects did the work), unless
//! the version it wrote over was one it had not seen yet — then it reconciles with the task it
//! just wrote. A run is started only if it is newer than any run this node started: a relay
//! of the stored run that ended on its own has a report on its way, which decides (a retry, a
//! stop); starting it again would push one run twice.
//!
//! Starts happen under [`HeldLeases::if_held`](crate::HeldLeases::if_held), as every start
//! does: the fencing invariant is unchanged. Everything here runs under the task's lock, so a
//! reconciliation never interleaves with a command of this node on the same task.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use baton_domain::{Command, Lease, Takeover, Task, TaskId, TaskStatus};
use tracing::{info, warn};

use super::{Engine, EngineError};

/// What this node runs for a task it holds, as far as the stored task goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Owned {
    /// The task version its relay, watch and timers are in line with; `None` while the
    /// acquired task is being recovered.
    version: Option<u64>,
    /// The highest run this node started under its lease (0: none).
    started: u64,
}

impl Engine {
    /// A task was written, by this node or another (a cross-node notice on every task
    /// write): if this node holds the task's lease, its relay, source watch and timers are
    /// brought in line with the stored task. `version` is the written version when the notice
    /// carries it: a version this node is already in line with costs no read. Cheap and
    /// idempotent; a task this node does not hold is none of its business. Without leases
    /// (one node) it does nothing: every effect was carried out where it was written.
    pub async fn task_changed(&self, id: &TaskId, version: Option<u64>) {
        let Some(held) = &self.inner.held else { return };
        if held.get(id).is_none() {
            return;
        }
        match self.owned(id) {
            // Held but its recovery failed: recover it now (unless the keeper's `acquired`
            // came first and recovers it).
            None => {
                if let Some(lease) = held.get(id)
                    && self.note_acquired(id)
                {
                    self.recover_acquired(&lease).await;
                }
                return;
            }
            // Being recovered: the recovery reads the task after this write.
            Some(Owned { version: None, .. }) => return,
            Some(o) if version.is_some() && o.version == version => return,
            Some(_) => {}
        }
        let lock = self.lock_of(id);
        let _guard = lock.lock().await;
        let Some(lease) = held.get(id) else { return };
        let task = match self.inner.store.get(&lease.account, id).await {
            Ok(task) => task,
            Err(e) => {
                warn!(task = %id, error = %e, "changed task not read; the next poll reads it again");
                return;
            }
        };
        let seen = self.owned(id).and_then(|o| o.version);
        if task.as_ref().is_some_and(|t| Some(t.version) == seen) {
            return;
        }
        self.reconcile(&lease, task.as_ref()).await;
    }

    /// A lease was released elsewhere (a cross-node notice: a node stopping cleanly): the
    /// lease keeper claims now instead of at its next round. Without leases it does nothing.
    pub fn leases_released(&self) {
        if let Some(held) = &self.inner.held {
            held.wake_keeper();
        }
    }

    /// The polling fallback of [`Engine::task_changed`], after every renewal: reads the held
    /// tasks' versions in one query and reconciles those that changed (or were deleted). At
    /// most one poll at a time; one still running when the next round ends is not doubled.
    pub(super) fn poll_held(&self, held: Vec<Lease>) {
        let Some(cluster) = &self.inner.config.cluster else {
            return;
        };
        if held.is_empty() || self.inner.polling.swap(true, Ordering::AcqRel) {
            return;
        }
        let leases = std::sync::Arc::clone(&cluster.leases);
        let engine = self.clone();
        tokio::spawn(async move {
            let ids: Vec<TaskId> = held.iter().map(|l| l.task.clone()).collect();
            match leases.versions(&ids).await {
                Ok(versions) => {
                    let versions: HashMap<TaskId, u64> = versions.into_iter().collect();
                    let changed = ids.into_iter().filter_map(|id| {
                        let version = versions.get(&id).copied();
                        let seen = engine.owned(&id).and_then(|o| o.version);
                        (version.is_none() || version != seen).then_some((id, version))
                    });
                    let changed: Vec<_> = changed.collect();
                    let calls = changed
                        .iter()
                        .map(|(id, version)| engine.task_changed(id, *version));
                    futures_util::future::join_all(calls).await;
                }
                Err(e) => warn!(error = %e, "held tasks' versions not read; next round reads them"),
            }
            engine.inner.polling.store(false, Ordering::Release);
        });
    }

    /// After this node applied a command under `lease` (the task at version `before`, now
    /// `after`): its effects were carried out, so what runs is in line with `after` if it was
    /// in line with `before`; otherwise (another node wrote `before`, a recovery) it is made
    /// so. A lease lost meanwhile: what the command armed is forgotten.
    pub(super) async fn settle(&self, before: u64, after: &Task, lease: &Lease) {
        let Some(held) = &self.inner.held else { return };
        if held.get(&after.id).as_ref() != Some(lease) {
            self.forget_lost(lease);
            return;
        }
        let seen = self.owned(&after.id).and_then(|o| o.version);
        if seen == Some(before) && after.runtime.status != TaskStatus::Exited {
            self.owned_mut(&after.id, |o| o.version = Some(after.version));
            return;
        }
        self.reconcile(lease, Some(after)).await;
    }

    /// Brings what this node runs for the task of `lease` in line with the stored `task`
    /// (`None`: deleted). Called under the task's lock.
    async fn reconcile(&self, lease: &Lease, task: Option<&Task>) {
        let id = &lease.task;
        let supervisor = &self.inner.supervisor;
        let timeout = self.inner.config.stop_timeout;
        let Some(task) = task.filter(|t| !t.owner_plan().exited) else {
            if let Some(run) = supervisor.run_of(id) {
                supervisor.stop(id, run, timeout).await;
                info!(task = %id, run, "relay stopped: the task exited or was deleted on another node");
            }
            self.forget_lost(lease);
            self.inner
                .table
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
            if task.is_none() {
                self.inner
                    .locks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(id);
            }
            self.give_back(lease);
            return;
        };
        let plan = task.owner_plan();
        let local = supervisor.run_of(id);
        if let Some(run) = local.filter(|r| Some(*r) != plan.relay) {
            supervisor.stop(id, run, timeout).await;
            info!(task = %id, run, version = task.version, "relay stopped: the stored task no longer runs it");
        }
        if let Some(run) = plan.relay {
            if local == Some(run) {
                // A patch applied on another node: its RepeatNumber and destinations.
                self.update_relay(task, run).await;
            } else if run > self.owned(id).map_or(0, |o| o.started) {
                info!(task = %id, run, version = task.version, "starting the stored task's run");
                self.start_relay(task, run, Some(lease));
            }
        }
        let watching = self.inner.watches.run_of(id);
        if watching != plan.watch {
            if let Some(run) = watching {
                self.inner.watches.unwatch(id, run);
            }
            if let Some(run) = plan.watch {
                self.watch_source(task, run);
            }
        }
        let timers = &self.inner.timers;
        timers.forget(&task.account, id).await;
        for (timer, at) in plan.timers {
            timers.set(&task.account, id, timer, at).await;
        }
        self.remember(task);
        self.owned_mut(id, |o| o.version = Some(task.version));
    }

    /// Applies `Recover` to a task whose lease this node just acquired. A recovery that fails
    /// is tried again by the next poll ([`Engine::task_changed`] of a held task it does not
    /// know).
    pub(super) async fn recover_acquired(&self, lease: &Lease) {
        if let Some(takeover) = self.taken_from(lease).await
            && let Err(e) = self
                .apply(&lease.account, &lease.task, Command::TakenOver(takeover))
                .await
        {
            // The log misses the entry; the task is recovered all the same.
            warn!(task = %lease.task, error = %e, "takeover not recorded");
        }
        match self
            .apply(&lease.account, &lease.task, Command::Recover)
            .await
        {
            Ok(_) => info!(task = %lease.task, epoch = lease.epoch, "task acquired"),
            Err(e) => {
                self.inner
                    .owned
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&lease.task);
                match e {
                    EngineError::NotOwner { .. } => {}
                    e => warn!(task = %lease.task, error = %e, "acquired task not recovered"),
                }
            }
        }
    }

    /// Who held the task before `lease` (just acquired), when that was another node: the
    /// takeover the task's log records. `None` on a single node (no leases), for a task
    /// never owned before or last owned by this node (a restart takes its own leases back),
    /// and when the lease is no longer the one acquired.
    async fn taken_from(&self, lease: &Lease) -> Option<Takeover> {
        let cluster = self.inner.config.cluster.as_ref()?;
        let state = match cluster.leases.lease_of(&lease.task).await {
            Ok(state) => state?,
            Err(e) => {
                warn!(task = %lease.task, error = %e, "previous owner not read");
                return None;
            }
        };
        if state.epoch != lease.epoch {
            return None;
        }
        state
            .previous
            .filter(|p| p.node != cluster.node.id.as_str())
    }

    /// The node now holds the task's lease, not yet recovered: whether the caller is the one
    /// to recover it (false: a recovery is already on its way).
    pub(super) fn note_acquired(&self, id: &TaskId) -> bool {
        let mut owned = self.inner.owned.lock().unwrap_or_else(|e| e.into_inner());
        match owned.entry(id.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Owned::default());
                true
            }
        }
    }

    /// Run `run` of the task's relay is being started here (under the held-leases lock).
    pub(super) fn note_started(&self, id: &TaskId, run: u64) {
        self.owned_mut(id, |o| o.started = o.started.max(run));
    }

    /// The node no longer holds `lease` (lost, fenced, given back): the task's timers and
    /// source watch are forgotten (they would only be refused as not the owner's) and it
    /// leaves the metrics table. Its relay is the caller's (aborted, or stopped).
    pub(super) fn forget_lost(&self, lease: &Lease) {
        let id = &lease.task;
        let held = self.inner.held.as_ref().and_then(|h| h.get(id));
        if held.is_some_and(|l| l != *lease) {
            // Claimed again meanwhile (a newer epoch): what runs now is that lease's.
            return;
        }
        self.inner.watches.forget(id);
        self.inner
            .owned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        self.inner
            .table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        let timers = self.inner.timers.clone();
        let (account, id) = (lease.account.clone(), id.clone());
        tokio::spawn(async move { timers.forget(&account, &id).await });
    }

    fn owned(&self, id: &TaskId) -> Option<Owned> {
        let owned = self.inner.owned.lock().unwrap_or_else(|e| e.into_inner());
        owned.get(id).copied()
    }

    /// Changes the task's record, if it has one (a task not held has none).
    fn owned_mut(&self, id: &TaskId, f: impl FnOnce(&mut Owned)) {
        let mut owned = self.inner.owned.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = owned.get_mut(id) {
            f(o);
        }
    }
}
