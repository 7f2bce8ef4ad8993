//! The glue between a sans-IO RTMP session and a byte stream: read into the session, write
//! what it queued. Every `await` here is cancel-safe (state lives in [`SessionIo`], not in the
//! futures), so drivers can put these calls in `tokio::select!` loops.

use baton_rtmp::SessionError;
use baton_rtmp::session::{ClientSession, ServerSession};
use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Size of the per-thread read scratch buffer: one read takes at most this much.
const READ_BUFFER: usize = 16 * 1024;

thread_local! {
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_BUFFER].into_boxed_slice());
}

/// Reads what is available into this thread's scratch buffer and hands it to the session, all
/// within one poll (so the scratch buffer is never held across a suspension point).
fn poll_read_into<R: AsyncRead + Unpin>(
    cx: &mut Context<'_>,
    reader: &mut R,
    session: &mut impl SansIoSession,
) -> Poll<Result<usize, IoError>> {
    SCRATCH.with_borrow_mut(|scratch| {
        let mut buf = ReadBuf::new(scratch);
        match Pin::new(reader).poll_read(cx, &mut buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Ready(Ok(())) => {
                let filled = buf.filled();
                if !filled.is_empty() {
                    session.handle_input(filled)?;
                }
                Poll::Ready(Ok(filled.len()))
            }
        }
    })
}

/// A sans-IO session: bytes in, bytes out.
pub trait SansIoSession {
    fn handle_input(&mut self, data: &[u8]) -> Result<(), SessionError>;
    fn take_output(&mut self) -> Option<Bytes>;
    fn output_len(&self) -> usize;
}

impl SansIoSession for ServerSession {
    fn handle_input(&mut self, data: &[u8]) -> Result<(), SessionError> {
        ServerSession::handle_input(self, data)
    }
    fn take_output(&mut self) -> Option<Bytes> {
        ServerSession::take_output(self)
    }
    fn output_len(&self) -> usize {
        ServerSession::output_len(self)
    }
}

impl SansIoSession for ClientSession {
    fn handle_input(&mut self, data: &[u8]) -> Result<(), SessionError> {
        ClientSession::handle_input(self, data)
    }
    fn take_output(&mut self) -> Option<Bytes> {
        ClientSession::take_output(self)
    }
    fn output_len(&self) -> usize {
        ClientSession::output_len(self)
    }
}

/// What one [`SessionIo::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Bytes were read and handed to the session (which may now have events).
    Read(usize),
    /// Bytes were written.
    Wrote(usize),
    /// The peer closed its side.
    Closed,
}

/// Errors of the transport or of the session fed by it.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("rtmp: {0}")]
    Session(#[from] SessionError),
}

/// Read and write halves of a connection plus the bytes in flight. It owns no read buffer:
/// input goes through a per-thread scratch buffer straight into the session (which copies
/// what it keeps), so an idle connection costs only what its session holds.
pub struct SessionIo<R, W> {
    reader: R,
    writer: W,
    pending: Bytes,
    bytes_in: u64,
    bytes_out: u64,
}

impl<R, W> std::fmt::Debug for SessionIo<R, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionIo")
            .field("pending", &self.pending.len())
            .field("bytes_in", &self.bytes_in)
            .field("bytes_out", &self.bytes_out)
            .finish()
    }
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> SessionIo<R, W> {
    pub fn new(reader: R, writer: W) -> Self {
        SessionIo {
            reader,
            writer,
            pending: Bytes::new(),
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// Bytes queued for writing: taken from the session but not yet written, plus the session's.
    pub fn queued(&self, session: &impl SansIoSession) -> usize {
        self.pending.len() + session.output_len()
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// Writes some queued output if there is any, or reads some input, whichever is ready
    /// first. Cancel-safe.
    pub async fn step(&mut self, session: &mut impl SansIoSession) -> Result<Step, IoError> {
        if self.pending.is_empty() {
            self.pending = session.take_output().unwrap_or_default();
        }
        // Unbiased: a peer that keeps us busy writing must not starve reading, and vice versa.
        tokio::select! {
            written = self.writer.write(&self.pending), if !self.pending.is_empty() => {
                let n = written?;
                if n == 0 {
                    return Err(IoError::Io(std::io::ErrorKind::WriteZero.into()));
                }
                self.pending.advance(n);
                self.bytes_out += n as u64;
                Ok(Step::Wrote(n))
            }
            read = std::future::poll_fn(|cx| poll_read_into(cx, &mut self.reader, session)) => {
                let n = read?;
                if n == 0 {
                    return Ok(Step::Closed);
                }
                self.bytes_in += n as u64;
                Ok(Step::Read(n))
            }
        }
    }

    /// Writes everything the session has queued.
    pub async fn flush(&mut self, session: &mut impl SansIoSession) -> Result<(), IoError> {
        loop {
            if self.pending.is_empty() {
                match session.take_output() {
                    Some(b) => self.pending = b,
                    None => break,
                }
            }
            let n = self.writer.write(&self.pending).await?;
            if n == 0 {
                return Err(IoError::Io(std::io::ErrorKind::WriteZero.into()));
            }
            self.pending.advance(n);
            self.bytes_out += n as u64;
        }
        self.writer.flush().await?;
        Ok(())
    }

    /// Flushes, then closes the write side.
    pub async fn shutdown(&mut self, session: &mut impl SansIoSession) -> Result<(), IoError> {
        self.flush(session).await?;
        self.writer.shutdown().await?;
        Ok(())
    }
}
