use baton_amf::Amf0Value;
use bytes::BytesMut;

use super::raw::RawClient;
use super::*;
use crate::chunk::ChunkEncoder;
use crate::message::UserControl;

fn metadata() -> Bytes {
    baton_amf::encode_all(&[
        "onMetaData".into(),
        Amf0Value::EcmaArray(vec![
            ("duration".into(), 0.0.into()),
            ("width".into(), 1280.0.into()),
        ]),
    ])
    .into()
}

#[test]
fn publish_flow_end_to_end() {
    let mut p = Pair::new(ClientMode::Publish, "rtmp://example.com/live/key?token=1");
    p.pump();
    let events = p.take_server_events();
    let [
        ServerEvent::ConnectRequested {
            request_id,
            app,
            tc_url,
            fourcc_list,
            properties,
        },
    ] = &events[..]
    else {
        panic!("{events:?}");
    };
    assert_eq!(app, "live");
    assert_eq!(tc_url.as_deref(), Some("rtmp://example.com/live"));
    assert!(fourcc_list.is_empty());
    assert_eq!(
        properties.get("type").and_then(Amf0Value::as_str),
        Some("nonprivate")
    );
    assert_eq!(
        properties.get("flashVer").and_then(Amf0Value::as_str),
        Some("FMLE/3.0 (compatible; Baton)")
    );
    p.server.accept_connect(*request_id).unwrap();
    p.pump();

    let events = p.take_client_events();
    let [ClientEvent::Connected { properties }] = &events[..] else {
        panic!("{events:?}");
    };
    let text = |k| properties.get(k).and_then(Amf0Value::as_str);
    assert_eq!(text("fmsVer"), Some("FMS/3,0,1,123"));
    assert_eq!(text("code"), Some("NetConnection.Connect.Success"));
    assert_eq!(
        properties.get("capabilities"),
        Some(&Amf0Value::Number(31.0))
    );

    let events = p.take_server_events();
    let [
        ServerEvent::PublishRequested {
            request_id,
            stream_id,
            app,
            tc_url,
            stream_name,
            query,
            mode,
        },
    ] = &events[..]
    else {
        panic!("{events:?}");
    };
    assert_eq!((app.as_str(), stream_name.as_str()), ("live", "key"));
    assert_eq!(query.as_deref(), Some("token=1"));
    assert_eq!(mode, "live");
    assert_eq!(tc_url.as_deref(), Some("rtmp://example.com/live"));
    assert_eq!(*stream_id, 1);
    let stream_id = *stream_id;
    p.server.accept_publish(*request_id).unwrap();
    p.pump();
    assert_eq!(p.take_client_events(), vec![ClientEvent::Publishing]);
    assert_eq!(p.client.state(), ClientState::Publishing);
    assert_eq!(
        p.c2s.commands(),
        [
            "connect",
            "releaseStream",
            "FCPublish",
            "createStream",
            "publish"
        ]
    );
    let s2c = p.s2c.commands();
    assert!(s2c.contains(&"onFCPublish".to_owned()), "{s2c:?}");
    assert_eq!(s2c.last().map(String::as_str), Some("onStatus"));

    // Media arrives intact, in order; metadata goes out wrapped and comes in unwrapped.
    let sent = [
        (MediaKind::Data, 0, metadata()),
        (MediaKind::Video, 0, payload(1, 9000)),
        (MediaKind::Audio, 0, payload(2, 300)),
        (MediaKind::Audio, 23, payload(3, 300)),
        (MediaKind::Video, 33, payload(4, 4096)),
        (MediaKind::Video, 66, payload(5, 0)),
        (MediaKind::Audio, 46, payload(6, 301)),
    ];
    for (kind, ts, data) in &sent {
        p.client.send_media(*kind, *ts, data).unwrap();
    }
    p.pump();
    let got = p.take_server_events();
    let expected: Vec<ServerEvent> = sent
        .iter()
        .map(|(kind, timestamp, payload)| ServerEvent::Media {
            stream_id,
            kind: *kind,
            timestamp: *timestamp,
            payload: payload.clone(),
        })
        .collect();
    assert_eq!(got, expected);
    let wire_data = p
        .c2s
        .messages
        .iter()
        .find_map(|(_, m)| match m {
            Message::Data(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert!(wire_data.starts_with(b"\x02\x00\x0d@setDataFrame\x02\x00\x0aonMetaData"));

    p.client.close();
    p.pump();
    assert_eq!(
        p.take_server_events(),
        vec![ServerEvent::PublishFinished { stream_id }]
    );
    assert_eq!(p.client.state(), ClientState::Closed);
    let c2s = p.c2s.commands();
    assert_eq!(&c2s[c2s.len() - 2..], ["FCUnpublish", "deleteStream"]);
    assert!(matches!(
        p.client.send_media(MediaKind::Audio, 0, b"x"),
        Err(SessionError::NotPublishing(ClientState::Closed))
    ));
}

#[test]
fn publish_rejected() {
    let mut p = Pair::new(ClientMode::Publish, "rtmp://h/live/taken");
    for _ in 0..5 {
        p.pump();
        for event in p.take_server_events() {
            match event {
                ServerEvent::ConnectRequested { request_id, .. } => {
                    p.server.accept_connect(request_id).unwrap()
                }
                ServerEvent::PublishRequested { request_id, .. } => p
                    .server
                    .reject_publish(
                        request_id,
                        "NetStream.Publish.BadName",
                        "already publishing",
                    )
                    .unwrap(),
                other => panic!("{other:?}"),
            }
        }
    }
    let events = p.take_client_events();
    assert_eq!(
        events.last(),
        Some(&ClientEvent::Rejected {
            stage: Stage::Publish,
            code: "NetStream.Publish.BadName".into(),
            description: "already publishing".into(),
        })
    );
    assert_eq!(p.client.state(), ClientState::Rejected);
    assert!(matches!(
        p.client.send_media(MediaKind::Video, 0, b"x"),
        Err(SessionError::NotPublishing(ClientState::Rejected))
    ));
}

#[test]
fn connect_rejected() {
    let mut p = Pair::new(ClientMode::Play, "rtmp://h/private/s");
    p.pump();
    let Some(ServerEvent::ConnectRequested { request_id, .. }) = p.take_server_events().pop()
    else {
        panic!("connect");
    };
    p.server.reject_connect(request_id, "no such app").unwrap();
    p.pump();
    assert_eq!(
        p.take_client_events(),
        vec![ClientEvent::Rejected {
            stage: Stage::Connect,
            code: "NetConnection.Connect.Rejected".into(),
            description: "no such app".into(),
        }]
    );
    assert_eq!(
        p.server.accept_connect(request_id),
        Err(SessionError::UnknownRequest(request_id))
    );
}

#[test]
fn play_flow_end_to_end() {
    let mut p = Pair::new(ClientMode::Play, "rtmp://[::1]:1936/app/inst/cam?k=v");
    p.pump();
    let Some(ServerEvent::ConnectRequested {
        request_id,
        app,
        properties,
        ..
    }) = p.take_server_events().pop()
    else {
        panic!("connect");
    };
    assert_eq!(app, "app/inst");
    assert_eq!(
        properties.get("capabilities"),
        Some(&Amf0Value::Number(15.0))
    );
    assert_eq!(
        properties.get("audioCodecs"),
        Some(&Amf0Value::Number(3191.0))
    );
    assert_eq!(properties.get("fpad"), Some(&Amf0Value::Boolean(false)));
    p.server.accept_connect(request_id).unwrap();
    p.pump();
    let Some(ServerEvent::PlayRequested {
        request_id,
        stream_id,
        tc_url,
        stream_name,
        query,
        start,
        ..
    }) = p.take_server_events().pop()
    else {
        panic!("play");
    };
    assert_eq!(tc_url.as_deref(), Some("rtmp://[::1]:1936/app/inst"));
    assert_eq!(
        (stream_name.as_str(), query.as_deref()),
        ("cam", Some("k=v"))
    );
    assert_eq!(start, -2.0);
    // The play came with Set Buffer Length.
    assert_eq!(
        p.c2s.count(|m| matches!(
            m,
            Message::UserControl(UserControl::SetBufferLength { millis: 3000, .. })
        )),
        1
    );
    p.server.accept_play(request_id).unwrap();
    p.pump();
    let events = p.take_client_events();
    assert_eq!(events.last(), Some(&ClientEvent::Playing), "{events:?}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ClientEvent::Media { .. })),
        "|RtmpSampleAccess and NetStream.Data.Start are not media"
    );
    assert_eq!(
        p.s2c
            .count(|m| matches!(m, Message::UserControl(UserControl::StreamBegin(1)))),
        1
    );

    let mut sent = Vec::new();
    let mut ts = 0u32;
    for i in 0..60u32 {
        let kind = [MediaKind::Audio, MediaKind::Video, MediaKind::Data][(i % 3) as usize];
        let len = [0usize, 1, 127, 128, 4095, 4096, 4097, 20_000][(i * 7 % 8) as usize];
        ts += i % 4 * 10;
        let data = payload(i, len);
        p.server.send_media(stream_id, kind, ts, &data).unwrap();
        sent.push(ClientEvent::Media {
            kind,
            timestamp: ts,
            payload: data,
        });
        if i % 5 == 0 {
            p.pump();
        }
    }
    p.pump();
    assert_eq!(p.take_client_events(), sent);

    // UnpublishNotify and Stream EOF both arrive; the end is reported once.
    p.server.send_unpublish_notify(stream_id).unwrap();
    p.pump();
    assert_eq!(
        p.take_client_events(),
        vec![ClientEvent::StreamEnded {
            code: "NetStream.Play.UnpublishNotify".into()
        }]
    );
    // A new publisher: PublishNotify, then the end can be reported again.
    p.server.send_publish_notify(stream_id).unwrap();
    p.server.send_unpublish_notify(stream_id).unwrap();
    p.pump();
    let events = p.take_client_events();
    assert!(matches!(
        &events[..],
        [
            ClientEvent::Status { code, .. },
            ClientEvent::StreamEnded { .. }
        ] if code == "NetStream.Play.PublishNotify"
    ));

    p.client.close();
    p.pump();
    assert_eq!(
        p.take_server_events(),
        vec![ServerEvent::PlayFinished { stream_id }]
    );
    assert_eq!(
        p.server.send_media(stream_id, MediaKind::Audio, 0, b"x"),
        Err(SessionError::NotPlaying(stream_id))
    );
}

#[test]
fn second_create_stream_gets_a_new_id_and_streams_are_independent() {
    let mut c = RawClient::connected(ServerConfig::default());
    c.command(0, "createStream", 2.0, Amf0Value::Null, vec![])
        .unwrap();
    c.command(0, "createStream", 3.0, Amf0Value::Null, vec![])
        .unwrap();
    let results: Vec<(f64, Option<f64>)> = c
        .read_commands()
        .into_iter()
        .map(|(name, cmd)| {
            assert_eq!(name, "_result");
            (cmd.transaction_id, cmd.arg(0).and_then(Amf0Value::as_f64))
        })
        .collect();
    assert_eq!(results, [(2.0, Some(1.0)), (3.0, Some(2.0))]);

    for sid in [1, 2] {
        let name = format!("s{sid}");
        c.command(sid, "publish", 0.0, Amf0Value::Null, vec![name.into()])
            .unwrap();
    }
    let requests: Vec<(u32, u32)> = std::mem::take(&mut c.events)
        .into_iter()
        .map(|e| match e {
            ServerEvent::PublishRequested {
                request_id,
                stream_id,
                ..
            } => (request_id, stream_id),
            other => panic!("{other:?}"),
        })
        .collect();
    for &(request_id, _) in &requests {
        c.server.accept_publish(request_id).unwrap();
    }
    for sid in [1, 2] {
        c.send(&Message::Audio(payload(sid, 10)), 5, sid).unwrap();
    }
    let ids: Vec<u32> = std::mem::take(&mut c.events)
        .into_iter()
        .map(|e| match e {
            ServerEvent::Media { stream_id, .. } => stream_id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, [1, 2]);

    c.command(0, "deleteStream", 4.0, Amf0Value::Null, vec![1.0.into()])
        .unwrap();
    assert_eq!(
        c.events,
        vec![ServerEvent::PublishFinished { stream_id: 1 }]
    );
    c.events.clear();
    c.send(&Message::Audio(payload(1, 10)), 6, 1).unwrap();
    c.send(&Message::Audio(payload(2, 10)), 6, 2).unwrap();
    assert_eq!(c.events.len(), 1);
    assert_eq!(c.server.dropped_media(), 1);
}

#[test]
fn pings_are_sent_on_time_and_answered() {
    let config = ServerConfig {
        ping_interval: Some(Duration::from_secs(10)),
        ..ServerConfig::default()
    };
    let mut p = Pair::with(ClientMode::Publish, "rtmp://h/live/s", config, |_| {});
    let start = p.now;
    assert_eq!(
        p.server.poll_timeout(),
        Some(start + Duration::from_secs(10))
    );
    assert_eq!(p.client.poll_timeout(), None);
    p.establish();
    p.advance(Duration::from_secs(9));
    p.pump();
    assert_eq!(
        p.s2c
            .count(|m| matches!(m, Message::UserControl(UserControl::PingRequest(_)))),
        0
    );
    p.advance(Duration::from_secs(1));
    p.pump();
    let ping = |m: &Message| matches!(m, Message::UserControl(UserControl::PingRequest(10_000)));
    let pong = |m: &Message| matches!(m, Message::UserControl(UserControl::PingResponse(10_000)));
    assert_eq!(p.s2c.count(ping), 1);
    assert_eq!(p.c2s.count(pong), 1);
    assert_eq!(
        p.server.poll_timeout(),
        Some(start + Duration::from_secs(20))
    );
}

/// The acknowledgement sequence numbers one side sent.
fn acks(tap: &Tap) -> Vec<u32> {
    tap.messages
        .iter()
        .filter_map(|(_, m)| match m {
            Message::Acknowledgement(n) => Some(*n),
            _ => None,
        })
        .collect()
}

#[test]
fn acknowledgements_follow_the_window() {
    // Player side: the server asks for an acknowledgement every 10 000 bytes.
    let config = ServerConfig {
        window_ack_size: 10_000,
        ..ServerConfig::default()
    };
    let mut p = Pair::with(ClientMode::Play, "rtmp://h/live/s", config, |_| {});
    let sid = p.establish();
    for i in 0..30 {
        p.server
            .send_media(sid, MediaKind::Video, i * 40, &payload(i, 3000))
            .unwrap();
        p.pump();
    }
    let received = p.s2c.decoder.bytes_received() as u32;
    let sent = acks(&p.c2s);
    assert!(sent.len() >= 8, "{sent:?} for {received} bytes");
    assert!(sent.windows(2).all(|w| w[1] - w[0] >= 10_000), "{sent:?}");
    let last = *sent.last().unwrap();
    assert!(
        last <= received && received - last < 10_000,
        "{sent:?} {received}"
    );

    // Publisher side: the client's window makes the server acknowledge.
    let mut p = Pair::with(
        ClientMode::Publish,
        "rtmp://h/live/s",
        ServerConfig::default(),
        |c| c.window_ack_size = 4000,
    );
    p.establish();
    for i in 0..10 {
        p.client
            .send_media(MediaKind::Audio, i, &payload(i, 1000))
            .unwrap();
        p.pump();
    }
    assert!(acks(&p.s2c).len() >= 2, "{:?}", acks(&p.s2c));
}

#[test]
fn set_peer_bandwidth_is_answered_when_the_window_changes() {
    let mut c = RawClient::connected(ServerConfig::default());
    let windows = |msgs: Vec<Message>| -> Vec<u32> {
        msgs.into_iter()
            .filter_map(|m| match m {
                Message::WindowAckSize(n) => Some(n),
                _ => None,
            })
            .collect()
    };
    let mut step = |size, limit| {
        c.send(&Message::SetPeerBandwidth { size, limit }, 0, 0)
            .unwrap();
        windows(c.read())
    };
    assert_eq!(step(2_500_000, 0), Vec::<u32>::new()); // hard, same as announced
    assert_eq!(step(1_000_000, 0), [1_000_000]); // hard
    assert_eq!(step(2_000_000, 1), Vec::<u32>::new()); // soft, larger: kept
    assert_eq!(step(500_000, 1), [500_000]); // soft, smaller
    assert_eq!(step(700_000, 2), Vec::<u32>::new()); // dynamic after soft: ignored
    assert_eq!(step(800_000, 0), [800_000]);
    assert_eq!(step(900_000, 2), [900_000]); // dynamic after hard: hard
}

#[test]
fn chunk_size_changes_mid_stream() {
    let mut p = Pair::new(ClientMode::Publish, "rtmp://h/live/s");
    p.establish();
    p.client
        .send_media(MediaKind::Video, 0, &payload(1, 5000))
        .unwrap();
    p.client.set_chunk_size(77).unwrap();
    p.client
        .send_media(MediaKind::Video, 40, &payload(2, 5000))
        .unwrap();
    p.client.set_chunk_size(100_000).unwrap();
    p.client
        .send_media(MediaKind::Video, 80, &payload(3, 50_000))
        .unwrap();
    p.pump();
    let payloads: Vec<Bytes> = p
        .take_server_events()
        .into_iter()
        .map(|e| match e {
            ServerEvent::Media { payload, .. } => payload,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        payloads,
        [payload(1, 5000), payload(2, 5000), payload(3, 50_000)]
    );
    assert_eq!(p.c2s.count(|m| *m == Message::SetChunkSize(77)), 1);
    assert_eq!(
        p.client.set_chunk_size(0),
        Err(SessionError::Chunk(
            crate::chunk::ChunkError::InvalidChunkSize(0)
        ))
    );

    let mut p = Pair::new(ClientMode::Play, "rtmp://h/live/s");
    let sid = p.establish();
    p.server.set_chunk_size(33).unwrap();
    p.server
        .send_media(sid, MediaKind::Audio, 0, &payload(9, 1000))
        .unwrap();
    p.pump();
    assert_eq!(
        p.take_client_events().pop(),
        Some(ClientEvent::Media {
            kind: MediaKind::Audio,
            timestamp: 0,
            payload: payload(9, 1000)
        })
    );
}

/// A raw client publishing on stream 1 with its publish accepted.
fn publishing_client() -> RawClient {
    let mut c = RawClient::connected(ServerConfig::default());
    c.command(0, "createStream", 2.0, Amf0Value::Null, vec![])
        .unwrap();
    c.command(
        1,
        "publish",
        0.0,
        Amf0Value::Null,
        vec!["s".into(), "live".into()],
    )
    .unwrap();
    let Some(ServerEvent::PublishRequested { request_id, .. }) = c.events.pop() else {
        panic!("publish");
    };
    c.server.accept_publish(request_id).unwrap();
    c.read();
    c
}

#[test]
fn abort_discards_a_partial_message() {
    let mut c = publishing_client();
    let mut out = BytesMut::new();
    c.encoder.encode(5, 100, 9, 1, &payload(1, 1000), &mut out);
    // Only the first chunk (12 header bytes + 128) of the 1000-byte message.
    c.bytes(&out[..140]).unwrap();
    c.send(&Message::Abort { csid: 5 }, 0, 0).unwrap();
    assert!(c.events.is_empty());
    c.send(&Message::Video(payload(2, 1000)), 140, 1).unwrap();
    assert_eq!(
        c.events,
        vec![ServerEvent::Media {
            stream_id: 1,
            kind: MediaKind::Video,
            timestamp: 140,
            payload: payload(2, 1000),
        }]
    );
}

/// An aggregate body of `(type, timestamp, body)` sub-messages with back pointers.
fn aggregate(subs: &[(u8, u32, &[u8])]) -> Bytes {
    let mut out = Vec::new();
    for &(type_id, ts, body) in subs {
        out.push(type_id);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&ts.to_be_bytes()[1..]);
        out.push((ts >> 24) as u8);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(body);
        out.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
    }
    out.into()
}

#[test]
fn aggregates_are_split_for_both_sides() {
    let mut wrapped = b"\x02\x00\x0d@setDataFrame".to_vec();
    wrapped.extend_from_slice(&metadata());
    let body = aggregate(&[(18, 200, &wrapped), (8, 200, b"aa"), (9, 240, b"vvv")]);
    let mut c = publishing_client();
    c.send(&Message::Aggregate(body.clone()), 1000, 1).unwrap();
    let got: Vec<(MediaKind, u32, Bytes)> = std::mem::take(&mut c.events)
        .into_iter()
        .map(|e| match e {
            ServerEvent::Media {
                kind,
                timestamp,
                payload,
                ..
            } => (kind, timestamp, payload),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            (MediaKind::Data, 1000, metadata()),
            (MediaKind::Audio, 1000, Bytes::from_static(b"aa")),
            (MediaKind::Video, 1040, Bytes::from_static(b"vvv")),
        ]
    );

    // A server sending an aggregate to our player.
    let mut p = Pair::new(ClientMode::Play, "rtmp://h/live/s");
    let sid = p.establish();
    p.take_client_events();
    let mut enc = ChunkEncoder::new();
    enc.set_chunk_size(4096).unwrap();
    let mut out = BytesMut::new();
    enc.encode(40, 7000, 22, sid, &body, &mut out);
    p.client.handle_input(&out).unwrap();
    let kinds: Vec<(MediaKind, u32)> = std::iter::from_fn(|| p.client.poll_event())
        .map(|e| match e {
            ClientEvent::Media {
                kind, timestamp, ..
            } => (kind, timestamp),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (MediaKind::Data, 7000),
            (MediaKind::Audio, 7000),
            (MediaKind::Video, 7040)
        ]
    );
}

#[test]
fn media_before_an_accepted_publish_is_dropped() {
    let mut c = RawClient::connected(ServerConfig::default());
    c.command(0, "createStream", 2.0, Amf0Value::Null, vec![])
        .unwrap();
    c.send(&Message::Audio(payload(1, 5)), 0, 1).unwrap();
    c.command(1, "publish", 0.0, Amf0Value::Null, vec!["s".into()])
        .unwrap();
    let Some(ServerEvent::PublishRequested {
        request_id, mode, ..
    }) = c.events.pop()
    else {
        panic!("publish");
    };
    assert_eq!(mode, "live");
    c.send(&Message::Audio(payload(2, 5)), 1, 1).unwrap();
    assert!(c.events.is_empty());
    assert_eq!(c.server.dropped_media(), 2);
    c.server.accept_publish(request_id).unwrap();
    c.send(&Message::Audio(payload(3, 5)), 2, 1).unwrap();
    assert_eq!(c.events.len(), 1);
}

#[test]
fn stream_commands_before_connect_are_a_protocol_violation() {
    let mut c = RawClient::new(ServerConfig::default());
    assert_eq!(
        c.command(0, "createStream", 2.0, Amf0Value::Null, vec![]),
        Err(SessionError::NotConnected {
            command: "createStream".into()
        })
    );
    assert_eq!(c.bytes(&[0]), Err(SessionError::Failed));
}

#[test]
fn auxiliary_and_unknown_commands_are_answered_without_closing() {
    let mut c = RawClient::connected(ServerConfig::default());
    c.command(0, "releaseStream", 2.0, Amf0Value::Null, vec!["s".into()])
        .unwrap();
    c.command(0, "FCPublish", 3.0, Amf0Value::Null, vec!["s".into()])
        .unwrap();
    c.command(0, "getStreamLength", 4.0, Amf0Value::Null, vec!["s".into()])
        .unwrap();
    c.command(0, "whatIsThis", 5.0, Amf0Value::Null, vec![])
        .unwrap();
    c.command(0, "fireAndForget", 0.0, Amf0Value::Null, vec![])
        .unwrap();
    c.command(0, "_checkbw", 6.0, Amf0Value::Null, vec![])
        .unwrap();
    let replies: Vec<(String, f64)> = c
        .read_commands()
        .into_iter()
        .map(|(name, cmd)| (name, cmd.transaction_id))
        .collect();
    assert_eq!(
        replies,
        [
            ("_result".to_owned(), 2.0),
            ("onFCPublish".to_owned(), 0.0),
            ("_result".to_owned(), 3.0),
            ("_result".to_owned(), 4.0),
            ("_error".to_owned(), 5.0),
            ("_result".to_owned(), 6.0),
        ]
    );
    // Still usable.
    c.command(0, "createStream", 7.0, Amf0Value::Null, vec![])
        .unwrap();
    assert_eq!(c.read_commands().len(), 1);
}

#[test]
fn receive_video_false_skips_video() {
    let mut p = Pair::new(ClientMode::Play, "rtmp://h/live/s");
    let sid = p.establish();
    p.take_client_events();
    // The player turns video off (as Flash's NetStream.receiveVideo(false) does).
    let mut out = BytesMut::new();
    let mut enc = ChunkEncoder::new();
    enc.set_chunk_size(4096).unwrap();
    let body = baton_amf::encode_all(&[
        "receiveVideo".into(),
        0.0.into(),
        Amf0Value::Null,
        false.into(),
    ]);
    enc.encode(33, 0, 20, sid, &body, &mut out);
    // Sent through a client that has already announced chunk size 4096.
    p.server.handle_input(&out).unwrap();
    p.server.send_media(sid, MediaKind::Video, 0, b"v").unwrap();
    p.server.send_media(sid, MediaKind::Audio, 0, b"a").unwrap();
    p.pump();
    assert_eq!(
        p.take_client_events(),
        vec![ClientEvent::Media {
            kind: MediaKind::Audio,
            timestamp: 0,
            payload: Bytes::from_static(b"a")
        }]
    );
}

#[test]
fn enhanced_rtmp_fourcc_list_is_offered_and_echoed() {
    let mut p = Pair::with(
        ClientMode::Publish,
        "rtmp://h/live/s",
        ServerConfig::default(),
        |c| c.fourcc_list = vec!["hvc1".into(), "av01".into()],
    );
    p.pump();
    let Some(ServerEvent::ConnectRequested {
        request_id,
        fourcc_list,
        ..
    }) = p.take_server_events().pop()
    else {
        panic!("connect");
    };
    assert_eq!(fourcc_list, ["hvc1", "av01"]);
    p.server.accept_connect(request_id).unwrap();
    p.pump();
    let Some(ClientEvent::Connected { properties }) = p.take_client_events().into_iter().next()
    else {
        panic!("connected");
    };
    assert_eq!(
        properties.get("fourCcList"),
        Some(&Amf0Value::StrictArray(vec!["hvc1".into(), "av01".into()]))
    );
}

#[test]
fn requests_answered_late_or_twice() {
    let mut c = RawClient::connected(ServerConfig::default());
    c.command(0, "createStream", 2.0, Amf0Value::Null, vec![])
        .unwrap();
    c.command(1, "publish", 0.0, Amf0Value::Null, vec!["s".into()])
        .unwrap();
    let Some(ServerEvent::PublishRequested { request_id, .. }) = c.events.pop() else {
        panic!("publish");
    };
    // The client gives up before the application decides.
    c.command(0, "deleteStream", 3.0, Amf0Value::Null, vec![1.0.into()])
        .unwrap();
    assert_eq!(
        c.events,
        vec![ServerEvent::PublishFinished { stream_id: 1 }]
    );
    c.read();
    assert_eq!(c.server.accept_publish(request_id), Ok(()));
    assert!(c.read().is_empty(), "nothing sent for a vanished stream");
    assert_eq!(
        c.server.accept_publish(request_id),
        Err(SessionError::UnknownRequest(request_id))
    );
    assert_eq!(
        c.server.accept_play(999),
        Err(SessionError::UnknownRequest(999))
    );

    // A publish on a busy stream is refused on the wire, not an event.
    let mut c = publishing_client();
    c.command(1, "publish", 0.0, Amf0Value::Null, vec!["t".into()])
        .unwrap();
    assert!(c.events.is_empty());
    let replies = c.read_commands();
    let info = replies[0].1.arg(0).unwrap();
    assert_eq!(
        info.get("code").and_then(Amf0Value::as_str),
        Some("NetStream.Publish.BadConnection")
    );
}

#[test]
fn oversized_payloads_are_refused() {
    let mut p = Pair::new(ClientMode::Publish, "rtmp://h/live/s");
    p.establish();
    let big = vec![0u8; 0x100_0000];
    assert_eq!(
        p.client.send_media(MediaKind::Video, 0, &big),
        Err(SessionError::PayloadTooLarge(0x100_0000))
    );
}

#[test]
fn fcunpublish_ends_the_publish_once() {
    let mut c = publishing_client();
    c.command(0, "FCUnpublish", 5.0, Amf0Value::Null, vec!["s?x=1".into()])
        .unwrap();
    c.command(0, "deleteStream", 6.0, Amf0Value::Null, vec![1.0.into()])
        .unwrap();
    assert_eq!(
        c.events,
        vec![ServerEvent::PublishFinished { stream_id: 1 }]
    );
    let names: Vec<String> = c.read_commands().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["onFCUnpublish", "_result"]);
}
