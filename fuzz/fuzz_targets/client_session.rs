//! A whole client session (publish and play): a plain server handshake, then arbitrary bytes.
#![no_main]

use std::time::Instant;

use baton_rtmp::RtmpUrl;
use baton_rtmp::session::{ClientConfig, ClientMode, ClientSession, HandshakeMode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let url = RtmpUrl::parse("rtmp://127.0.0.1/live/s").expect("literal URL");
    let mode = if data.first().is_some_and(|b| b & 1 == 1) {
        ClientMode::Play
    } else {
        ClientMode::Publish
    };
    let mut config = ClientConfig::default_for(url, mode);
    config.handshake = HandshakeMode::Plain;
    let mut session = ClientSession::new(config, 1, Instant::now());
    while session.take_output().is_some() {}
    let mut handshake = vec![3u8];
    handshake.extend(std::iter::repeat_n(0u8, 1536 * 2));
    if session.handle_input(&handshake).is_err() {
        return;
    }
    for piece in data.chunks(61) {
        if session.handle_input(piece).is_err() {
            assert!(session.handle_input(&[0]).is_err());
            return;
        }
        while session.poll_event().is_some() {}
        let _ = session.send_media(baton_rtmp::session::MediaKind::Audio, 0, &[0xaf, 1, 0]);
        while session.take_output().is_some() {}
    }
});
