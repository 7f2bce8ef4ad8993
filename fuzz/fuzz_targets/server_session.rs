//! A whole server session: a plain handshake, then arbitrary chunk-stream bytes, with every
//! connect/publish/play request accepted so the fuzzer reaches the media paths. Never a panic;
//! once failed, the session stays failed.
#![no_main]

use std::time::Instant;

use baton_rtmp::session::{ServerConfig, ServerEvent, ServerSession};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut session = ServerSession::new(ServerConfig::default(), 1, Instant::now());
    // C0 (version 3) + C1 + C2, all zero: a plain handshake.
    let mut handshake = vec![3u8];
    handshake.extend(std::iter::repeat_n(0u8, 1536 * 2));
    if session.handle_input(&handshake).is_err() {
        return;
    }
    let mut failed = false;
    for piece in data.chunks(97) {
        if session.handle_input(piece).is_err() {
            failed = true;
            break;
        }
        while let Some(event) = session.poll_event() {
            let result = match event {
                ServerEvent::ConnectRequested { request_id, .. } => {
                    session.accept_connect(request_id)
                }
                ServerEvent::PublishRequested { request_id, .. } => {
                    session.accept_publish(request_id)
                }
                ServerEvent::PlayRequested {
                    request_id,
                    stream_id,
                    ..
                } => session.accept_play(request_id).and_then(|()| {
                    session.send_media(
                        stream_id,
                        baton_rtmp::session::MediaKind::Video,
                        0,
                        &[0x17, 1, 0, 0, 0],
                    )
                }),
                _ => Ok(()),
            };
            if result.is_err() {
                break;
            }
        }
        while session.take_output().is_some() {}
    }
    if failed {
        assert!(session.handle_input(&[0]).is_err());
    }
});
