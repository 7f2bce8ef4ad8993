//! Cross-node notices: PostgreSQL `LISTEN`/`NOTIFY` on the channel `baton:<schema>`, fed by
//! the triggers of migration 5 (a task row written, a lease released, the blocks changed).
//!
//! Notices make a cluster fast, never correct: PostgreSQL delivers them only to connections
//! listening at COMMIT time, so every node also polls (the lease keeper's rounds, the blocks'
//! reload) and a notice only brings that work forward. What is lost while this node's
//! listening connection is down is made up for by [`Notice::Resync`] once it is back: "re-read
//! everything". One connection of its own per node (outside the store's pool, which it must
//! not starve), re-opened with a backoff when it breaks.

use std::sync::Arc;
use std::time::Duration;

use baton_domain::{StoreError, StreamPath, TaskId};
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::{ACQUIRE_TIMEOUT, PgStore, backend};

/// What changed in the shared database, as a node hears it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A task row was inserted or updated — at this version — or deleted (`None`), by any
    /// node, this one included.
    Task(TaskId, Option<u64>),
    /// A lease was given back (its owner stopped, or its task exited): claimable now.
    Released,
    /// Forbidden streams were added, changed or removed.
    Blocks,
    /// A one-shot kick of a stream's publisher, through another node's API
    /// ([`BlockStore::announce_kick`](baton_domain::BlockStore::announce_kick)).
    Kick(StreamPath),
    /// The listening connection was (re)opened: notices sent while it was down are lost, so
    /// whatever depends on them is read again.
    Resync,
}

impl Notice {
    /// The notice a trigger's payload names (`None`: not one of ours, ignored).
    pub fn parse(payload: &str) -> Option<Notice> {
        match payload {
            "released" => Some(Notice::Released),
            "blocks" => Some(Notice::Blocks),
            _ => {
                if let Some(task) = payload.strip_prefix("task:") {
                    let (id, version) = match task.split_once(':') {
                        Some((id, v)) => (id, Some(v.parse().ok()?)),
                        None => (task, None),
                    };
                    return (!id.is_empty()).then(|| Notice::Task(TaskId(id.to_owned()), version));
                }
                let [domain, app, stream]: [String; 3] =
                    serde_json::from_str(payload.strip_prefix("kick:")?).ok()?;
                Some(Notice::Kick(StreamPath::new(domain, app, stream)))
            }
        }
    }

    /// The payload of a kick of `path` (its parts as a JSON array: stream names may hold any
    /// character the ingest accepts).
    pub(crate) fn kick_payload(path: &StreamPath) -> String {
        let parts = [&path.domain, &path.app, &path.stream];
        format!(
            "kick:{}",
            serde_json::Value::from(parts.map(|p| p.as_str()).to_vec())
        )
    }
}

/// Sends a kick of `path` to every node listening on this store's schema (this one too: a
/// second kick of a publisher already gone does nothing).
pub(crate) async fn announce_kick(
    pool: &sqlx::PgPool,
    path: &StreamPath,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify('baton:' || current_schema(), $1)")
        .bind(Notice::kick_payload(path))
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}

/// The first and the longest wait before re-opening a broken listening connection.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(5));

/// The listening task: stops when dropped.
#[derive(Debug)]
pub struct Listening {
    task: JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PgStore {
    /// Listens for notices of this store's schema and hands each to `sink` (on the listening
    /// task: `sink` must not block). Returns once `LISTEN` is in place, so every change
    /// committed after this returns is heard; fails if the first connection cannot be made.
    /// Afterwards a broken connection is re-opened (backoff 0.5–5 s) and then
    /// [`Notice::Resync`] is handed over.
    pub async fn listen(
        &self,
        sink: impl Fn(Notice) + Send + Sync + 'static,
    ) -> Result<Listening, StoreError> {
        let channel = format!("baton:{}", self.schema().await?);
        // A pool of one (PgListener re-opens its connection from a pool): no lifetime or idle
        // limit, the listening connection lives as long as it works.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with((*self.pool.connect_options()).clone());
        let first = open(&pool, &channel).await.map_err(backend)?;
        let sink = Arc::new(sink);
        let task = tokio::spawn(async move {
            let mut listener = Some(first);
            let mut backoff = BACKOFF.0;
            loop {
                let Some(l) = listener.as_mut() else {
                    match open(&pool, &channel).await {
                        Ok(l) => {
                            info!(channel, "listening for cluster notices again");
                            listener = Some(l);
                            backoff = BACKOFF.0;
                            sink(Notice::Resync);
                        }
                        Err(e) => {
                            warn!(channel, error = %e, retry_in = ?backoff, "cannot listen for cluster notices (polling goes on)");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(BACKOFF.1);
                        }
                    }
                    continue;
                };
                match l.try_recv().await {
                    Ok(Some(n)) => {
                        if let Some(notice) = Notice::parse(n.payload()) {
                            sink(notice);
                        }
                    }
                    // The connection broke and was re-opened (LISTEN again) before returning.
                    Ok(None) => sink(Notice::Resync),
                    Err(e) => {
                        warn!(channel, error = %e, "cluster notices interrupted (polling goes on)");
                        listener = None;
                    }
                }
            }
        });
        Ok(Listening { task })
    }
}

async fn open(pool: &sqlx::PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut l = PgListener::connect_with(pool).await?;
    l.listen(channel).await?;
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        assert_eq!(Notice::parse("released"), Some(Notice::Released));
        assert_eq!(Notice::parse("blocks"), Some(Notice::Blocks));
        assert_eq!(
            Notice::parse("task:abc-1:7"),
            Some(Notice::Task(TaskId("abc-1".into()), Some(7)))
        );
        assert_eq!(
            Notice::parse("task:abc-1"),
            Some(Notice::Task(TaskId("abc-1".into()), None))
        );
        assert_eq!(Notice::parse("task:"), None);
        assert_eq!(Notice::parse("task:abc-1:x"), None);
        let odd = StreamPath::new("d.example", "live", "a\"b/c:d");
        assert_eq!(
            Notice::parse(&Notice::kick_payload(&odd)),
            Some(Notice::Kick(odd))
        );
        assert_eq!(Notice::parse("kick:[\"a\",\"b\"]"), None);
        assert_eq!(Notice::parse("kick:garbage"), None);
        assert_eq!(Notice::parse("something else"), None);
    }
}
