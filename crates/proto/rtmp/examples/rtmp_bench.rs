//! A criterion-free micro benchmark of the RTMP hot paths on a realistic media mix: one
//! 720p30 H.264 + AAC stream at ~2 Mb/s (GOP 60, P-frames 4.6-14.5 KB, key frames 22-30 KB,
//! AAC frames ~340 bytes every 21.3 ms, as in the bench's test stream).
//!
//! ```text
//! cargo run --release -p baton-rtmp --example rtmp_bench -- <what> [chunk_size] [seconds]
//! ```
//!
//! `what`:
//! - `decode`: `ChunkDecoder::push` + `poll_message` of the chunked stream, fed in reads of at
//!   most 16 KiB (the network driver's read buffer), one message's bytes per read.
//! - `play`: `ClientSession::handle_input` (play mode) + `poll_event`, the relay's input.
//! - `encode`: `ChunkEncoder::encode` + handing the output out, as a session does.
//! - `publish`: `ClientSession::send_media` + `take_output`, the relay's output.
//! - `retain`: a play client whose last 2 s of frames are kept alive, for heap profilers.
//! - `idle-play`, `idle-publish`, `idle-server`: 1000 sessions of that kind kept alive after
//!   some media, for heap profilers (`valgrind --tool=dhat`: "At t-end", less the shared
//!   media mix and the session vector the run prints, / 1000 = heap bytes per connection
//!   at rest).
//!
//! Each measured phase is a separate `#[inline(never)]` function named `phase_*`, so
//! `valgrind --tool=callgrind --toggle-collect='*phase_*'` counts only its instructions.

use std::hint::black_box;
use std::time::Instant;

use baton_rtmp::session::{
    ClientConfig, ClientEvent, ClientMode, ClientSession, MediaKind, ServerConfig, ServerEvent,
    ServerSession,
};
use baton_rtmp::{ChunkDecoder, ChunkEncoder, ChunkLimits, RtmpUrl};
use bytes::{Bytes, BytesMut};

/// The driver's read buffer size (crates/net `SessionIo`).
const READ_SIZE: usize = 16 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map_or("decode", String::as_str);
    let chunk_size: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4096);
    let seconds: u32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(60);
    let mix = media_mix(seconds);
    let bytes: usize = mix.iter().map(|(_, _, p)| p.len()).sum();
    eprintln!(
        "{what}: {} messages, {} payload bytes ({:.2} Mb/s), chunk size {chunk_size}",
        mix.len(),
        bytes,
        bytes as f64 * 8.0 / f64::from(seconds) / 1e6
    );
    let start = Instant::now();
    let n = match what {
        "decode" => {
            let reads = chunked(&mix, chunk_size);
            let start = Instant::now();
            let n = phase_decode(&reads, chunk_size);
            report(start, n);
            return;
        }
        "play" => {
            let (mut client, reads) = play_setup(&mix, chunk_size);
            let start = Instant::now();
            let n = phase_play(&mut client, &reads);
            report(start, n);
            return;
        }
        "encode" => phase_encode(&mix, chunk_size),
        "publish" => {
            let mut client = publish_setup(chunk_size);
            let start = Instant::now();
            let n = phase_publish(&mut client, &mix);
            report(start, n);
            return;
        }
        "retain" => {
            let (client, reads) = play_setup(&mix, chunk_size);
            drop(mix);
            retain(client, reads);
            return;
        }
        "idle-play" | "idle-publish" | "idle-server" => {
            idle(&what[5..], 1000, &mix[..200]);
            return;
        }
        other => panic!("unknown benchmark {other}"),
    };
    report(start, n);
}

fn report(start: Instant, messages: usize) {
    let elapsed = start.elapsed();
    eprintln!(
        "{messages} messages in {elapsed:?}: {:.0} ns/message",
        elapsed.as_nanos() as f64 / messages as f64
    );
}

/// The message mix of `seconds` of stream, in timestamp order.
fn media_mix(seconds: u32) -> Vec<(MediaKind, u32, Bytes)> {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut out = Vec::new();
    let (mut video, mut audio) = (0u32, 0u32);
    loop {
        let vts = video * 1000 / 30;
        let ats = (u64::from(audio) * 1024 * 1000 / 48_000) as u32;
        if vts.min(ats) >= seconds * 1000 {
            return out;
        }
        if vts <= ats {
            let key = video % 60 == 0;
            let size = if key {
                22_000 + (next() % 8_000) as usize
            } else {
                // Exponential-ish above 4.6 KB: median ~6.9 KB, mean ~7.9 KB.
                let u = (next() % 10_000) as f64 / 10_000.0;
                (4_600.0 - 3_300.0 * (1.0 - u).ln()).min(14_500.0) as usize
            };
            let mut p = vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0];
            p.resize(5 + size, (video % 251) as u8);
            out.push((MediaKind::Video, vts, Bytes::from(p)));
            video += 1;
        } else {
            let size = 284 + (next() % 106) as usize;
            let mut p = vec![0xAF, 1];
            p.resize(2 + size, (audio % 251) as u8);
            out.push((MediaKind::Audio, ats, Bytes::from(p)));
            audio += 1;
        }
    }
}

/// The wire bytes of each message (chunked), cut into reads of at most [`READ_SIZE`].
fn chunked(mix: &[(MediaKind, u32, Bytes)], chunk_size: u32) -> Vec<Bytes> {
    let mut encoder = ChunkEncoder::new();
    encoder.set_chunk_size(chunk_size).unwrap();
    let mut reads = Vec::new();
    for (kind, ts, payload) in mix {
        let csid = if *kind == MediaKind::Audio { 4 } else { 6 };
        let mut out = BytesMut::new();
        encoder.encode(csid, *ts, kind.type_id(), 1, payload, &mut out);
        let out = out.freeze();
        for start in (0..out.len()).step_by(READ_SIZE) {
            reads.push(out.slice(start..out.len().min(start + READ_SIZE)));
        }
    }
    reads
}

#[inline(never)]
fn phase_decode(reads: &[Bytes], chunk_size: u32) -> usize {
    let mut decoder = ChunkDecoder::new(ChunkLimits::default());
    decoder.set_chunk_size(chunk_size).unwrap();
    let mut n = 0;
    for read in reads {
        decoder.push(read);
        while let Some(m) = decoder.poll_message().unwrap() {
            black_box(&m);
            n += 1;
        }
    }
    n
}

#[inline(never)]
fn phase_encode(mix: &[(MediaKind, u32, Bytes)], chunk_size: u32) -> usize {
    let mut encoder = ChunkEncoder::new();
    encoder.set_chunk_size(chunk_size).unwrap();
    let mut out = BytesMut::new();
    for (kind, ts, payload) in mix {
        let csid = if *kind == MediaKind::Audio { 4 } else { 6 };
        encoder.encode(csid, *ts, kind.type_id(), 1, payload, &mut out);
        black_box(std::mem::take(&mut out).freeze());
    }
    mix.len()
}

#[inline(never)]
fn phase_play(client: &mut ClientSession, reads: &[Bytes]) -> usize {
    let mut n = 0;
    for read in reads {
        client.handle_input(read).unwrap();
        while let Some(e) = client.poll_event() {
            if let ClientEvent::Media { .. } = e {
                n += 1;
            }
            black_box(e);
        }
    }
    n
}

/// Like the network driver, the output taken last is released only when the next is taken
/// (after the next message was queued).
#[inline(never)]
fn phase_publish(client: &mut ClientSession, mix: &[(MediaKind, u32, Bytes)]) -> usize {
    let mut pending = Bytes::new();
    for (kind, ts, payload) in mix {
        client.send_media(*kind, *ts, payload).unwrap();
        while let Some(out) = client.take_output() {
            pending = black_box(out);
        }
    }
    drop(pending);
    mix.len()
}

/// A play client fed by a server sending `mix`; returns the client and the server's output
/// as reads.
fn play_setup(mix: &[(MediaKind, u32, Bytes)], chunk_size: u32) -> (ClientSession, Vec<Bytes>) {
    let (client, mut server, stream_id) = establish(ClientMode::Play, chunk_size);
    let mut reads = Vec::new();
    for (kind, ts, payload) in mix {
        server.send_media(stream_id, *kind, *ts, payload).unwrap();
        while let Some(out) = server.take_output() {
            for start in (0..out.len()).step_by(READ_SIZE) {
                reads.push(out.slice(start..out.len().min(start + READ_SIZE)));
            }
        }
    }
    (client, reads)
}

fn publish_setup(chunk_size: u32) -> ClientSession {
    establish(ClientMode::Publish, chunk_size).0
}

/// A play client whose media is kept for 2 s of timestamps (as a GOP cache or a subscriber
/// queue keeps frames), for heap profilers: at exit, "At t-end" minus the bytes kept is what
/// the kept frames cost beyond themselves.
fn retain(mut client: ClientSession, reads: Vec<Bytes>) {
    let mut kept = std::collections::VecDeque::new();
    for read in reads {
        client.handle_input(&read).unwrap();
        while let Some(e) = client.poll_event() {
            if let ClientEvent::Media {
                timestamp, payload, ..
            } = e
            {
                kept.push_back((timestamp, payload));
                while kept.front().is_some_and(|(t, _)| t + 2000 < timestamp) {
                    kept.pop_front();
                }
            }
        }
    }
    let bytes: usize = kept.iter().map(|(_, p)| p.len()).sum();
    eprintln!("{} frames of {bytes} bytes kept", kept.len());
    std::mem::forget((client, kept));
}

/// `count` sessions of one kind ("play" or "publish" clients, "server"s of publishing
/// clients) after connect, publish/play and 200 messages of media, kept alive for a heap
/// profile. Publish clients queue 60 messages (a burst, as behind a slow socket) before
/// their output is taken; play clients receive 200 messages in one read.
fn idle(side: &str, count: usize, mix: &[(MediaKind, u32, Bytes)]) {
    let mut kept = Vec::new();
    for _ in 0..count {
        let mode = if side == "play" {
            ClientMode::Play
        } else {
            ClientMode::Publish
        };
        let (mut client, mut server, stream_id) = establish(mode, 4096);
        match mode {
            ClientMode::Publish => {
                for batch in mix.chunks(60) {
                    for (kind, ts, payload) in batch {
                        client.send_media(*kind, *ts, payload).unwrap();
                    }
                    pump(&mut client, &mut server);
                }
            }
            ClientMode::Play => {
                for (kind, ts, payload) in mix {
                    server.send_media(stream_id, *kind, *ts, payload).unwrap();
                }
                pump(&mut client, &mut server);
            }
        }
        while client.poll_event().is_some() {}
        while server.poll_event().is_some() {}
        match side {
            "server" => kept.push(Err(server)),
            _ => kept.push(Ok(client)),
        }
    }
    eprintln!(
        "{} {side} sessions kept; not theirs: the mix ({} bytes) and the session vector \
         ({} bytes of ClientSession {} / ServerSession {} bytes)",
        kept.len(),
        mix.iter().map(|(_, _, p)| p.len()).sum::<usize>(),
        kept.capacity() * size_of::<Result<ClientSession, ServerSession>>(),
        size_of::<ClientSession>(),
        size_of::<ServerSession>(),
    );
    // Exit with the sessions alive so "At t-end" shows them.
    std::mem::forget(kept);
}

/// Moves bytes both ways until quiet, in reads of at most [`READ_SIZE`].
fn pump(client: &mut ClientSession, server: &mut ServerSession) {
    loop {
        let mut moved = false;
        while let Some(b) = client.take_output() {
            moved = true;
            for read in b.chunks(READ_SIZE) {
                server.handle_input(read).unwrap();
            }
        }
        while let Some(b) = server.take_output() {
            moved = true;
            for read in b.chunks(READ_SIZE) {
                client.handle_input(read).unwrap();
            }
        }
        if !moved {
            return;
        }
    }
}

/// A client and server through connect and publish or play, both at `chunk_size`.
fn establish(mode: ClientMode, chunk_size: u32) -> (ClientSession, ServerSession, u32) {
    let now = Instant::now();
    let url = RtmpUrl::parse("rtmp://127.0.0.1/live/bench").unwrap();
    let mut config = ClientConfig::default_for(url, mode);
    config.chunk_size = chunk_size;
    let server_config = ServerConfig {
        chunk_size,
        ..ServerConfig::default()
    };
    let mut client = ClientSession::new(config, 1, now);
    let mut server = ServerSession::new(server_config, 2, now);
    let mut stream_id = None;
    for _ in 0..20 {
        pump(&mut client, &mut server);
        while let Some(event) = server.poll_event() {
            match event {
                ServerEvent::ConnectRequested { request_id, .. } => {
                    server.accept_connect(request_id).unwrap()
                }
                ServerEvent::PublishRequested {
                    request_id,
                    stream_id: id,
                    ..
                } => {
                    stream_id = Some(id);
                    server.accept_publish(request_id).unwrap()
                }
                ServerEvent::PlayRequested {
                    request_id,
                    stream_id: id,
                    ..
                } => {
                    stream_id = Some(id);
                    server.accept_play(request_id).unwrap()
                }
                _ => {}
            }
        }
        while client.poll_event().is_some() {}
        if let Some(id) = stream_id {
            pump(&mut client, &mut server);
            while client.poll_event().is_some() {}
            return (client, server, id);
        }
    }
    panic!("not established");
}
