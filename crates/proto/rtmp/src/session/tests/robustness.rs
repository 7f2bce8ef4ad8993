use proptest::prelude::*;

use super::raw::RawClient;
use super::*;

/// S0+S1+S2 of a plain server, to get a client past its handshake.
fn plain_server_handshake() -> Vec<u8> {
    let mut s = vec![3u8];
    s.extend_from_slice(&[0u8; 2 * HANDSHAKE_SIZE]);
    s
}

fn client(mode: ClientMode) -> ClientSession {
    let url = RtmpUrl::parse("rtmp://h/live/s").unwrap();
    ClientSession::new(ClientConfig::default_for(url, mode), 1, epoch())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn server_survives_garbage(bytes in prop::collection::vec(any::<u8>(), 0..4096), handshake in any::<bool>()) {
        let mut server = if handshake {
            RawClient::connected(ServerConfig::default()).server
        } else {
            ServerSession::new(ServerConfig::default(), 1, epoch())
        };
        for piece in bytes.chunks(97) {
            if server.handle_input(piece).is_err() {
                prop_assert_eq!(server.handle_input(b"more"), Err(SessionError::Failed));
                break;
            }
        }
        while server.poll_event().is_some() {}
        let _ = server.take_output();
    }

    #[test]
    fn client_survives_garbage(bytes in prop::collection::vec(any::<u8>(), 0..4096), play in any::<bool>()) {
        let mut c = client(if play { ClientMode::Play } else { ClientMode::Publish });
        c.handle_input(&plain_server_handshake()).unwrap();
        for piece in bytes.chunks(61) {
            if c.handle_input(piece).is_err() {
                break;
            }
        }
        while c.poll_event().is_some() {}
        c.close();
        let _ = c.take_output();
    }

    /// Well-formed chunks carrying random message bodies of every type: errors are allowed,
    /// panics are not.
    #[test]
    fn server_survives_random_messages(
        msgs in prop::collection::vec((1u8..=22, 0u32..3, prop::collection::vec(any::<u8>(), 0..300)), 1..20),
    ) {
        let mut c = RawClient::connected(ServerConfig::default());
        for (type_id, stream_id, body) in msgs {
            let mut out = bytes::BytesMut::new();
            c.encoder.encode(3, 0, type_id, stream_id, &body, &mut out);
            if c.bytes(&out).is_err() {
                break;
            }
        }
    }
}

#[test]
fn absurd_values_are_errors_naming_the_cause() {
    use crate::chunk::ChunkError;
    use crate::message::Message;

    let mut c = RawClient::connected(ServerConfig::default());
    assert_eq!(
        c.send(&Message::SetChunkSize(0), 0, 0),
        Err(SessionError::Chunk(ChunkError::InvalidChunkSize(0)))
    );

    let mut c = RawClient::connected(ServerConfig::default());
    assert_eq!(
        c.send(&Message::SetChunkSize(0x8000_0000), 0, 0),
        Err(SessionError::Chunk(ChunkError::InvalidChunkSize(
            0x8000_0000
        )))
    );

    // A message longer than max_message_size, refused at its header.
    let mut c = RawClient::connected(ServerConfig {
        max_message_size: 1000,
        ..ServerConfig::default()
    });
    let header = [0x05u8, 0, 0, 0, 0, 0x10, 0x00, 9, 1, 0, 0, 0]; // 4096 bytes declared
    assert!(matches!(
        c.bytes(&header),
        Err(SessionError::Chunk(ChunkError::MessageTooLarge {
            length: 4096,
            limit: 1000,
            ..
        }))
    ));

    // Thousands of chunk streams.
    let mut c = RawClient::connected(ServerConfig::default());
    let mut bytes = Vec::new();
    for id in 0..2000u16 {
        let [lo, hi] = id.to_le_bytes();
        bytes.extend_from_slice(&[1, lo, hi, 0, 0, 0, 0, 0, 1, 8, 1, 0, 0, 0, 0xAF]);
    }
    assert!(matches!(
        c.bytes(&bytes),
        Err(SessionError::Chunk(ChunkError::TooManyChunkStreams {
            limit: 256
        }))
    ));

    // RTMPE is not spoken.
    let mut server = ServerSession::new(ServerConfig::default(), 1, epoch());
    let mut c0c1 = vec![6u8];
    c0c1.extend_from_slice(&[0u8; HANDSHAKE_SIZE]);
    assert_eq!(
        server.handle_input(&c0c1),
        Err(SessionError::Handshake(
            crate::handshake::HandshakeError::UnsupportedVersion(6)
        ))
    );
}

#[test]
fn handshake_and_first_commands_in_one_read() {
    // Everything a client writes before reading anything, in one piece: C0C1 then (after the
    // server's answer) C2 with the connect command right behind it.
    let mut p = Pair::new(ClientMode::Publish, "rtmp://h/live/s");
    let c0c1 = p.client.take_output().unwrap();
    p.server.handle_input(&c0c1).unwrap();
    let s = p.server.take_output().unwrap();
    p.client.handle_input(&s).unwrap();
    let c2_and_connect = p.client.take_output().unwrap();
    assert!(c2_and_connect.len() > HANDSHAKE_SIZE);
    p.server.handle_input(&c2_and_connect).unwrap();
    assert!(matches!(
        p.server.poll_event(),
        Some(ServerEvent::ConnectRequested { .. })
    ));
}

#[test]
fn connect_refused_with_an_error_status() {
    use crate::chunk::ChunkEncoder;
    use crate::message::{Command, Message};
    use baton_amf::Amf0Value;

    let mut c = client(ClientMode::Publish);
    c.handle_input(&plain_server_handshake()).unwrap();
    assert_eq!(c.state(), ClientState::Connecting);
    let info = Amf0Value::object([
        ("level", "error".into()),
        ("code", "NetConnection.Connect.Rejected".into()),
        (
            "description",
            "[ AccessManager.Reject ] : [ code=403 need auth; authmod=adobe ]".into(),
        ),
    ]);
    let mut out = bytes::BytesMut::new();
    Message::Command(Command::new("onStatus", 0.0, Amf0Value::Null, vec![info])).write(
        0,
        0,
        &mut ChunkEncoder::new(),
        &mut out,
    );
    c.handle_input(&out).unwrap();
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::Rejected { stage: Stage::Connect, code, .. })
            if code == "NetConnection.Connect.Rejected"
    ));
    assert_eq!(c.state(), ClientState::Rejected);
}
