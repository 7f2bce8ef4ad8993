//! Ingest control: who may publish what. Forbidden streams (ForbidLiveStream /
//! ResumeLiveStream, seed 002), ingest domains owned by accounts, and signed publish URLs —
//! changed through the API and enforced by the ingest at `publish`, before any media is
//! accepted ([`StreamControl`] is the ingest's [`IngestPolicy`]).
//!
//! Blocks are durable ([`BlockStore`]): a block is committed before the API acknowledges it and
//! loaded again at start. Publish checks read an in-memory index (path → resume time), never
//! the store, so they stay fast and non-blocking; a block expires by itself when the clock
//! passes its resume time (the index compares with `now`), and expired rows are purged in the
//! background. Mutations are serialised, so the index and the store never disagree.
//!
//! Several nodes on one database: a forbid or resume through another node changes the store,
//! not this node's index. [`StreamControl::reload_blocks`] re-reads the active blocks, replaces
//! the index and disconnects this node's publishers of streams that became forbidden; it is
//! idempotent and cheap, so it is called both from a change notice (fast) and every
//! [`StreamControlConfig::reload_interval`] (the fallback when notices are lost). A one-shot
//! kick stores nothing: it reaches another node's publisher only through a notice that calls
//! [`StreamControl::kick_local`] there.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use baton_domain::ingest::{MAX_BLOCKS_PER_ACCOUNT, default_resume_at};
use baton_domain::{
    AccountId, AppSelector, AuthError, Block, BlockList, BlockQuery, BlockStore, Page, PublishAuth,
    PutBlock, StoreError, StreamPath, UnixTime,
};
use baton_net::hub::{StreamHub, StreamInfo, StreamKey};
use baton_net::ingest::{Decision, IngestPolicy, StreamRequest, query_param};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::clock::Clock;

/// Where ingest domains and their publish authentication are configured.
pub trait DomainDirectory: Send + Sync + 'static {
    /// The account that owns `domain` (lower-case), `None` if nobody does. An installation
    /// without configured domains gives every domain to its root account.
    fn owner(&self, domain: &str) -> Option<AccountId>;
    /// The domain's publish authentication, `None` when publishing needs no signature.
    fn publish_auth(&self, domain: &str) -> Option<PublishAuth>;
}

/// Settings of ingest control.
#[derive(Clone, Debug)]
pub struct StreamControlConfig {
    /// Active blocks per account.
    pub max_blocks: u64,
    /// How often expired blocks are purged from the store.
    pub purge_interval: Duration,
    /// A second kick this long after a forbid catches a publish that passed its check just
    /// before the block was in place (the check and the stream claim are not one step).
    pub rekick_after: Duration,
    /// How often the active blocks are re-read from the store ([`StreamControl::reload_blocks`]):
    /// the fallback that makes a forbid through another node sharing the database reach this
    /// node's publishers even when no notice does. `None` (the default): never — a store one
    /// node has to itself changes only through this node.
    pub reload_interval: Option<Duration>,
}

impl Default for StreamControlConfig {
    fn default() -> Self {
        StreamControlConfig {
            max_blocks: MAX_BLOCKS_PER_ACCOUNT,
            purge_interval: Duration::from_secs(60),
            rekick_after: Duration::from_millis(300),
            reload_interval: None,
        }
    }
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("the domain {0} does not belong to this account")]
    DomainNotOwned(String),
    #[error("the account has {limit} forbidden streams, the most it may have")]
    QuotaExceeded { limit: u64 },
    #[error("ResumeTime is not in the future")]
    ResumeTimeInPast,
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

/// One stream of the hub, as [`StreamControl::live`] shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveStream {
    /// The stream's key, its domain lower-cased.
    pub path: StreamPath,
    /// When the current publish started (wall clock, whole seconds), if one is on.
    pub started_at: Option<UnixTime>,
    /// When the stream may be published again, if it is forbidden now.
    pub forbidden_until: Option<UnixTime>,
    /// The hub's snapshot: publish origin, codecs, rates, players, GOP cache, counters.
    pub info: StreamInfo,
}

/// Ingest control. Cheap to clone.
#[derive(Clone)]
pub struct StreamControl {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn BlockStore>,
    clock: Arc<dyn Clock>,
    directory: Arc<dyn DomainDirectory>,
    hub: Arc<StreamHub>,
    config: StreamControlConfig,
    /// Forbidden paths and when each is allowed again.
    index: RwLock<HashMap<StreamPath, UnixTime>>,
    /// Serialises changes (store write + index update).
    changes: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for StreamControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamControl")
            .field("blocks", &self.index().len())
            .finish_non_exhaustive()
    }
}

impl StreamControl {
    /// Loads the active blocks from `store` and starts purging expired ones in the
    /// background (until `cancel`).
    pub async fn start(
        store: Arc<dyn BlockStore>,
        clock: Arc<dyn Clock>,
        directory: Arc<dyn DomainDirectory>,
        hub: Arc<StreamHub>,
        config: StreamControlConfig,
        cancel: CancellationToken,
    ) -> Result<StreamControl, StoreError> {
        let now = clock.now();
        let purged = store.purge_expired_blocks(now).await?;
        let active = store.active_blocks(now).await?;
        let mut index = HashMap::with_capacity(active.len());
        for block in active {
            let at = index.entry(block.path).or_insert(block.resume_at);
            *at = (*at).max(block.resume_at);
        }
        info!(
            forbidden = index.len(),
            purged, "ingest control: block list loaded"
        );
        let control = StreamControl {
            inner: Arc::new(Inner {
                store,
                clock,
                directory,
                hub,
                config,
                index: RwLock::new(index),
                changes: tokio::sync::Mutex::new(()),
            }),
        };
        if let Some(every) = control.inner.config.reload_interval {
            tokio::spawn(control.clone().reload_loop(every, cancel.clone()));
        }
        tokio::spawn(control.clone().purge_loop(cancel));
        Ok(control)
    }

    fn index(&self) -> std::sync::RwLockReadGuard<'_, HashMap<StreamPath, UnixTime>> {
        self.inner
            .index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn index_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<StreamPath, UnixTime>> {
        self.inner
            .index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn check_owner(&self, account: &AccountId, domain: &str) -> Result<(), ControlError> {
        match self.inner.directory.owner(domain) {
            Some(owner) if owner == *account => Ok(()),
            _ => Err(ControlError::DomainNotOwned(domain.to_string())),
        }
    }

    /// ForbidLiveStream: disconnects the publisher of `path` and, unless `oneshot`, forbids
    /// publishing it until `resume_at` (default: 6 calendar months).
    pub async fn forbid(
        &self,
        account: &AccountId,
        path: StreamPath,
        resume_at: Option<UnixTime>,
        oneshot: bool,
    ) -> Result<(), ControlError> {
        self.check_owner(account, &path.domain)?;
        let now = self.inner.clock.now();
        if resume_at.is_some_and(|at| at <= now) {
            return Err(ControlError::ResumeTimeInPast);
        }
        if !oneshot {
            let _serial = self.inner.changes.lock().await;
            let block = Block {
                account: account.clone(),
                path: path.clone(),
                created_at: now,
                resume_at: resume_at.unwrap_or_else(|| default_resume_at(now)),
            };
            match self
                .inner
                .store
                .put_block(&block, self.inner.config.max_blocks)
                .await?
            {
                PutBlock::QuotaExceeded => {
                    return Err(ControlError::QuotaExceeded {
                        limit: self.inner.config.max_blocks,
                    });
                }
                PutBlock::Added | PutBlock::Replaced => {}
            }
            self.index_mut().insert(path.clone(), block.resume_at);
            info!(stream = %path, %account, resume_at = block.resume_at, "stream forbidden");
        }
        if oneshot {
            self.kick_local(&path);
            // Another node sharing the store may hold the publisher: a kick is stored nowhere
            // (nothing to poll), so it is said to them (a store of one node says nothing).
            self.inner.store.announce_kick(&path).await?;
        } else {
            self.kick_forbidden(path);
        }
        Ok(())
    }

    /// Disconnects this node's publisher of `path`, if it has one (a one-shot kick: it may
    /// publish again at once). The entry point of a kick notice from another node. Returns
    /// whether a publisher was disconnected.
    pub fn kick_local(&self, path: &StreamPath) -> bool {
        let key = StreamKey::new(&path.domain, &path.app, &path.stream);
        let kicked = self.inner.hub.kick(&key);
        if kicked {
            info!(stream = %path, "publisher disconnected");
        }
        kicked
    }

    /// Disconnects this node's publisher of the forbidden `path`, and again after
    /// `rekick_after` if the stream is still forbidden: a publish that passed its check just
    /// before the block reached the index.
    fn kick_forbidden(&self, path: StreamPath) {
        let key = StreamKey::new(&path.domain, &path.app, &path.stream);
        if self.inner.hub.kick(&key) {
            info!(stream = %path, "publisher of a forbidden stream disconnected");
        }
        let (control, delay) = (self.clone(), self.inner.config.rekick_after);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if control.blocked_until(&path).is_some() && control.inner.hub.kick(&key) {
                info!(stream = %path, "publisher that raced the block disconnected");
            }
        });
    }

    /// Re-reads the active blocks from the store and replaces the index with them: streams
    /// forbidden through another node sharing the database are refused here from now on, and
    /// this node's publishers of those newly forbidden are disconnected (kicked, and again
    /// after `rekick_after`); streams resumed elsewhere may publish here again. Idempotent —
    /// a second call with nothing changed kicks nobody — and cheap (one indexed read), so a
    /// change notice may call it at every change. Returns how many streams are forbidden now.
    pub async fn reload_blocks(&self) -> Result<usize, StoreError> {
        let newly = {
            // Serialised with this node's own changes: none lands between the read and the
            // swap (and then vanishes from the index).
            let _serial = self.inner.changes.lock().await;
            let now = self.inner.clock.now();
            let active = self.inner.store.active_blocks(now).await?;
            let mut index = HashMap::with_capacity(active.len());
            for block in active {
                let at = index.entry(block.path).or_insert(block.resume_at);
                *at = (*at).max(block.resume_at);
            }
            let mut current = self.index_mut();
            let newly: Vec<StreamPath> = index
                .keys()
                .filter(|path| current.get(*path).is_none_or(|&at| now >= at))
                .cloned()
                .collect();
            let resumed = current
                .iter()
                .filter(|(path, at)| now < **at && !index.contains_key(*path))
                .count();
            if !newly.is_empty() || resumed > 0 {
                info!(
                    forbidden = newly.len(),
                    resumed, "ingest control: blocks changed on another node"
                );
            }
            *current = index;
            newly
        };
        for path in newly {
            self.kick_forbidden(path);
        }
        Ok(self.index().len())
    }

    async fn reload_loop(self, every: Duration, cancel: CancellationToken) {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            if let Err(e) = self.reload_blocks().await {
                warn!(error = %e, "reloading the blocks failed; the previous list stays in force");
            }
        }
    }

    /// ResumeLiveStream: lifts the account's blocks of `stream` on `domain` in the selected
    /// apps. Returns the paths that were forbidden.
    pub async fn resume(
        &self,
        account: &AccountId,
        domain: &str,
        app: &AppSelector,
        stream: &str,
    ) -> Result<Vec<StreamPath>, ControlError> {
        let domain = domain.to_ascii_lowercase();
        self.check_owner(account, &domain)?;
        let _serial = self.inner.changes.lock().await;
        let removed = self
            .inner
            .store
            .remove_blocks(account, &domain, app, stream)
            .await?;
        let mut index = self.index_mut();
        for path in &removed {
            index.remove(path);
            info!(stream = %path, %account, "stream resumed");
        }
        Ok(removed)
    }

    /// DescribeLiveStreamsBlockList: one page of the domain's forbidden streams.
    pub async fn block_list(
        &self,
        account: &AccountId,
        domain: &str,
        page: Page,
    ) -> Result<BlockList, ControlError> {
        let domain = domain.to_ascii_lowercase();
        self.check_owner(account, &domain)?;
        let now = self.inner.clock.now();
        Ok(self
            .inner
            .store
            .list_blocks(account, &domain, now, page)
            .await?)
    }

    /// DescribeForbiddenStreamInfoByPage: one page of the account's streams forbidden now that
    /// match `query` (its domain is lower-cased first, as blocks keep it). No ownership check:
    /// every result is one of the account's own blocks, on whichever domain.
    pub async fn search(
        &self,
        account: &AccountId,
        query: &BlockQuery,
        page: Page,
    ) -> Result<BlockList, ControlError> {
        let query = BlockQuery {
            domain: query.domain.as_deref().map(str::to_ascii_lowercase),
            ..query.clone()
        };
        let now = self.inner.clock.now();
        Ok(self
            .inner
            .store
            .search_blocks(account, &query, now, page)
            .await?)
    }

    /// The hub's streams `viewer` may see — those on ingest domains it owns; `None` is the
    /// operator's view, every stream — sorted by key, each with when it started and whether it
    /// is forbidden now.
    pub fn live(&self, viewer: Option<&AccountId>) -> Vec<LiveStream> {
        let now = self.inner.clock.now();
        self.inner
            .hub
            .list()
            .into_iter()
            .filter_map(|info| {
                let path = StreamPath::new(&info.key.domain, &info.key.app, &info.key.stream);
                if let Some(viewer) = viewer
                    && self.inner.directory.owner(&path.domain).as_ref() != Some(viewer)
                {
                    return None;
                }
                let started_at = info.publish.as_ref().map(|p| {
                    now - i64::try_from(p.uptime.as_secs())
                        .unwrap_or(i64::MAX)
                        .min(now)
                });
                Some(LiveStream {
                    forbidden_until: self.blocked_until(&path),
                    path,
                    started_at,
                    info,
                })
            })
            .collect()
    }

    /// The account that owns ingest domain `domain` (any case), if any.
    pub fn domain_owner(&self, domain: &str) -> Option<AccountId> {
        self.inner.directory.owner(&domain.to_ascii_lowercase())
    }

    /// When `path` may be published again, if it is forbidden now.
    pub fn blocked_until(&self, path: &StreamPath) -> Option<UnixTime> {
        let now = self.inner.clock.now();
        self.index()
            .get(path)
            .copied()
            .filter(|&resume_at| now < resume_at)
    }

    /// Whether a publish of `key` may go ahead: the domain has an owner, the stream is not
    /// forbidden, and the URL is signed when the domain asks for it (`auth_key` in the
    /// stream name's query, else in the tcUrl's).
    pub fn check_publish(
        &self,
        key: &StreamKey,
        query: Option<&str>,
        tc_url: Option<&str>,
    ) -> Result<(), String> {
        let domain = key.domain.to_ascii_lowercase();
        if self.inner.directory.owner(&domain).is_none() {
            return Err(format!("the domain {domain} is not served here"));
        }
        let path = StreamPath::new(&domain, &key.app, &key.stream);
        if let Some(resume_at) = self.blocked_until(&path) {
            return Err(format!(
                "the stream {path} is forbidden until {}",
                crate::time::rfc3339(resume_at)
            ));
        }
        if let Some(auth) = self.inner.directory.publish_auth(&domain) {
            let tc_query = tc_url.and_then(|u| u.split_once('?')).map(|(_, q)| q);
            let auth_key = [query, tc_query]
                .into_iter()
                .flatten()
                .find_map(|q| query_param(q, "auth_key"));
            let now = self.inner.clock.now();
            auth.verify(&key.app, &key.stream, auth_key, now)
                .map_err(|e: AuthError| e.to_string())?;
        }
        Ok(())
    }

    async fn purge_loop(self, cancel: CancellationToken) {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(self.inner.config.purge_interval) => {}
            }
            let now = self.inner.clock.now();
            let _serial = self.inner.changes.lock().await;
            match self.inner.store.purge_expired_blocks(now).await {
                Ok(0) => {}
                Ok(n) => debug!(purged = n, "expired blocks purged"),
                Err(e) => warn!(error = %e, "purging expired blocks failed"),
            }
            self.index_mut().retain(|_, resume_at| now < *resume_at);
        }
    }
}

impl IngestPolicy for StreamControl {
    fn authorize_publish(&self, request: &StreamRequest<'_>) -> Decision {
        match self.check_publish(request.key, request.query, request.tc_url) {
            Ok(()) => Decision::Allow,
            Err(description) => {
                info!(stream = %request.key, peer = %request.peer, reason = %description, "publish refused");
                Decision::publish_denied(description)
            }
        }
    }
}
