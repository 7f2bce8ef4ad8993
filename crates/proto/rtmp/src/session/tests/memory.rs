//! Memory at rest: whatever bursts a session went through, once its input is parsed, its
//! events drained and its output taken, its buffers are back to a few hundred bytes, and the
//! payloads it hands out own exactly their bytes.

use super::*;

/// Heap bytes a drained session may keep (chunk stream tables, small queues).
const AT_REST: usize = 2048;

#[test]
fn publisher_output_is_not_retained_after_a_burst() {
    let mut p = Pair::new(ClientMode::Publish, "rtmp://h/live/s");
    p.establish();
    // A burst, as behind a slow socket: 1.5 MB queued before the driver takes it.
    for i in 0..50 {
        p.client
            .send_media(MediaKind::Video, i * 33, &payload(i, 30_000))
            .unwrap();
    }
    assert!(p.client.output_len() > 50 * 30_000);
    p.pump();
    assert_eq!(p.client.output_len(), 0);
    assert!(
        p.client.allocated() <= AT_REST,
        "publisher holds {} bytes",
        p.client.allocated()
    );
    let media = p
        .take_server_events()
        .into_iter()
        .filter(|e| matches!(e, ServerEvent::Media { .. }))
        .count();
    assert_eq!(media, 50);
    assert!(
        p.server.allocated() <= AT_REST,
        "server holds {} bytes",
        p.server.allocated()
    );
}

#[test]
fn player_input_is_not_retained_after_a_burst() {
    let mut p = Pair::new(ClientMode::Play, "rtmp://h/live/s");
    let stream_id = p.establish();
    let mut sent = Vec::new();
    for i in 0..200u32 {
        let (kind, len) = if i % 3 == 0 {
            (MediaKind::Video, 9000 + i as usize)
        } else {
            (MediaKind::Audio, 300 + i as usize)
        };
        let body = payload(i, len);
        p.server.send_media(stream_id, kind, i * 20, &body).unwrap();
        sent.push(body);
    }
    // One read of everything, as a driver with a large read buffer would do.
    let bytes = p.server.take_output().unwrap();
    p.client.handle_input(&bytes).unwrap();
    let mut received = Vec::new();
    while let Some(event) = p.client.poll_event() {
        if let ClientEvent::Media { payload, .. } = event {
            received.push(payload);
        }
    }
    assert_eq!(received, sent);
    assert!(
        p.client.allocated() <= AT_REST,
        "player holds {} bytes",
        p.client.allocated()
    );
    // Each payload is the only owner of an allocation of its exact size: a payload kept
    // alive (in a GOP cache, a queue) pins nothing but itself.
    for payload in received {
        assert!(payload.is_unique());
        let owned = bytes::BytesMut::from(payload);
        assert_eq!(owned.capacity(), owned.len());
    }
}

#[test]
fn a_fresh_session_allocates_little() {
    let server = ServerSession::new(ServerConfig::default(), 1, epoch());
    assert_eq!(server.allocated(), 0);
    let mut p = Pair::new(ClientMode::Publish, "rtmp://h/live/s");
    p.establish();
    assert!(p.client.allocated() <= AT_REST, "{}", p.client.allocated());
    assert!(p.server.allocated() <= AT_REST, "{}", p.server.allocated());
}
