//! The glue between a sans-IO RTMP session and a non-blocking socket, shared by two parties:
//! the connection's own task (reads, commands, acknowledgements) and the generator's pacer
//! (media). Both write with `try_write` under the connection's lock; whatever the socket does
//! not take stays queued and the connection task waits for writability. Nothing here blocks
//! or awaits while holding the lock.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use baton_rtmp::session::{ClientSession, MediaKind, ServerSession};
use bytes::{Buf, Bytes};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Bytes read per `try_read`.
const READ_CHUNK: usize = 16 * 1024;
/// Reads in a row before yielding, so one busy peer cannot starve the others.
const READS_PER_TURN: usize = 8;

/// Either side of an RTMP connection.
#[derive(Debug)]
pub enum Session {
    Server(ServerSession),
    Client(ClientSession),
}

impl Session {
    fn handle_input(&mut self, data: &[u8]) -> Result<(), baton_rtmp::SessionError> {
        match self {
            Session::Server(s) => s.handle_input(data),
            Session::Client(s) => s.handle_input(data),
        }
    }

    fn take_output(&mut self) -> Option<Bytes> {
        match self {
            Session::Server(s) => s.take_output(),
            Session::Client(s) => s.take_output(),
        }
    }

    fn output_len(&self) -> usize {
        match self {
            Session::Server(s) => s.output_len(),
            Session::Client(s) => s.output_len(),
        }
    }

    /// Queues one media message: on `stream_id` for a server (an accepted play), on the
    /// published stream for a client.
    pub fn send_media(
        &mut self,
        stream_id: u32,
        kind: MediaKind,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), baton_rtmp::SessionError> {
        match self {
            Session::Server(s) => s.send_media(stream_id, kind, timestamp, payload),
            Session::Client(s) => s.send_media(kind, timestamp, payload),
        }
    }
}

/// A connection's mutable half.
#[derive(Debug)]
pub struct ConnState {
    pub session: Session,
    /// Taken from the session, not yet accepted by the socket.
    pending: Bytes,
    /// The connection failed or ended; the pacer forgets it.
    pub closed: bool,
}

impl ConnState {
    /// Bytes queued for the socket.
    pub fn backlog(&self) -> usize {
        self.pending.len() + self.session.output_len()
    }

    /// Writes as much queued output as the socket takes without blocking. `Ok(true)` when
    /// everything was written.
    pub fn flush(&mut self, sock: &TcpStream) -> io::Result<bool> {
        loop {
            if self.pending.is_empty() {
                match self.session.take_output() {
                    Some(out) => self.pending = out,
                    None => return Ok(true),
                }
            }
            match sock.try_write(&self.pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.pending.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }
}

/// A shared RTMP connection.
#[derive(Debug)]
pub struct Conn {
    pub sock: TcpStream,
    state: Mutex<ConnState>,
    /// Signalled when someone else left output queued: the connection task then waits for
    /// the socket to become writable.
    wake: Notify,
}

impl Conn {
    pub fn new(sock: TcpStream, session: Session) -> Arc<Conn> {
        let _ = sock.set_nodelay(true);
        Arc::new(Conn {
            sock,
            state: Mutex::new(ConnState {
                session,
                pending: Bytes::new(),
                closed: false,
            }),
            wake: Notify::new(),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, ConnState> {
        // Plain data: a panic elsewhere cannot make the session less usable than closing it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Flushes after queueing from outside the connection task; wakes that task when the
    /// socket was full. `Err` means the connection is dead (and is marked closed).
    pub fn flush_from_outside(&self, state: &mut ConnState) -> io::Result<()> {
        match state.flush(&self.sock) {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.wake.notify_one();
                Ok(())
            }
            Err(e) => {
                state.closed = true;
                self.wake.notify_one();
                Err(e)
            }
        }
    }

    /// Runs the connection until the peer closes, an error, `cancel`, or `idle` without any
    /// input. After every read `on_input(state, read_at)` drains the session's events;
    /// then output is flushed.
    pub async fn drive(
        &self,
        cancel: &CancellationToken,
        idle: Duration,
        mut on_input: impl FnMut(&mut ConnState, Instant) -> Result<()>,
    ) -> Result<()> {
        let mut buf = vec![0u8; READ_CHUNK];
        let result = self
            .drive_inner(cancel, idle, &mut buf, &mut on_input)
            .await;
        self.lock().closed = true;
        result
    }

    async fn drive_inner(
        &self,
        cancel: &CancellationToken,
        idle: Duration,
        buf: &mut [u8],
        on_input: &mut impl FnMut(&mut ConnState, Instant) -> Result<()>,
    ) -> Result<()> {
        {
            // A client session starts with C0+C1 queued.
            let mut st = self.lock();
            st.flush(&self.sock).context("writing")?;
        }
        let mut last_input = Instant::now();
        // One timer for the connection's life, re-armed only when it fires: registering a
        // fresh timer per loop turn showed up in profiles of the bench at 1 000 streams.
        // The same goes for the cancellation and wake-up futures.
        let idle_timer = tokio::time::sleep(idle);
        let cancelled = cancel.cancelled();
        let woken = self.wake.notified();
        tokio::pin!(idle_timer, cancelled, woken);
        loop {
            let (want_write, closed) = {
                let st = self.lock();
                (st.backlog() > 0, st.closed)
            };
            if closed {
                return Err(anyhow!("connection closed after a write error"));
            }
            tokio::select! {
                _ = &mut cancelled => return Ok(()),
                _ = &mut idle_timer => {
                    if last_input.elapsed() >= idle {
                        return Err(anyhow!("no input for {idle:?}"));
                    }
                    idle_timer.as_mut().reset(last_input + idle);
                }
                ready = self.sock.readable() => {
                    ready.context("waiting for input")?;
                    for _ in 0..READS_PER_TURN {
                        let n = match self.sock.try_read(buf) {
                            Ok(0) => return Ok(()),
                            Ok(n) => n,
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) => return Err(e).context("reading"),
                        };
                        let now = Instant::now();
                        last_input = now;
                        let mut st = self.lock();
                        st.session.handle_input(&buf[..n]).context("RTMP session")?;
                        on_input(&mut st, now)?;
                        st.flush(&self.sock).context("writing")?;
                        if n < buf.len() {
                            break;
                        }
                    }
                }
                ready = self.sock.writable(), if want_write => {
                    ready.context("waiting to write")?;
                    self.lock().flush(&self.sock).context("writing")?;
                }
                _ = &mut woken => woken.set(self.wake.notified()),
            }
        }
    }
}

/// The stream index of a benchmark stream name `s{i}` (`None` for anything else or an index
/// out of range).
pub fn stream_index(name: &str, streams: usize) -> Option<usize> {
    name.strip_prefix('s')?
        .parse::<usize>()
        .ok()
        .filter(|&i| i < streams)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names() {
        assert_eq!(stream_index("s0", 2), Some(0));
        assert_eq!(stream_index("s1", 2), Some(1));
        assert_eq!(stream_index("s2", 2), None);
        assert_eq!(stream_index("x1", 2), None);
        assert_eq!(stream_index("s", 2), None);
        assert_eq!(stream_index("s-1", 2), None);
    }
}
