//! Delivers task callbacks from the store's outbox: at least once, in the background, with
//! backoff; never blocking a task.
//!
//! Several nodes on one database deliver each event from one node: a round *claims* its due
//! events ([`TaskStore::claim_due_events`], for [`CLAIM`]) before attempting them, and
//! recording the attempt ends the claim. A node killed mid-delivery leaves its claimed events
//! to any node once the claim expires. At least once still: a delivery slower than the claim,
//! or a node that dies between the receiver's answer and recording it, lets the event be
//! delivered again (receivers deduplicate by `EventId`, as for any retry).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use baton_domain::{AccountId, CallbackEvent, OutboxEntry, TaskStore, UnixTime};
use baton_net::egress::Egress;
use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::Clock;
use crate::metrics::EngineMetrics;
use crate::webhook::{ATTEMPT_TIMEOUT, Delivery, DeliveryError, client, deliver, retry_delay};

/// Events fetched per round.
const BATCH: u32 = 64;
/// Deliveries in flight at once.
const CONCURRENCY: usize = 16;
/// Attempts before an event is given up (≈ 8 hours at the 10-minute cap).
const MAX_ATTEMPTS: u32 = 60;
/// How long a round's events are claimed: every attempt of a round within it — a round
/// attempts [`BATCH`] events [`CONCURRENCY`] at a time, each within twice [`ATTEMPT_TIMEOUT`]
/// (the address, then the request) — plus time to record them.
const CLAIM: Duration = Duration::from_secs(
    (BATCH as u64).div_ceil(CONCURRENCY as u64) * 2 * ATTEMPT_TIMEOUT.as_secs() + 20,
);
/// How often the outbox is looked at without a wake-up (retries come due by time).
const POLL: Duration = Duration::from_secs(1);

/// Each account's callback signing key: a fixed map, or a lookup that follows changes (keys
/// added while the server runs).
#[derive(Clone)]
pub struct CallbackKeys(Arc<KeyLookup>);

/// Finds an account's callback key.
type KeyLookup = dyn Fn(&AccountId) -> Option<Vec<u8>> + Send + Sync;

impl std::fmt::Debug for CallbackKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallbackKeys")
    }
}

impl Default for CallbackKeys {
    fn default() -> CallbackKeys {
        CallbackKeys::new([])
    }
}

impl CallbackKeys {
    pub fn new(keys: impl IntoIterator<Item = (AccountId, Vec<u8>)>) -> CallbackKeys {
        let keys: HashMap<AccountId, Vec<u8>> = keys.into_iter().collect();
        CallbackKeys(Arc::new(move |account| keys.get(account).cloned()))
    }

    /// Keys looked up at each delivery.
    pub fn dynamic(
        lookup: impl Fn(&AccountId) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> CallbackKeys {
        CallbackKeys(Arc::new(lookup))
    }

    /// The account's key; `None` (or an empty one) when it has none. Callbacks are never
    /// signed with anything else (an empty key is anyone's).
    fn get(&self, account: &AccountId) -> Option<Vec<u8>> {
        (self.0)(account).filter(|k| !k.is_empty())
    }
}

#[derive(Debug)]
pub(super) struct Outbox {
    wake: Arc<Notify>,
}

impl Outbox {
    pub(super) fn start(
        store: Arc<dyn TaskStore>,
        clock: Arc<dyn Clock>,
        keys: CallbackKeys,
        egress: Egress,
        metrics: EngineMetrics,
        cancel: CancellationToken,
    ) -> Outbox {
        let wake = Arc::new(Notify::new());
        tokio::spawn(run(
            store,
            clock,
            keys,
            egress,
            metrics,
            cancel,
            Arc::clone(&wake),
        ));
        Outbox { wake }
    }

    /// New events were stored.
    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }
}

async fn run(
    store: Arc<dyn TaskStore>,
    clock: Arc<dyn Clock>,
    keys: CallbackKeys,
    egress: Egress,
    metrics: EngineMetrics,
    cancel: CancellationToken,
    wake: Arc<Notify>,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
        let due = match store.claim_due_events(clock.now(), BATCH, CLAIM).await {
            Ok(due) => due,
            Err(e) => {
                warn!(error = %e, "reading the callback outbox failed");
                continue;
            }
        };
        match store.pending_events().await {
            Ok(n) => {
                metrics
                    .callbacks_pending
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            Err(e) => warn!(error = %e, "counting the callback outbox failed"),
        }
        futures_util::stream::iter(due)
            .for_each_concurrent(CONCURRENCY, |entry| {
                let (store, clock, keys, egress, metrics) =
                    (&store, &clock, &keys, &egress, &metrics);
                async move {
                    attempt(store.as_ref(), clock.as_ref(), keys, egress, metrics, entry).await
                }
            })
            .await;
    }
}

async fn attempt(
    store: &dyn TaskStore,
    clock: &dyn Clock,
    keys: &CallbackKeys,
    egress: &Egress,
    metrics: &EngineMetrics,
    entry: OutboxEntry,
) {
    let started = tokio::time::Instant::now();
    let event = &entry.event;
    let body = body(event);
    let now = clock.now();
    // The account's egress: the callback goes only where its sources may go (trusting what
    // they trust), no redirects.
    let egress = egress.for_account(&event.account.0);
    // The error's text, and whether another attempt can help.
    let outcome: Result<(), (String, bool)> = match keys.get(&event.account) {
        Some(secret) => {
            let delivery = Delivery {
                url: &event.url,
                event_id: &event.id,
                body: body.as_bytes(),
                secret: &secret,
                auth_key: event.auth_key.as_deref(),
            };
            send(&egress, &delivery, now)
                .await
                .map_err(|e| (e.summary(), e.is_retryable()))
        }
        // Unsigned or signed with another credential would be worse than late: the event
        // waits, as a failed attempt, for the account's secret (the binary gives every
        // account one; this is a hand-edited credentials file).
        None => Err((
            crate::webhook::error_summary(&format!(
                "account {} has no callback secret (baton account rotate-callback-secret {})",
                event.account, event.account
            )),
            true,
        )),
    };
    let outcome_label = match &outcome {
        Ok(()) => "delivered",
        Err((_, retryable)) if !retryable || entry.attempts + 1 >= MAX_ATTEMPTS => "given_up",
        Err(_) => "retry",
    };
    metrics.callback(outcome_label, started.elapsed());
    let result = match outcome {
        Ok(()) => {
            debug!(event = %event.id, url = %event.url, "callback delivered");
            let late = clock.now().saturating_sub(event.time).max(0);
            metrics.callback_delay_seconds.observe(late as f64);
            store.mark_delivered(&event.id, clock.now()).await
        }
        Err((e, retryable)) if !retryable || entry.attempts + 1 >= MAX_ATTEMPTS => {
            let attempts = entry.attempts + 1;
            warn!(event = %event.id, url = %event.url, error = %e, attempts, "callback given up");
            store
                .give_up_event(&event.id, attempts, &e, clock.now())
                .await
        }
        Err((e, _)) => {
            let attempts = entry.attempts + 1;
            let next = clock.now() + retry_delay(attempts).as_secs() as i64;
            debug!(event = %event.id, url = %event.url, error = %e, attempts, "callback failed; will retry");
            store.reschedule_event(&event.id, attempts, next, &e).await
        }
    };
    if let Err(e) = result {
        warn!(event = %event.id, error = %e, "recording a callback attempt failed");
    }
}

/// One attempt to deliver to `delivery.url`, through the account's `egress`: the address is
/// resolved and checked within [`ATTEMPT_TIMEOUT`], then the request gets that long again.
async fn send(
    egress: &Egress,
    delivery: &Delivery<'_>,
    now: UnixTime,
) -> Result<(), DeliveryError> {
    let client = tokio::time::timeout(ATTEMPT_TIMEOUT, client(egress, delivery.url))
        .await
        .map_err(|_| DeliveryError::Url(format!("no address within {ATTEMPT_TIMEOUT:?}")))??;
    deliver(&client, delivery, now).await
}

/// The JSON body of a callback: the provider's state names, Baton's event identity.
pub(crate) fn body(event: &CallbackEvent) -> String {
    let mut object = serde_json::json!({
        "EventId": event.id,
        "Sequence": event.seq,
        "TaskId": event.task_id.0,
        "TaskName": event.task_name,
        "State": event.state.as_str(),
        "Time": crate::time::rfc3339(event.time),
        "Timestamp": event.time,
    });
    if let Some(reason) = event.reason {
        object["Reason"] = reason.as_str().into();
    }
    if let Some(reason) = event.exit_reason {
        object["ExitReason"] = reason.as_str().into();
    }
    if let Some(item) = &event.item {
        object["Event"] = item.kind.as_str().into();
        object["FileIndex"] = item.file_index.into();
        object["FileUrl"] = item.source.clone().into();
        if let Some(detail) = &item.detail {
            object["Detail"] = detail.clone().into();
        }
    }
    object.to_string()
}
