//! A pool of relay threads: one single-threaded tokio runtime per thread (thread per core, as
//! nginx runs one worker per core). Each relay lives on one thread for its whole life — its
//! source, timeline and destination share a thread — so the hot path has no cross-thread
//! wake-ups and no work stealing; new relays go to the least loaded thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::{Relay, RelayConfig, RelayError};

/// Threads running relays. Dropping the pool stops its threads; relays still running are
/// dropped without closing their destinations, so stop them first.
#[derive(Debug)]
pub struct RelayPool {
    workers: Vec<Worker>,
}

#[derive(Debug)]
struct Worker {
    handle: Handle,
    relays: Arc<AtomicUsize>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RelayPool {
    /// Starts `threads` relay threads (at least one).
    pub fn new(threads: usize) -> std::io::Result<RelayPool> {
        let workers = (0..threads.max(1))
            .map(Worker::start)
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(RelayPool { workers })
    }

    /// One thread per available core.
    pub fn per_core() -> std::io::Result<RelayPool> {
        RelayPool::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Starts a relay on the least loaded thread.
    pub fn spawn(&self, config: RelayConfig) -> Result<Relay, RelayError> {
        let worker = self
            .workers
            .iter()
            .min_by_key(|w| w.relays.load(Ordering::Relaxed))
            .expect("a pool has at least one worker");
        let relays = Arc::clone(&worker.relays);
        relays.fetch_add(1, Ordering::Relaxed);
        let guard = LoadGuard(relays);
        Relay::spawn_with(config, |future| {
            worker.handle.spawn(async move {
                let _guard = guard;
                future.await
            })
        })
    }

    /// Relays running on each thread.
    pub fn load(&self) -> Vec<usize> {
        self.workers
            .iter()
            .map(|w| w.relays.load(Ordering::Relaxed))
            .collect()
    }
}

impl Drop for RelayPool {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            if let Some(shutdown) = worker.shutdown.take() {
                let _ = shutdown.send(());
            }
        }
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl Worker {
    fn start(index: usize) -> std::io::Result<Worker> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("baton-relay-{index}"))
            .spawn(move || {
                // Runs the relays spawned onto `handle` until the pool is dropped.
                let _ = runtime.block_on(stop);
            })?;
        Ok(Worker {
            handle,
            relays: Arc::new(AtomicUsize::new(0)),
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }
}

/// Counts a relay on its thread for as long as its task lives.
struct LoadGuard(Arc<AtomicUsize>);

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{ErrorKind, Side};

    #[test]
    fn spreads_relays_and_counts_them_until_they_end() {
        let pool = RelayPool::new(2).unwrap();
        let relays: Vec<Relay> = (0..4)
            .map(|i| {
                // Nothing listens on port 9: each relay fails once its grace period is over.
                let mut config = RelayConfig::new(
                    format!("rtmp://127.0.0.1:9/live/{i}"),
                    "rtmp://127.0.0.1:9/live/out",
                );
                config.grace = Duration::from_millis(200);
                pool.spawn(config).unwrap()
            })
            .collect();
        assert_eq!(pool.load(), vec![2, 2]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for relay in relays {
            let err = runtime.block_on(relay.wait()).unwrap_err();
            assert_eq!(err.side, Side::Source);
            assert!(matches!(err.kind, ErrorKind::Connect | ErrorKind::Timeout));
        }
        assert_eq!(pool.load(), vec![0, 0]);
    }
}
