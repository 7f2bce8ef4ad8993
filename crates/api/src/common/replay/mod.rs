//! Replay protection of signed requests, for both dialects: what was spent, kept in memory
//! ([`SpentCache`]) and on disk ([`ReplayStore`]) until its signed time leaves the window.
//!
//! **When.** A request spends its entry only once it is authenticated (signature, time
//! window), allowed by its key's policy and within its account's rate: refused requests spend
//! nothing, so a key can only use up what it may actually send, and only its own share.
//!
//! **What.** Alibaba: the key's `SignatureNonce` (RPC) or `x-acs-signature-nonce` (V3), spent
//! by [`Replay::spend`]; a second use is `SignatureNonceUsed`. Volcengine has no nonce and a
//! one-second `X-Date`: a state-changing request is identified by its signature (which covers
//! X-Date, query, body and signed headers) and runs at most once ([`Replay::once`]); an
//! identical re-send gets the first answer (status and body, stored with the entry) without
//! running again — so an honest retry of the same bytes works, and a captured Stop cannot
//! re-stop a task that was continued since.
//!
//! **Durable first.** An entry is on disk before its request executes: requests hand their
//! entries to one writer task, which commits everything that queued while the previous
//! transaction ran as one transaction (group commit: one fsync for a whole batch), and each
//! request waits for its batch. `kill -9` at any point cannot re-open a request that ran. At
//! start the live entries are loaded back into memory ([`Replay::start`]: the first page
//! before, the rest while the API answers — until an entry is loaded, the store refuses its
//! replay); a purge loop drops expired ones from memory and disk.
//!
//! Queues and maps: the writer's queue holds [`QUEUE`] jobs (full: the request waits — the
//! disk sets the pace); the live set is bounded per key by its share; the in-flight
//! Volcengine executions map holds one entry per running request.

mod cache;
mod once;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use baton_domain::{ReplayAnswer, ReplayEntry, ReplayStore, UnixTime};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

pub use cache::{BUCKET_SECONDS, Check, SpentCache};

use crate::common::time::WallClock;
use crate::config::ApiConfig;
use crate::error::ApiError;

/// Jobs queued for the writer.
pub const QUEUE: usize = 65_536;

/// Jobs committed in one transaction at most.
const MAX_BATCH: usize = 8192;

/// Entries loaded per page at start.
const LOAD_PAGE: u32 = 50_000;

/// How often expired entries are dropped from memory and disk.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(10);

/// Replay protection: the live set, its durable store and the writer. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Replay {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cache: SpentCache,
    store: Arc<dyn ReplayStore>,
    jobs: mpsc::Sender<Job>,
    /// Volcengine requests executing now, by entry: a re-send waits for the first answer.
    running: Mutex<HashMap<ReplayEntry, watch::Receiver<Option<ReplayAnswer>>>>,
    clock: Arc<dyn WallClock>,
}

#[derive(Debug)]
enum Job {
    Spend(ReplayEntry, oneshot::Sender<Result<bool, String>>),
    Answer(
        ReplayEntry,
        ReplayAnswer,
        oneshot::Sender<Result<(), String>>,
    ),
}

impl Replay {
    /// Loads the entries of `store` still live on `config`'s clock, then starts the writer and
    /// the purge loop (tokio tasks, which end when the last clone of the handle is dropped).
    pub async fn start(
        store: Arc<dyn ReplayStore>,
        config: &ApiConfig,
    ) -> Result<Replay, ApiError> {
        let clock = Arc::clone(&config.clock);
        let now = clock.now();
        // The first page now (a store that cannot be read fails the start), the rest behind.
        let first = store
            .unexpired(now, None, LOAD_PAGE)
            .await
            .map_err(|e| ApiError::ReplayUnavailable(e.to_string()))?;
        let cache = SpentCache::new(config.replay_share_per_key);
        let last = first.last().copied();
        let more = first.len() == LOAD_PAGE as usize;
        first.into_iter().for_each(|e| cache.load(e));
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write(Arc::clone(&store), queue));
        let inner = Arc::new(Inner {
            cache,
            store,
            jobs,
            running: Mutex::default(),
            clock,
        });
        match last {
            Some(last) if more => {
                tokio::spawn(load(Arc::downgrade(&inner), now, last));
            }
            Some(_) => info!(
                loaded = inner.cache.len(),
                "replay protection: spent requests loaded"
            ),
            None => {}
        }
        tokio::spawn(purge(Arc::downgrade(&inner)));
        Ok(Replay { inner })
    }

    /// Spends an Alibaba nonce: `NonceUsed` if its key spent it within its window (here, or
    /// through the same store elsewhere), `ReplayShareExceeded` if the key has its whole
    /// share live; otherwise it is on disk when this returns.
    pub async fn spend(&self, entry: ReplayEntry, now: UnixTime) -> Result<(), ApiError> {
        match self.inner.cache.check_and_insert(entry, now) {
            Check::Replayed => Err(ApiError::NonceUsed),
            Check::OverShare { retry_after } => Err(over_share(retry_after)),
            Check::Fresh => match self.persist(entry).await? {
                true => Ok(()),
                false => Err(ApiError::NonceUsed),
            },
        }
    }

    /// Live entries in memory (all keys).
    pub fn len(&self) -> usize {
        self.inner.cache.len()
    }

    /// Whether nothing is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes `entry` durably: whether it was new in the store (`false`: spent elsewhere).
    /// On failure the entry is forgotten again (its request is refused, so a retry may pass).
    async fn persist(&self, entry: ReplayEntry) -> Result<bool, ApiError> {
        let (tx, rx) = oneshot::channel();
        let result = match self.inner.jobs.send(Job::Spend(entry, tx)).await {
            Ok(()) => rx
                .await
                .unwrap_or_else(|_| Err("the replay writer stopped".into())),
            Err(_) => Err("the replay writer stopped".into()),
        };
        result.map_err(|why| {
            self.inner.cache.remove(entry);
            ApiError::ReplayUnavailable(why)
        })
    }

    async fn record_answer(
        &self,
        entry: ReplayEntry,
        answer: ReplayAnswer,
    ) -> Result<(), ApiError> {
        let (tx, rx) = oneshot::channel();
        let unavailable = || ApiError::ReplayUnavailable("the replay writer stopped".into());
        self.inner
            .jobs
            .send(Job::Answer(entry, answer, tx))
            .await
            .map_err(|_| unavailable())?;
        rx.await
            .map_err(|_| unavailable())?
            .map_err(ApiError::ReplayUnavailable)
    }
}

/// The 64-bit digest of an access key id: whose share an entry counts against.
pub fn key_digest(access_key_id: &str) -> u64 {
    digest(&[b"baton replay key", access_key_id.as_bytes()])
}

/// The entry of an Alibaba nonce of `access_key_id` signed at `signed_at`.
pub fn nonce_entry(
    access_key_id: &str,
    nonce: &str,
    signed_at: UnixTime,
    window: i64,
) -> ReplayEntry {
    ReplayEntry {
        expires_at: signed_at.saturating_add(window),
        key: key_digest(access_key_id),
        digest: digest(&[b"alibaba nonce", access_key_id.as_bytes(), nonce.as_bytes()]),
    }
}

/// The entry of a Volcengine request of `access_key_id` with `signature`, signed at
/// `signed_at` (X-Date).
pub fn signature_entry(
    access_key_id: &str,
    signature: &str,
    signed_at: UnixTime,
    window: i64,
) -> ReplayEntry {
    ReplayEntry {
        expires_at: signed_at.saturating_add(window),
        key: key_digest(access_key_id),
        digest: digest(&[
            b"volcengine signature",
            access_key_id.as_bytes(),
            signature.as_bytes(),
        ]),
    }
}

/// The first 64 bits of SHA-256 over length-prefixed parts (so ("ab", "c") and ("a", "bc")
/// differ, and the first part separates the kinds of digest).
fn digest(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    let out = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&out[..8]);
    u64::from_be_bytes(first)
}

fn over_share(retry_after: u64) -> ApiError {
    ApiError::ReplayShareExceeded {
        retry_after: Duration::from_secs(retry_after),
    }
}

/// The writer: one transaction for everything queued, then the next.
async fn write(store: Arc<dyn ReplayStore>, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let mut spent = Vec::new();
        let mut answers = Vec::new();
        for job in &jobs {
            match job {
                Job::Spend(entry, _) => spent.push(*entry),
                Job::Answer(entry, answer, _) => answers.push((*entry, answer.clone())),
            }
        }
        let result = store.record(&spent, &answers).await;
        if let Err(e) = &result {
            warn!(error = %e, entries = spent.len(), "replay protection: write failed; requests refused");
        }
        let (mut fresh, error) = match &result {
            Ok(fresh) => (fresh.iter().copied(), None),
            Err(e) => ([].iter().copied(), Some(e.to_string())),
        };
        for job in jobs.drain(..) {
            match job {
                Job::Spend(_, tx) => {
                    // `record` answers one bool per spent entry, in order.
                    let _ = tx.send(match &error {
                        None => Ok(fresh.next().unwrap_or(false)),
                        Some(e) => Err(e.clone()),
                    });
                }
                Job::Answer(_, _, tx) => {
                    let _ = tx.send(error.clone().map_or(Ok(()), Err));
                }
            }
        }
    }
    debug!("replay protection: writer stopped");
}

/// Loads the live entries after `after` into memory, a page at a time, while the API already
/// answers. Safe because the store itself refuses an entry it holds ([`ReplayStore::record`]
/// returns `false`): until its page is loaded, a replay is found on disk rather than in memory.
/// What waits for the load is only the memory-side extras — a nonce reused with another
/// Timestamp, and the shares (a key may briefly hold up to twice its own).
async fn load(inner: Weak<Inner>, now: UnixTime, mut after: ReplayEntry) {
    let started = tokio::time::Instant::now();
    loop {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let page = match inner.store.unexpired(now, Some(after), LOAD_PAGE).await {
            Ok(page) => page,
            Err(e) => {
                // Replays are still refused by the store; only the extras above are missing.
                warn!(error = %e, "replay protection: loading spent requests failed");
                return;
            }
        };
        let Some(last) = page.last().copied() else {
            info!(
                loaded = inner.cache.len(),
                seconds = started.elapsed().as_secs_f64(),
                "replay protection: spent requests loaded"
            );
            return;
        };
        page.into_iter().for_each(|e| inner.cache.load(e));
        after = last;
        // Let requests run between pages.
        tokio::task::yield_now().await;
    }
}

/// Drops expired entries from memory and disk every [`PURGE_INTERVAL`], while the handle lives.
async fn purge(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(PURGE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let now = inner.clock.now();
        inner.cache.sweep(now);
        match inner.store.purge_replay(now).await {
            Ok(n) if n > 0 => debug!(purged = n, "replay protection: expired entries purged"),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "replay protection: purge failed"),
        }
    }
}
