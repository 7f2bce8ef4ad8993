//! At most once: a state-changing request without a nonce (Volcengine) is identified by its
//! signature; the first arrival executes, every identical re-send gets the first answer.
//!
//! The first arrival's work — the durable claim, the execution, the durable answer — runs in a
//! task of its own, so a client that hangs up (axum then drops the request's future) cannot
//! leave a request half-claimed: it finishes, and its answer is there for the re-send. A
//! re-send while it runs waits for it; a re-send after it reads the stored answer. A request
//! claimed before a crash whose answer was never stored (the server stopped while it ran) is
//! refused ([`ApiError::ReplayAnswerLost`]): its outcome is unknown, and running it again is
//! exactly what must not happen.

use std::future::Future;

use baton_domain::{ReplayAnswer, ReplayEntry, UnixTime};
use tokio::sync::watch;

use super::{Check, Replay, over_share};
use crate::error::ApiError;

enum Claim {
    /// First arrival: run it.
    Run(watch::Sender<Option<ReplayAnswer>>),
    /// Running now: wait for its answer.
    Wait(watch::Receiver<Option<ReplayAnswer>>),
    /// Answered before (or elsewhere): read the answer.
    Stored,
}

impl Replay {
    /// Runs `execute` unless a request with `entry` ran before within its window, and returns
    /// the answer of the one that ran. `ReplayShareExceeded` if the key has its whole share
    /// live, `ReplayUnavailable` if the store failed (then nothing ran).
    pub async fn once<F>(
        &self,
        entry: ReplayEntry,
        now: UnixTime,
        execute: F,
    ) -> Result<ReplayAnswer, ApiError>
    where
        F: Future<Output = ReplayAnswer> + Send + 'static,
    {
        match self.claim(entry, now)? {
            Claim::Run(tx) => {
                let this = self.clone();
                tokio::spawn(async move { this.run(entry, execute, tx).await })
                    .await
                    .map_err(|e| ApiError::Internal(format!("the request's task failed: {e}")))?
            }
            Claim::Wait(mut rx) => {
                let answered = rx.wait_for(Option::is_some).await.map(|a| a.clone());
                match answered {
                    Ok(Some(answer)) => Ok(answer),
                    // The first arrival ended without an answer: what the store says.
                    _ => self.stored(entry).await,
                }
            }
            Claim::Stored => self.stored(entry).await,
        }
    }

    /// The memory check and the registration of a first arrival, under one lock, so a re-send
    /// either finds the running request or its stored answer.
    fn claim(&self, entry: ReplayEntry, now: UnixTime) -> Result<Claim, ApiError> {
        let inner = &self.inner;
        // A poisoned lock only means a panic elsewhere; the map is still a valid map.
        let mut running = inner.running.lock().unwrap_or_else(|e| e.into_inner());
        Ok(match inner.cache.check_and_insert(entry, now) {
            Check::OverShare { retry_after } => return Err(over_share(retry_after)),
            Check::Replayed => match running.get(&entry) {
                Some(rx) => Claim::Wait(rx.clone()),
                None => Claim::Stored,
            },
            Check::Fresh => {
                let (tx, rx) = watch::channel(None);
                running.insert(entry, rx);
                Claim::Run(tx)
            }
        })
    }

    async fn run<F>(
        &self,
        entry: ReplayEntry,
        execute: F,
        tx: watch::Sender<Option<ReplayAnswer>>,
    ) -> Result<ReplayAnswer, ApiError>
    where
        F: Future<Output = ReplayAnswer>,
    {
        // Whatever happens below, the entry stops being "running" (waiters then read the
        // store); dropped after `tx` has been sent on.
        let _running = Running(self, entry);
        let answer = match self.persist(entry).await? {
            true => {
                let answer = execute.await;
                if let Err(e) = self.record_answer(entry, answer.clone()).await {
                    // It ran: its answer goes to this caller and any waiting re-send; a later
                    // re-send is refused as lost (never run again).
                    tracing::warn!(error = %e, "replay protection: an answer was not stored");
                }
                answer
            }
            // Recorded elsewhere (another node, or the store knew it and memory did not).
            false => self.stored(entry).await?,
        };
        tx.send_replace(Some(answer.clone()));
        Ok(answer)
    }

    async fn stored(&self, entry: ReplayEntry) -> Result<ReplayAnswer, ApiError> {
        self.inner
            .store
            .answer(&entry)
            .await
            .map_err(|e| ApiError::ReplayUnavailable(e.to_string()))?
            .ok_or(ApiError::ReplayAnswerLost)
    }
}

/// Removes a running entry when its run ends (answered, failed or panicked).
struct Running<'a>(&'a Replay, ReplayEntry);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut running = self
            .0
            .inner
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        running.remove(&self.1);
    }
}
