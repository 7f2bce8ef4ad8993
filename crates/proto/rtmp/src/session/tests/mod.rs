//! In-memory client/server pairs with a fake clock: bytes from one side's output go to the
//! other's input, cut at random boundaries. Taps decode both directions independently, so
//! tests can check what went over the wire.

mod flows;
mod memory;
mod raw;
mod robustness;

use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::chunk::{ChunkDecoder, ChunkLimits, RawMessage};
use crate::handshake::HANDSHAKE_SIZE;
use crate::message::Message;
use crate::url::RtmpUrl;

/// Bytes of handshake in each direction (C0+C1+C2, S0+S1+S2).
const HANDSHAKE_BYTES: usize = 1 + 2 * HANDSHAKE_SIZE;

/// Decodes one direction of a connection after its handshake.
struct Tap {
    skip: usize,
    decoder: ChunkDecoder,
    messages: Vec<(RawMessage, Message)>,
}

impl Tap {
    fn new() -> Tap {
        Tap {
            skip: HANDSHAKE_BYTES,
            decoder: ChunkDecoder::new(ChunkLimits::default()),
            messages: Vec::new(),
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        let skipped = self.skip.min(bytes.len());
        self.skip -= skipped;
        bytes = &bytes[skipped..];
        self.decoder.push(bytes);
        while let Some(raw) = self.decoder.poll_message().expect("tap decodes") {
            let message = Message::decode(&raw).expect("tap decodes messages");
            if let Message::SetChunkSize(size) = message {
                self.decoder.set_chunk_size(size).unwrap();
            }
            self.messages.push((raw, message));
        }
    }

    /// Commands seen so far, by name.
    fn commands(&self) -> Vec<String> {
        self.messages
            .iter()
            .filter_map(|(_, m)| match m {
                Message::Command(c) => Some(c.name.clone()),
                _ => None,
            })
            .collect()
    }

    fn count(&self, pred: impl Fn(&Message) -> bool) -> usize {
        self.messages.iter().filter(|(_, m)| pred(m)).count()
    }
}

fn epoch() -> Instant {
    // Any instant will do: the sessions only compare instants they were given.
    Instant::now()
}

struct Pair {
    client: ClientSession,
    server: ServerSession,
    rng: StdRng,
    c2s: Tap,
    s2c: Tap,
    client_events: Vec<ClientEvent>,
    server_events: Vec<ServerEvent>,
    now: Instant,
}

impl Pair {
    fn new(mode: ClientMode, url: &str) -> Pair {
        Pair::with(mode, url, ServerConfig::default(), |_| {})
    }

    fn with(
        mode: ClientMode,
        url: &str,
        server_config: ServerConfig,
        tweak: impl FnOnce(&mut ClientConfig),
    ) -> Pair {
        let now = epoch();
        let mut config = ClientConfig::default_for(RtmpUrl::parse(url).unwrap(), mode);
        tweak(&mut config);
        Pair {
            client: ClientSession::new(config, 11, now),
            server: ServerSession::new(server_config, 22, now),
            rng: StdRng::seed_from_u64(33),
            c2s: Tap::new(),
            s2c: Tap::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            now,
        }
    }

    /// Moves bytes both ways until both sides are quiet; collects events.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(bytes) = self.client.take_output() {
                moved = true;
                self.c2s.feed(&bytes);
                for piece in split(&mut self.rng, &bytes) {
                    self.server
                        .handle_input(piece)
                        .expect("server accepts client bytes");
                }
            }
            while let Some(bytes) = self.server.take_output() {
                moved = true;
                self.s2c.feed(&bytes);
                for piece in split(&mut self.rng, &bytes) {
                    self.client
                        .handle_input(piece)
                        .expect("client accepts server bytes");
                }
            }
            while let Some(e) = self.client.poll_event() {
                self.client_events.push(e);
            }
            while let Some(e) = self.server.poll_event() {
                self.server_events.push(e);
            }
            if !moved {
                return;
            }
        }
    }

    /// Pumps, accepting every request, until the client publishes or plays.
    fn establish(&mut self) -> u32 {
        let mut stream_id = None;
        for _ in 0..20 {
            self.pump();
            for event in std::mem::take(&mut self.server_events) {
                match event {
                    ServerEvent::ConnectRequested { request_id, .. } => {
                        self.server.accept_connect(request_id).unwrap()
                    }
                    ServerEvent::PublishRequested {
                        request_id,
                        stream_id: id,
                        ..
                    } => {
                        stream_id = Some(id);
                        self.server.accept_publish(request_id).unwrap()
                    }
                    ServerEvent::PlayRequested {
                        request_id,
                        stream_id: id,
                        ..
                    } => {
                        stream_id = Some(id);
                        self.server.accept_play(request_id).unwrap()
                    }
                    other => self.server_events.push(other),
                }
            }
            if matches!(
                self.client.state(),
                ClientState::Publishing | ClientState::Playing
            ) {
                return stream_id.expect("the request carried the stream id");
            }
        }
        panic!("not established: {:?}", self.client.state());
    }

    fn take_client_events(&mut self) -> Vec<ClientEvent> {
        std::mem::take(&mut self.client_events)
    }

    fn take_server_events(&mut self) -> Vec<ServerEvent> {
        std::mem::take(&mut self.server_events)
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.server.handle_timeout(self.now);
        self.client.handle_timeout(self.now);
    }
}

/// Cuts `bytes` into 1 to 4 random pieces (sometimes single bytes).
fn split<'a>(rng: &mut StdRng, bytes: &'a [u8]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = (0..rng.random_range(0..4))
        .map(|_| rng.random_range(0..=bytes.len()))
        .collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        pieces.push(&bytes[start..cut]);
        start = cut;
    }
    pieces
}

/// A payload whose bytes depend on `seed` and `len`.
fn payload(seed: u32, len: usize) -> Bytes {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) as u8)
        .collect::<Vec<u8>>()
        .into()
}
