//! The RTMP handshake (RTMP spec 1.0 section 5.2) in both its forms:
//!
//! - *plain*: C1/S1 carry a time, four zero bytes and random data; C2/S2 echo the peer's
//!   packet;
//! - *digest* ("complex", Flash Player 9+): the version bytes of C1/S1 are non-zero and the
//!   packet hides an HMAC-SHA256 digest at an offset computed from four of its bytes. The
//!   digest of the 1536-byte packet minus the 32 digest bytes is keyed with the first 30 bytes
//!   of [`FLASH_PLAYER_KEY`] (client) or the first 36 bytes of [`FLASH_MEDIA_SERVER_KEY`]
//!   (server). The answer (C2/S2) is random data whose last 32 bytes are the HMAC of the other
//!   1504 bytes, keyed with `HMAC(full key of the answering side, peer's digest)`.
//!
//! Two digest placements exist: scheme 0 reads the offset from bytes 8..12 of the packet and
//! places the digest in 12..772; scheme 1 reads it from bytes 772..776 and places the digest
//! in 776..1536 (offset = sum of the four bytes mod 728). The server accepts either, answers in
//! the client's scheme, and falls back to a plain echo when no digest validates, as
//! nginx-rtmp does. librtmp/rtmpdump and ffmpeg (as player) verify the server's digests, so
//! they must be exact.
//!
//! Both sides are sans-IO: feed received bytes to `handle_input`, which appends what to send
//! to `out` and reports [`HandshakeProgress::Done`] with the number of input bytes it used;
//! the rest of that input belongs to the chunk stream.

use bytes::{BufMut, BytesMut};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The only RTMP version this crate speaks (C0/S0); 6 and 8 are the encrypted RTMPE variants.
pub const RTMP_VERSION: u8 = 3;
/// Size of C1, S1, C2 and S2.
pub const HANDSHAKE_SIZE: usize = 1536;
/// The Flash Player key: 30 bytes of text, then 32 constant bytes.
pub const FLASH_PLAYER_KEY: [u8; 62] = *b"Genuine Adobe Flash Player 001\
    \xF0\xEE\xC2\x4A\x80\x68\xBE\xE8\x2E\x00\xD0\xD1\x02\x9E\x7E\x57\
    \x6E\xEC\x5D\x2D\x29\x80\x6F\xAB\x93\xB8\xE6\x36\xCF\xEB\x31\xAE";
/// The Flash Media Server key: 36 bytes of text, then the same 32 constant bytes.
pub const FLASH_MEDIA_SERVER_KEY: [u8; 68] = *b"Genuine Adobe Flash Media Server 001\
    \xF0\xEE\xC2\x4A\x80\x68\xBE\xE8\x2E\x00\xD0\xD1\x02\x9E\x7E\x57\
    \x6E\xEC\x5D\x2D\x29\x80\x6F\xAB\x93\xB8\xE6\x36\xCF\xEB\x31\xAE";

const PLAYER_KEY_PARTIAL: usize = 30;
const SERVER_KEY_PARTIAL: usize = 36;
const DIGEST_LEN: usize = 32;
/// Version bytes of our digest C1: Flash Player 9.0.124.2, as ffmpeg sends.
const CLIENT_VERSION: [u8; 4] = [9, 0, 124, 2];
/// Version bytes of our digest S1: a Flash Media Server 4.5 version. Any non-zero value
/// tells players to verify the digest (ffmpeg checks the first byte is at least 3).
const SERVER_VERSION: [u8; 4] = [4, 5, 0, 1];

/// Which handshake a client performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandshakeMode {
    /// RTMP spec 5.2 only: zero version bytes, echoed packets.
    Plain,
    /// Flash Player 9 digests, as ffmpeg and OBS send. Servers that require it (some CDNs
    /// serving players) accept nothing else.
    #[default]
    Digest,
}

/// Where a digest sits in a C1/S1 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestScheme {
    /// Offset from bytes 8..12, digest within 12..772.
    Scheme0,
    /// Offset from bytes 772..776, digest within 776..1536.
    Scheme1,
}

/// Handshake progress after some input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeProgress {
    /// More bytes are needed.
    InProgress,
    /// Finished; `consumed` bytes of the last input belonged to the handshake and the rest
    /// starts the chunk stream.
    Done { consumed: usize },
}

/// Handshake failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// C0/S0 named a version other than 3 (6 and 8 are encrypted RTMPE, unsupported).
    #[error("unsupported RTMP version {0} in the handshake (only 3 is supported)")]
    UnsupportedVersion(u8),
}

/// The server side: reads C0+C1, answers S0+S1+S2 at once, then reads C2.
#[derive(Debug)]
pub struct ServerHandshake {
    time: u32,
    /// Random bytes for S1 and S2, drawn at construction so input handling needs no RNG.
    random: Box<[u8]>,
    buf: Vec<u8>,
    stage: ServerStage,
    scheme: Option<DigestScheme>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerStage {
    ReadC0C1,
    ReadC2,
    Done,
}

impl ServerHandshake {
    /// `time` is the S1 time field: the server's epoch in milliseconds (often 0).
    pub fn new(time: u32, rng: &mut (impl RngCore + ?Sized)) -> Self {
        let mut random = vec![0u8; 2 * HANDSHAKE_SIZE].into_boxed_slice();
        rng.fill_bytes(&mut random);
        ServerHandshake {
            time,
            random,
            buf: Vec::with_capacity(1 + HANDSHAKE_SIZE),
            stage: ServerStage::ReadC0C1,
            scheme: None,
        }
    }

    /// Consumes handshake bytes and appends S0+S1+S2 to `out` once C0+C1 are complete.
    pub fn handle_input(
        &mut self,
        input: &[u8],
        out: &mut BytesMut,
    ) -> Result<HandshakeProgress, HandshakeError> {
        let mut used = 0;
        loop {
            match self.stage {
                ServerStage::ReadC0C1 => {
                    if !fill(&mut self.buf, 1 + HANDSHAKE_SIZE, input, &mut used) {
                        return Ok(HandshakeProgress::InProgress);
                    }
                    if self.buf[0] != RTMP_VERSION {
                        return Err(HandshakeError::UnsupportedVersion(self.buf[0]));
                    }
                    self.respond(out);
                    self.buf.clear();
                    self.stage = ServerStage::ReadC2;
                }
                ServerStage::ReadC2 => {
                    // C2 is not checked: nginx-rtmp and SRS don't either, and players differ.
                    if !fill(&mut self.buf, HANDSHAKE_SIZE, input, &mut used) {
                        return Ok(HandshakeProgress::InProgress);
                    }
                    self.buf = Vec::new();
                    self.stage = ServerStage::Done;
                    return Ok(HandshakeProgress::Done { consumed: used });
                }
                ServerStage::Done => return Ok(HandshakeProgress::Done { consumed: 0 }),
            }
        }
    }

    /// The digest scheme of the client's C1, if it carried a valid digest.
    pub fn client_scheme(&self) -> Option<DigestScheme> {
        self.scheme
    }

    /// True once the handshake has finished.
    pub fn is_done(&self) -> bool {
        self.stage == ServerStage::Done
    }

    fn respond(&mut self, out: &mut BytesMut) {
        let c1 = &self.buf[1..];
        let (s1_random, s2_random) = self.random.split_at(HANDSHAKE_SIZE);
        let client_digest = if c1[4..8] == [0; 4] {
            None
        } else {
            find_digest(c1, &FLASH_PLAYER_KEY[..PLAYER_KEY_PARTIAL])
        };
        out.reserve(1 + 2 * HANDSHAKE_SIZE);
        out.put_u8(RTMP_VERSION);
        match client_digest {
            Some((scheme, offset)) => {
                self.scheme = Some(scheme);
                let mut s1 = [0u8; HANDSHAKE_SIZE];
                s1.copy_from_slice(s1_random);
                s1[..4].copy_from_slice(&self.time.to_be_bytes());
                s1[4..8].copy_from_slice(&SERVER_VERSION);
                write_digest(
                    &mut s1,
                    scheme,
                    &FLASH_MEDIA_SERVER_KEY[..SERVER_KEY_PARTIAL],
                );
                out.put_slice(&s1);
                let key = hmac(&FLASH_MEDIA_SERVER_KEY, &[&c1[offset..offset + DIGEST_LEN]]);
                out.put_slice(&answer(s2_random, &key));
            }
            None => {
                // RTMP spec 5.2.3: time, zero, random; S2 echoes C1 (5.2.4).
                out.put_u32(self.time);
                out.put_u32(0);
                out.put_slice(&s1_random[8..]);
                out.put_slice(c1);
            }
        }
    }
}

/// The client side: C0+C1 from [`ClientHandshake::start`], C2 once S0+S1 arrived, done after
/// S2.
#[derive(Debug)]
pub struct ClientHandshake {
    mode: HandshakeMode,
    /// Our C1 (kept to verify the server's S2 digest).
    c1: Box<[u8]>,
    /// Random bytes for a digest C2.
    c2_random: Box<[u8]>,
    /// Offset of the digest in our C1 (digest mode).
    c1_digest_offset: Option<usize>,
    buf: Vec<u8>,
    stage: ClientStage,
    s1_digest_ok: Option<bool>,
    s2_digest_ok: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientStage {
    ReadS0S1,
    ReadS2,
    Done,
}

impl ClientHandshake {
    /// `time` is the C1 time field (the client's epoch in milliseconds, often 0).
    pub fn new(mode: HandshakeMode, time: u32, rng: &mut (impl RngCore + ?Sized)) -> Self {
        let mut c1 = vec![0u8; HANDSHAKE_SIZE].into_boxed_slice();
        let mut c2_random = vec![0u8; HANDSHAKE_SIZE].into_boxed_slice();
        rng.fill_bytes(&mut c1);
        rng.fill_bytes(&mut c2_random);
        c1[..4].copy_from_slice(&time.to_be_bytes());
        let c1_digest_offset = match mode {
            HandshakeMode::Plain => {
                c1[4..8].fill(0);
                None
            }
            HandshakeMode::Digest => {
                c1[4..8].copy_from_slice(&CLIENT_VERSION);
                // Scheme 0, as ffmpeg and librtmp send by default.
                Some(write_digest(
                    &mut c1,
                    DigestScheme::Scheme0,
                    &FLASH_PLAYER_KEY[..PLAYER_KEY_PARTIAL],
                ))
            }
        };
        ClientHandshake {
            mode,
            c1,
            c2_random,
            c1_digest_offset,
            buf: Vec::with_capacity(1 + HANDSHAKE_SIZE),
            stage: ClientStage::ReadS0S1,
            s1_digest_ok: None,
            s2_digest_ok: None,
        }
    }

    /// Appends C0+C1 to `out`: the first bytes a client sends.
    pub fn start(&self, out: &mut BytesMut) {
        out.reserve(1 + HANDSHAKE_SIZE);
        out.put_u8(RTMP_VERSION);
        out.put_slice(&self.c1);
    }

    /// Consumes handshake bytes; appends C2 to `out` once S0+S1 are complete.
    pub fn handle_input(
        &mut self,
        input: &[u8],
        out: &mut BytesMut,
    ) -> Result<HandshakeProgress, HandshakeError> {
        let mut used = 0;
        loop {
            match self.stage {
                ClientStage::ReadS0S1 => {
                    if !fill(&mut self.buf, 1 + HANDSHAKE_SIZE, input, &mut used) {
                        return Ok(HandshakeProgress::InProgress);
                    }
                    if self.buf[0] != RTMP_VERSION {
                        return Err(HandshakeError::UnsupportedVersion(self.buf[0]));
                    }
                    self.write_c2(out);
                    self.buf.clear();
                    self.stage = ClientStage::ReadS2;
                }
                ClientStage::ReadS2 => {
                    if !fill(&mut self.buf, HANDSHAKE_SIZE, input, &mut used) {
                        return Ok(HandshakeProgress::InProgress);
                    }
                    if let Some(offset) = self.c1_digest_offset {
                        let key = hmac(
                            &FLASH_MEDIA_SERVER_KEY,
                            &[&self.c1[offset..offset + DIGEST_LEN]],
                        );
                        let split = HANDSHAKE_SIZE - DIGEST_LEN;
                        let expected = hmac(&key, &[&self.buf[..split]]);
                        self.s2_digest_ok = Some(expected[..] == self.buf[split..]);
                    }
                    self.buf = Vec::new();
                    self.stage = ClientStage::Done;
                    return Ok(HandshakeProgress::Done { consumed: used });
                }
                ClientStage::Done => return Ok(HandshakeProgress::Done { consumed: 0 }),
            }
        }
    }

    /// Whether the server's S1 and S2 digests verified: `None` in plain mode or before S2.
    /// Informational only: servers that answer a digest C1 with a plain S1 are accepted,
    /// as ffmpeg accepts them when publishing.
    pub fn server_verified(&self) -> Option<bool> {
        match (self.s1_digest_ok, self.s2_digest_ok) {
            (Some(s1), Some(s2)) => Some(s1 && s2),
            (Some(false), None) => Some(false),
            _ => None,
        }
    }

    /// True once the handshake has finished.
    pub fn is_done(&self) -> bool {
        self.stage == ClientStage::Done
    }

    fn write_c2(&mut self, out: &mut BytesMut) {
        let s1 = &self.buf[1..];
        let server_digest = match self.mode {
            HandshakeMode::Digest if s1[4..8] != [0; 4] => {
                find_digest(s1, &FLASH_MEDIA_SERVER_KEY[..SERVER_KEY_PARTIAL])
            }
            _ => None,
        };
        if self.mode == HandshakeMode::Digest {
            self.s1_digest_ok = Some(server_digest.is_some());
        }
        out.reserve(HANDSHAKE_SIZE);
        match server_digest {
            Some((_, offset)) => {
                let key = hmac(&FLASH_PLAYER_KEY, &[&s1[offset..offset + DIGEST_LEN]]);
                out.put_slice(&answer(&self.c2_random, &key));
            }
            // Plain server (or one whose digest does not verify): echo S1 (spec 5.2.4).
            None => out.put_slice(s1),
        }
    }
}

/// Moves bytes from `input[*used..]` into `buf` until it holds `want`; true when it does.
fn fill(buf: &mut Vec<u8>, want: usize, input: &[u8], used: &mut usize) -> bool {
    let take = (want - buf.len()).min(input.len() - *used);
    buf.extend_from_slice(&input[*used..*used + take]);
    *used += take;
    buf.len() == want
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; DIGEST_LEN] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Offset of the digest in a 1536-byte packet under `scheme`.
pub fn digest_offset(packet: &[u8], scheme: DigestScheme) -> usize {
    let base = match scheme {
        DigestScheme::Scheme0 => 8,
        DigestScheme::Scheme1 => 772,
    };
    let sum: usize = packet[base..base + 4].iter().map(|&b| usize::from(b)).sum();
    sum % 728 + base + 4
}

/// The HMAC of `packet` without the 32 bytes at `offset`.
fn packet_digest(packet: &[u8], offset: usize, key: &[u8]) -> [u8; DIGEST_LEN] {
    hmac(key, &[&packet[..offset], &packet[offset + DIGEST_LEN..]])
}

/// Finds a valid digest, trying scheme 1 first like nginx-rtmp and ffmpeg.
fn find_digest(packet: &[u8], key: &[u8]) -> Option<(DigestScheme, usize)> {
    [DigestScheme::Scheme1, DigestScheme::Scheme0]
        .into_iter()
        .map(|scheme| (scheme, digest_offset(packet, scheme)))
        .find(|&(_, offset)| {
            packet_digest(packet, offset, key)[..] == packet[offset..offset + DIGEST_LEN]
        })
}

/// Writes the digest of `packet` at its `scheme` offset; returns the offset.
fn write_digest(packet: &mut [u8], scheme: DigestScheme, key: &[u8]) -> usize {
    let offset = digest_offset(packet, scheme);
    let digest = packet_digest(packet, offset, key);
    packet[offset..offset + DIGEST_LEN].copy_from_slice(&digest);
    offset
}

/// A digest-mode C2/S2: `random` with its last 32 bytes replaced by the HMAC of the rest.
fn answer(random: &[u8], key: &[u8]) -> [u8; HANDSHAKE_SIZE] {
    let mut packet = [0u8; HANDSHAKE_SIZE];
    packet.copy_from_slice(random);
    let split = HANDSHAKE_SIZE - DIGEST_LEN;
    let digest = hmac(key, &[&packet[..split]]);
    packet[split..].copy_from_slice(&digest);
    packet
}

#[cfg(test)]
mod tests;
