//! The [`ReplayStore`] in memory, for tests: a clone is another handle on the same entries (a
//! second node, or the server after a restart). Not durable; every operation completes at once,
//! so [`replay`] can start a [`Replay`] on it without awaiting.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use baton_domain::{ReplayAnswer, ReplayEntry, ReplayStore, StoreError, StoreFuture, UnixTime};
use futures_util::FutureExt;

use crate::common::replay::Replay;
use crate::config::ApiConfig;

/// Spent entries and their answers, shared by clones.
#[derive(Clone, Debug, Default)]
pub struct MemoryReplayStore {
    entries: Arc<Mutex<BTreeMap<ReplayEntry, Option<ReplayAnswer>>>>,
    /// Writes fail (a full disk) while set.
    failing: Arc<AtomicBool>,
}

impl MemoryReplayStore {
    pub fn new() -> MemoryReplayStore {
        MemoryReplayStore::default()
    }

    /// From now on, [`ReplayStore::record`] fails (`true`) or works again (`false`).
    pub fn fail_writes(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Entries stored (live or not yet purged).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ReplayEntry, Option<ReplayAnswer>>> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ReplayStore for MemoryReplayStore {
    fn record<'a>(
        &'a self,
        spent: &'a [ReplayEntry],
        answers: &'a [(ReplayEntry, ReplayAnswer)],
    ) -> StoreFuture<'a, Vec<bool>> {
        if self.failing.load(Ordering::SeqCst) {
            let e = std::io::Error::other("the disk is full");
            return Box::pin(std::future::ready(Err(StoreError::Backend(Box::new(e)))));
        }
        let mut entries = self.lock();
        let fresh = spent
            .iter()
            .map(|e| {
                let new = !entries.contains_key(e);
                entries.entry(*e).or_insert(None);
                new
            })
            .collect();
        for (e, answer) in answers {
            if let Some(slot) = entries.get_mut(e) {
                *slot = Some(answer.clone());
            }
        }
        Box::pin(std::future::ready(Ok(fresh)))
    }

    fn answer<'a>(&'a self, entry: &'a ReplayEntry) -> StoreFuture<'a, Option<ReplayAnswer>> {
        let answer = self.lock().get(entry).cloned().flatten();
        Box::pin(std::future::ready(Ok(answer)))
    }

    fn unexpired<'a>(
        &'a self,
        now: UnixTime,
        after: Option<ReplayEntry>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<ReplayEntry>> {
        let page = self
            .lock()
            .keys()
            .filter(|e| e.expires_at >= now && after.is_none_or(|a| **e > a))
            .take(limit as usize)
            .copied()
            .collect();
        Box::pin(std::future::ready(Ok(page)))
    }

    fn purge_replay(&self, now: UnixTime) -> StoreFuture<'_, u64> {
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|e, _| e.expires_at >= now);
        Box::pin(std::future::ready(Ok((before - entries.len()) as u64)))
    }
}

/// Replay protection on `store` (loaded from it, as at a restart), started without awaiting.
/// Must be called inside a tokio runtime (it spawns the writer).
pub fn replay(store: &MemoryReplayStore, config: &ApiConfig) -> Replay {
    Replay::start(Arc::new(store.clone()), config)
        .now_or_never()
        .expect("a memory store answers at once")
        .expect("a memory store does not fail")
}
