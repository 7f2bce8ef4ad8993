//! Per-task timers (start, retry, end) and the periodic purge, in one scheduler task.
//!
//! Setting a timer replaces the task's pending timer of the same kind (the domain's
//! `Effect::Schedule` contract). The scheduler sleeps until the earliest timer with
//! `tokio::time`, so paused-time tests drive it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use baton_domain::{AccountId, TaskId, Timer, UnixTime};
use tokio::sync::mpsc;
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;

use crate::Clock;

/// Timer changes waiting for the scheduler. Bounded: a full queue makes `set` wait (the
/// scheduler drains it in microseconds).
const QUEUE: usize = 1024;

type Key = (AccountId, TaskId, TimerKind);

/// `Timer` plus ordering, for the sets below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum TimerKind {
    Start,
    Retry,
    End,
}

impl From<Timer> for TimerKind {
    fn from(t: Timer) -> TimerKind {
        match t {
            Timer::Start => TimerKind::Start,
            Timer::Retry => TimerKind::Retry,
            Timer::End => TimerKind::End,
        }
    }
}

impl From<TimerKind> for Timer {
    fn from(t: TimerKind) -> Timer {
        match t {
            TimerKind::Start => Timer::Start,
            TimerKind::Retry => Timer::Retry,
            TimerKind::End => Timer::End,
        }
    }
}

enum Change {
    Set { key: Key, at: UnixTime },
    Forget { account: AccountId, id: TaskId },
}

/// A fired timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub account: AccountId,
    pub id: TaskId,
    pub timer: Timer,
}

/// The handle to the scheduler.
#[derive(Debug, Clone)]
pub struct Timers {
    tx: mpsc::Sender<Change>,
}

impl Timers {
    /// Starts the scheduler; fired timers go to `fire` (each on its own task, so one slow
    /// command does not delay other timers).
    pub fn start<F, Fut>(clock: Arc<dyn Clock>, cancel: CancellationToken, fire: F) -> Timers
    where
        F: Fn(Fired) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(clock, rx, cancel, fire));
        Timers { tx }
    }

    /// Fires `timer` for the task at `at` (at once if past), replacing a pending one.
    pub async fn set(&self, account: &AccountId, id: &TaskId, timer: Timer, at: UnixTime) {
        let key = (account.clone(), id.clone(), timer.into());
        // The scheduler only stops at shutdown, when lost timers no longer matter.
        let _ = self.tx.send(Change::Set { key, at }).await;
    }

    /// Drops every pending timer of the task (it was deleted).
    pub async fn forget(&self, account: &AccountId, id: &TaskId) {
        let _ = self
            .tx
            .send(Change::Forget {
                account: account.clone(),
                id: id.clone(),
            })
            .await;
    }
}

async fn run<F, Fut>(
    clock: Arc<dyn Clock>,
    mut rx: mpsc::Receiver<Change>,
    cancel: CancellationToken,
    fire: F,
) where
    F: Fn(Fired) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut due: BTreeSet<(UnixTime, Key)> = BTreeSet::new();
    let mut at_of: HashMap<Key, UnixTime> = HashMap::new();
    loop {
        let next = due.first().map(|(at, _)| clock.instant_at(*at));
        tokio::select! {
            _ = cancel.cancelled() => return,
            change = rx.recv() => match change {
                None => return,
                Some(Change::Set { key, at }) => {
                    if let Some(old) = at_of.insert(key.clone(), at) {
                        due.remove(&(old, key.clone()));
                    }
                    due.insert((at, key));
                }
                Some(Change::Forget { account, id }) => {
                    at_of.retain(|(a, i, kind), at| {
                        let keep = !(a == &account && i == &id);
                        if !keep {
                            due.remove(&(*at, (a.clone(), i.clone(), *kind)));
                        }
                        keep
                    });
                }
            },
            _ = async { match next { Some(t) => sleep_until(t).await, None => std::future::pending().await } } => {
                let now = clock.now();
                while let Some((at, key)) = due.first().cloned() {
                    if at > now {
                        break;
                    }
                    due.pop_first();
                    at_of.remove(&key);
                    let (account, id, kind) = key;
                    tokio::spawn(fire(Fired { account, id, timer: kind.into() }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokioClock;
    use std::sync::Mutex;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn fires_in_order_and_replaces() {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(1000));
        let fired = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&fired);
        let timers = Timers::start(
            Arc::clone(&clock),
            CancellationToken::new(),
            move |f: Fired| {
                let log = Arc::clone(&log);
                async move {
                    log.lock().unwrap().push((f.id.0.clone(), f.timer));
                }
            },
        );
        let a = AccountId("acct".into());
        timers.set(&a, &TaskId("t1".into()), Timer::End, 1100).await;
        timers
            .set(&a, &TaskId("t1".into()), Timer::Start, 1010)
            .await;
        timers
            .set(&a, &TaskId("t2".into()), Timer::Start, 1050)
            .await;
        // Replaced: fires at 1020, not 1010.
        timers
            .set(&a, &TaskId("t1".into()), Timer::Start, 1020)
            .await;
        timers
            .set(&a, &TaskId("t3".into()), Timer::Start, 1030)
            .await;
        timers.forget(&a, &TaskId("t3".into())).await;
        tokio::time::sleep(Duration::from_secs(15)).await;
        assert!(fired.lock().unwrap().is_empty());
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            fired.lock().unwrap().clone(),
            vec![("t1".to_string(), Timer::Start)]
        );
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert_eq!(
            fired.lock().unwrap().clone(),
            vec![
                ("t1".to_string(), Timer::Start),
                ("t2".to_string(), Timer::Start),
                ("t1".to_string(), Timer::End)
            ]
        );
    }
}
