//! What a node hears from the other nodes of a shared PostgreSQL database (issue 15; the
//! notices of `baton_store_postgres::notices`): each notice brings forward work that polling
//! would do anyway — the owner of a task carries out a command applied elsewhere, a released
//! lease is claimed now, a forbid elsewhere disconnects this node's publisher — and a one-shot
//! kick, which nothing stores, reaches the node holding the publisher.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use baton_engine::{Engine, StreamControl};
use baton_store_postgres::{Listening, Notice, PgStore};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Notices waiting for [`act`] at most: a burst beyond it (the engine not started yet, or
/// stalled) is not queued without bound — it is dropped and made up for by a
/// [`Notice::Resync`], as a lost connection is.
const QUEUE: usize = 4096;

/// The notices heard since [`listen`] returned, for [`act`].
pub struct Notices {
    queue: mpsc::Receiver<Notice>,
    /// Some were dropped because the queue was full.
    overflowed: Arc<AtomicBool>,
}

/// Starts listening (returns once `LISTEN` is in place): called before the engine starts, so
/// that nothing another node does from the engine's first claim on goes unheard. The notices
/// wait in the returned queue (at most [`QUEUE`]) until [`act`] takes them. Listening stops
/// when the guard drops.
pub async fn listen(store: &PgStore) -> anyhow::Result<(Listening, Notices)> {
    let (tx, queue) = mpsc::channel(QUEUE);
    let overflowed = Arc::new(AtomicBool::new(false));
    let full = Arc::clone(&overflowed);
    let listening = store
        .listen(move |notice| {
            if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(notice) {
                full.store(true, Ordering::Release);
            }
        })
        .await?;
    Ok((listening, Notices { queue, overflowed }))
}

/// Acts on the notices until `cancel` (before the engine shuts down: a notice must not start
/// work on a node that is leaving). Each is quick here; the work is spawned.
pub async fn act(
    mut notices: Notices,
    engine: Engine,
    control: StreamControl,
    cancel: CancellationToken,
) {
    loop {
        let notice = tokio::select! {
            _ = cancel.cancelled() => return,
            notice = notices.queue.recv() => match notice {
                Some(notice) => notice,
                None => return,
            },
        };
        on_notice(&engine, &control, notice);
        // Notices were dropped: what they would have told is read again.
        if notices.overflowed.swap(false, Ordering::AcqRel) {
            warn!(
                queue = QUEUE,
                "cluster notices dropped (queue full); re-reading"
            );
            on_notice(&engine, &control, Notice::Resync);
        }
    }
}

fn on_notice(engine: &Engine, control: &StreamControl, notice: Notice) {
    match notice {
        Notice::Task(id, version) => {
            // Every task write of the cluster is heard by every node: only the owner works.
            let owned = engine
                .held_leases()
                .is_some_and(|held| held.get(&id).is_some());
            if owned {
                let engine = engine.clone();
                tokio::spawn(async move { engine.task_changed(&id, version).await });
            }
        }
        Notice::Released => engine.leases_released(),
        Notice::Blocks => reload_blocks(control),
        Notice::Kick(path) => {
            control.kick_local(&path);
        }
        // Notices were lost while the connection was down: what they would have told is read
        // again (the owner's poll re-reads its tasks every renew round by itself).
        Notice::Resync => {
            engine.leases_released();
            reload_blocks(control);
        }
    }
}

fn reload_blocks(control: &StreamControl) {
    let control = control.clone();
    tokio::spawn(async move {
        if let Err(e) = control.reload_blocks().await {
            warn!(error = %e, "forbidden streams not re-read (the next poll tries again)");
        }
    });
}
