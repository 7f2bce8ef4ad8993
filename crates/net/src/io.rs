//! The glue between a sans-IO RTMP session and a byte stream: read into the session, write
//! what it queued. Every `await` here is cancel-safe (state lives in [`SessionIo`], not in the
//! futures), so drivers can put these calls in `tokio::select!` loops.

use baton_rtmp::SessionError;
use baton_rtmp::session::{ClientSession, ServerSession};
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const READ_BUFFER: usize = 16 * 1024;

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

/// Read and write halves of a connection plus the bytes in flight.
pub struct SessionIo<R, W> {
    reader: R,
    writer: W,
    rbuf: BytesMut,
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
            rbuf: BytesMut::with_capacity(READ_BUFFER),
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
            read = self.reader.read_buf(&mut self.rbuf) => {
                let n = read?;
                if n == 0 {
                    return Ok(Step::Closed);
                }
                self.bytes_in += n as u64;
                let result = session.handle_input(&self.rbuf);
                self.rbuf.clear();
                result?;
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
