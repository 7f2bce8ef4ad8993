use super::*;
use crate::chunk::{ChunkDecoder, ChunkLimits};
use proptest::prelude::*;

fn raw(type_id: u8, payload: &[u8]) -> RawMessage {
    RawMessage {
        csid: 2,
        timestamp: 0,
        type_id,
        stream_id: 0,
        payload: Bytes::copy_from_slice(payload),
    }
}

/// Writes `m` and decodes it back through the chunk layer.
fn round_trip(m: &Message) -> (RawMessage, Message) {
    let mut enc = ChunkEncoder::new();
    let mut out = BytesMut::new();
    m.write(7, 1, &mut enc, &mut out);
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    dec.push(&out);
    let raw = dec.poll_message().unwrap().expect("one message");
    assert_eq!(dec.poll_message().unwrap(), None);
    let back = Message::decode(&raw).unwrap();
    (raw, back)
}

#[test]
fn control_and_user_control_messages_round_trip() {
    let messages = [
        Message::SetChunkSize(4096),
        Message::Abort { csid: 9 },
        Message::Acknowledgement(123_456),
        Message::WindowAckSize(2_500_000),
        Message::SetPeerBandwidth {
            size: 5_000_000,
            limit: 1,
        },
        Message::UserControl(UserControl::StreamBegin(1)),
        Message::UserControl(UserControl::StreamEof(2)),
        Message::UserControl(UserControl::StreamDry(3)),
        Message::UserControl(UserControl::SetBufferLength {
            stream_id: 1,
            millis: 3000,
        }),
        Message::UserControl(UserControl::StreamIsRecorded(4)),
        Message::UserControl(UserControl::PingRequest(99)),
        Message::UserControl(UserControl::PingResponse(99)),
        Message::UserControl(UserControl::Unknown {
            event: 31,
            data: Bytes::from_static(&[0, 0, 0, 1]),
        }),
        Message::Audio(Bytes::from_static(&[0xaf, 1, 2])),
        Message::Video(Bytes::from_static(&[0x17, 1, 0, 0, 0])),
        Message::Data(Bytes::from_static(&[0x05])),
        Message::Aggregate(Bytes::from_static(&[])),
        Message::Unknown {
            type_id: 19,
            payload: Bytes::from_static(b"so"),
        },
        Message::Command(Command::new(
            "_result",
            1.0,
            Amf0Value::Null,
            vec![1.0.into()],
        )),
    ];
    for m in messages {
        let (raw, back) = round_trip(&m);
        assert_eq!(back, m);
        assert_eq!(raw.csid, m.csid());
        assert_eq!(raw.type_id, m.type_id());
    }
}

#[test]
fn control_messages_use_chunk_stream_2_and_media_their_own() {
    assert_eq!(Message::SetChunkSize(1).csid(), csid::PROTOCOL_CONTROL);
    assert_eq!(
        Message::UserControl(UserControl::StreamBegin(1)).csid(),
        csid::PROTOCOL_CONTROL
    );
    assert_eq!(Message::Audio(Bytes::new()).csid(), csid::AUDIO);
    assert_eq!(Message::Video(Bytes::new()).csid(), csid::VIDEO);
    assert_eq!(Message::Data(Bytes::new()).csid(), csid::DATA);
}

#[test]
fn truncated_control_messages_name_the_message() {
    assert_eq!(
        Message::decode(&raw(1, &[0, 0, 1])),
        Err(MessageError::Truncated {
            type_id: 1,
            what: "Set Chunk Size",
            len: 3
        })
    );
    assert!(matches!(
        Message::decode(&raw(4, &[0])),
        Err(MessageError::Truncated {
            what: "user control event type",
            ..
        })
    ));
    assert!(matches!(
        Message::decode(&raw(4, &[0, 3, 0, 0, 0, 1, 0])),
        Err(MessageError::Truncated {
            what: "Set Buffer Length",
            ..
        })
    ));
    // Set Peer Bandwidth without its limit type reads as dynamic.
    assert_eq!(
        Message::decode(&raw(6, &[0, 0, 0, 9])),
        Ok(Message::SetPeerBandwidth { size: 9, limit: 2 })
    );
}

#[test]
fn amf3_variants_lose_their_format_byte() {
    let mut body = vec![0u8];
    body.extend(baton_amf::encode_all(&[
        "connect".into(),
        1.0.into(),
        Amf0Value::object([("app", "live".into())]),
    ]));
    let Message::Command(c) = Message::decode(&raw(17, &body)).unwrap() else {
        panic!("a command");
    };
    assert_eq!(c.name, "connect");
    assert_eq!(
        c.command_object.get("app").and_then(Amf0Value::as_str),
        Some("live")
    );

    // AMF3 values inside an AMF3 command: 0x11 switches for one value.
    let body = [
        0x00, 0x02, 0x00, 0x04, b'p', b'l', b'a', b'y', // "play"
        0x00, 0, 0, 0, 0, 0, 0, 0, 0,    // 0
        0x05, // null
        0x11, 0x06, 0x09, b's', b't', b'r', b'm', // AMF3 string "strm"
    ];
    let Message::Command(c) = Message::decode(&raw(17, &body)).unwrap() else {
        panic!("a command");
    };
    assert_eq!(c.args, vec![Amf0Value::from("strm")]);

    assert_eq!(
        Message::decode(&raw(15, &[0, 0x05])),
        Ok(Message::Data(Bytes::from_static(&[0x05])))
    );
    assert!(matches!(
        Message::decode(&raw(17, &[])),
        Err(MessageError::Truncated { .. })
    ));
}

#[test]
fn commands_tolerate_missing_parts_and_trailing_junk() {
    let body = baton_amf::encode_all(&["onBWDone".into()]);
    let Message::Command(c) = Message::decode(&raw(20, &body)).unwrap() else {
        panic!("a command");
    };
    assert_eq!(
        (c.transaction_id, c.command_object, c.args.len()),
        (0.0, Amf0Value::Null, 0)
    );

    let mut body = baton_amf::encode_all(&["play".into(), 0.0.into(), Amf0Value::Null]);
    body.push(0x42); // not an AMF0 marker
    let Message::Command(c) = Message::decode(&raw(20, &body)).unwrap() else {
        panic!("a command");
    };
    assert_eq!(c.name, "play");

    assert_eq!(
        Message::decode(&raw(20, &baton_amf::encode_all(&[1.0.into()]))),
        Err(MessageError::CommandName)
    );
    assert!(matches!(
        Message::decode(&raw(20, &[0x42])),
        Err(MessageError::Amf { type_id: 20, .. })
    ));
}

fn decode_file(bytes: &[u8], chunk_size: u32) -> RawMessage {
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    dec.set_chunk_size(chunk_size).unwrap();
    dec.push(bytes);
    let m = dec.poll_message().unwrap().expect("a complete message");
    assert_eq!(dec.buffered(), 0);
    m
}

#[test]
fn ffmpeg_connect_capture() {
    let raw = decode_file(
        include_bytes!("../../testdata/ffmpeg_publish_connect.bin"),
        128,
    );
    assert_eq!((raw.csid, raw.type_id, raw.stream_id), (3, 20, 0));
    let Message::Command(c) = Message::decode(&raw).unwrap() else {
        panic!("a command");
    };
    assert_eq!(c.name, "connect");
    assert_eq!(c.transaction_id, 1.0);
    let o = &c.command_object;
    let text = |k| o.get(k).and_then(Amf0Value::as_str);
    assert_eq!(text("app"), Some("live"));
    assert_eq!(text("type"), Some("nonprivate"));
    assert_eq!(
        text("flashVer"),
        Some("FMLE/3.0 (compatible; Lavf61.7.100)")
    );
    assert_eq!(text("tcUrl"), Some("rtmp://localhost:1935/live"));
    // Our encoder produces the very same bytes.
    let mut enc = ChunkEncoder::new();
    let mut out = BytesMut::new();
    Message::Command(c).write(0, 0, &mut enc, &mut out);
    assert_eq!(
        &out[..],
        include_bytes!("../../testdata/ffmpeg_publish_connect.bin")
    );
}

#[test]
fn obs_metadata_capture() {
    let raw = decode_file(include_bytes!("../../testdata/obs_setdataframe.bin"), 4096);
    let Message::Data(p) = Message::decode(&raw).unwrap() else {
        panic!("data");
    };
    let values = baton_amf::decode_all(&p).unwrap();
    assert_eq!(values[0].as_str(), Some("@setDataFrame"));
    assert_eq!(values[1].as_str(), Some("onMetaData"));
    assert_eq!(
        values[2].get("width").and_then(Amf0Value::as_f64),
        Some(1280.0)
    );
    assert_eq!(
        values[2].get("stereo").and_then(Amf0Value::as_bool),
        Some(true)
    );
}

#[test]
fn aggregate_capture_splits_with_rebased_timestamps() {
    let raw = decode_file(include_bytes!("../../testdata/fms_aggregate.bin"), 128);
    assert_eq!((raw.type_id, raw.timestamp), (22, 5000));
    let subs: Vec<RawMessage> = split_aggregate(&raw).collect::<Result<_, _>>().unwrap();
    assert_eq!(subs.len(), 2);
    assert_eq!(
        (subs[0].type_id, subs[0].timestamp, subs[0].stream_id),
        (8, 5000, 1)
    );
    assert_eq!(subs[0].payload.as_ref(), &[0xaf, 0x01, 0x21, 0x10]);
    assert_eq!((subs[1].type_id, subs[1].timestamp), (9, 5040));
    assert_eq!(subs[1].payload.len(), 7);
}

/// An aggregate body of `(type, timestamp, body)` sub-messages.
fn aggregate(subs: &[(u8, u32, &[u8])], back_pointers: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for &(type_id, ts, body) in subs {
        out.push(type_id);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&ts.to_be_bytes()[1..]);
        out.push((ts >> 24) as u8);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(body);
        if back_pointers {
            out.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
        }
    }
    out
}

#[test]
fn aggregate_timestamps_use_the_extended_byte_and_wrap() {
    let body = aggregate(
        &[
            (9, 0x0100_0000, b"a"),
            (9, 0x0100_0010, b"b"),
            (8, 0x00FF_FFF0, b"c"),
        ],
        true,
    );
    let mut m = raw(22, &body);
    m.timestamp = u32::MAX - 5;
    let ts: Vec<u32> = split_aggregate(&m).map(|s| s.unwrap().timestamp).collect();
    // Offsets 0, +16 and -16 from the first sub-message, applied with wrapping.
    assert_eq!(ts, [u32::MAX - 5, 10, u32::MAX - 21]);
}

#[test]
fn aggregate_without_final_back_pointer_and_broken_aggregates() {
    let body = aggregate(&[(8, 0, b"xy")], false);
    let subs: Vec<_> = split_aggregate(&raw(22, &body)).collect();
    assert_eq!(subs.len(), 1);
    assert!(subs[0].is_ok());

    let mut body = aggregate(&[(8, 0, b"xy")], true);
    body[3] = 200; // size beyond the aggregate
    let subs: Vec<_> = split_aggregate(&raw(22, &body)).collect();
    assert_eq!(
        subs,
        vec![Err(MessageError::Aggregate {
            offset: 0,
            reason: "body exceeds the aggregate"
        })]
    );
    let subs: Vec<_> = split_aggregate(&raw(22, &[8, 0, 0])).collect();
    assert!(matches!(subs[..], [Err(MessageError::Aggregate { .. })]));
}

proptest! {
    #[test]
    fn garbage_never_panics(type_id in any::<u8>(), payload in prop::collection::vec(any::<u8>(), 0..64)) {
        let m = raw(type_id, &payload);
        let _ = Message::decode(&m);
        for sub in split_aggregate(&m) {
            let _ = sub;
        }
    }
}
