//! SRT (the vendored, patched srt-protocol): arbitrary datagrams are parsed (as IPv4 and IPv6
//! peers), fed to two multiplexing listeners (without and with a passphrase) from four source
//! addresses, and fed to two
//! established connections (one plain, one AES-128 encrypted) that have data in flight, so
//! NAKs, ACKs, drop requests, key material and every other control packet reach a live
//! sender and receiver. The listener's induction cookie is copied into later conclusions,
//! so the fuzzer reaches extension, key-material and access-control processing.
//! Never a panic.
//!
//! Input: records of `[op][len][len bytes]`. `op % 4`: 0 a datagram to a connection (its
//! destination socket id rewritten to the connection's), 1 a datagram to the listener,
//! 2 advance the clock by `len` milliseconds and run timers, 3 send `len` bytes of data.
//! Bit 0x80 parses as IPv6, 0x40 copies the cookie into a conclusion, 0x20 picks the
//! listener (or caller) with a passphrase, 0x10 sends a listener datagram to a caller
//! instead (a caller's handshake state machine, as Baton's SRT sources run it).
#![no_main]

use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use srt_protocol::{
    connection::{Connection, ConnectionSettings, DuplexConnection},
    listener::{Action, Input, MultiplexListener, ResultOf, SessionId},
    options::{KeySize, PacketCount, PacketSize},
    packet::{ControlTypes, Packet, SeqNumber, ShakeType, SocketId},
    protocol::handshake::Handshake,
    protocol::pending_connection::{AccessControlResponse, ConnectionResult, connect::Connect},
    settings::{CipherSettings, ConnInitSettings, KeyMaterialRefreshSettings, KeySettings},
};

const LOCAL: SocketId = SocketId(0x1234_5678);

fn peer(i: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9000 + u16::from(i % 4)))
}

fn connection(start: Instant, encrypted: bool) -> DuplexConnection {
    let cipher = encrypted.then(|| {
        CipherSettings::new_random(
            &KeySettings {
                key_size: KeySize::AES128,
                passphrase: "fuzzing passphrase".into(),
            },
            &KeyMaterialRefreshSettings::default(),
        )
    });
    DuplexConnection::new(Connection {
        settings: ConnectionSettings {
            remote: peer(0),
            remote_sockid: SocketId(77),
            local_sockid: LOCAL,
            socket_start_time: start,
            rtt: Duration::from_millis(10),
            init_seq_num: SeqNumber::new_truncate(1000),
            max_packet_size: PacketSize(1316),
            max_flow_size: PacketCount(8192),
            send_tsbpd_latency: Duration::from_millis(120),
            recv_tsbpd_latency: Duration::from_millis(120),
            too_late_packet_drop: true,
            peer_idle_timeout: Duration::from_secs(5),
            recv_buffer_size: PacketCount(8192),
            send_buffer_size: PacketCount(8192),
            cipher,
            stream_id: None,
            bandwidth: Default::default(),
            statistics_interval: Duration::from_secs(1),
        },
        handshake: Handshake::Connector,
    })
}

fn drain(conn: &mut DuplexConnection, now: Instant) {
    for _ in 0..64 {
        if conn.next_packet(now).is_none() {
            break;
        }
    }
    for _ in 0..64 {
        if conn.next_data(now).is_none() {
            break;
        }
    }
    let _ = conn.check_timers(now);
}

struct World {
    now: Instant,
    conns: Vec<DuplexConnection>,
    /// Without and with a passphrase (key-material paths differ).
    listeners: [MultiplexListener; 2],
    opened: HashMap<SessionId, DuplexConnection>,
    cookies: HashMap<SocketAddr, i32>,
    /// A caller (with and without a passphrase) talking to `peer(0)`: its induction and
    /// conclusion responses come from the fuzzer.
    callers: [Connect; 2],
}

impl World {
    fn listener_input(&mut self, which: usize, input: Input) {
        let now = self.now;
        let listener = &mut self.listeners[which];
        let mut action = listener.handle_input(now, input);
        for _ in 0..16 {
            let next = match action {
                Action::SendPacket((packet, to)) => {
                    if let Packet::Control(control) = &packet {
                        if let ControlTypes::Handshake(hs) = &control.control_type {
                            self.cookies.insert(to, hs.syn_cookie);
                        }
                    }
                    Input::Success(ResultOf::SendPacket(to))
                }
                Action::RequestAccess(id, _) => Input::AccessResponse(Some((
                    id,
                    AccessControlResponse::Accepted(None),
                ))),
                Action::RejectConnection(id, _) => Input::Success(ResultOf::RejectConnection(id)),
                Action::OpenConnection(id, boxed) => {
                    let (_, connection) = *boxed;
                    self.opened.insert(id, DuplexConnection::new(connection));
                    Input::Success(ResultOf::OpenConnection(id))
                }
                Action::DelegatePacket(id, packet) => {
                    if let Some(conn) = self.opened.get_mut(&id) {
                        conn.handle_packet_input(now, Ok(packet));
                        drain(conn, now);
                    }
                    Input::Success(ResultOf::DelegatePacket(id))
                }
                Action::DropConnection(id) => {
                    self.opened.remove(&id);
                    Input::Success(ResultOf::DropConnection(id))
                }
                Action::UpdateStatistics(_) => Input::Success(ResultOf::UpdateStatistics),
                Action::WaitForInput | Action::Close => break,
            };
            action = listener.handle_input(now, next);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut world = World {
        now: start,
        conns: vec![connection(start, false), connection(start, true)],
        listeners: [
            MultiplexListener::new(
                start,
                SocketAddr::from(([127, 0, 0, 1], 4200)),
                ConnInitSettings::default(),
            ),
            MultiplexListener::new(
                start,
                SocketAddr::from(([127, 0, 0, 1], 4201)),
                ConnInitSettings {
                    key_settings: Some(KeySettings {
                        key_size: KeySize::AES128,
                        passphrase: "fuzzing passphrase".into(),
                    }),
                    ..ConnInitSettings::default()
                },
            ),
        ],
        opened: HashMap::new(),
        cookies: HashMap::new(),
        callers: [false, true].map(|encrypted| {
            let mut connect = Connect::new(
                peer(0),
                [127, 0, 0, 1].into(),
                ConnInitSettings {
                    key_settings: encrypted.then(|| KeySettings {
                        key_size: KeySize::AES128,
                        passphrase: "fuzzing passphrase".into(),
                    }),
                    ..ConnInitSettings::default()
                },
                Some("fuzz".into()),
                SeqNumber::new_truncate(5),
            );
            let _ = connect.handle_tick(start);
            connect
        }),
    };
    // Data in flight, so NAKs and ACKs name packets the sender holds.
    for conn in &mut world.conns {
        for i in 0..32u8 {
            conn.handle_data_input(start, Some((start, Bytes::from(vec![i; 188]))));
        }
        drain(conn, start);
    }

    let mut rest = data;
    while rest.len() >= 3 {
        let op = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let body = &rest[3..];
        let take = len.min(body.len());
        let (record, tail) = body.split_at(take);
        rest = tail;
        match op % 4 {
            0 => {
                let mut bytes = record.to_vec();
                if bytes.len() >= 16 {
                    bytes[12..16].copy_from_slice(&LOCAL.0.to_be_bytes());
                }
                let ipv6 = op & 0x80 != 0;
                let now = world.now;
                for conn in &mut world.conns {
                    if let Ok(packet) = Packet::parse(&mut &bytes[..], ipv6) {
                        let _ = format!("{packet:?}");
                        let _ = packet.wire_size();
                        conn.handle_packet_input(now, Ok((packet, peer(0))));
                    }
                    drain(conn, now);
                }
            }
            1 => {
                let from = peer(op >> 2);
                let ipv6 = op & 0x80 != 0;
                let Ok(mut packet) = Packet::parse(&mut &record[..], ipv6) else {
                    continue;
                };
                if let Packet::Control(control) = &mut packet {
                    if let ControlTypes::Handshake(hs) = &mut control.control_type {
                        if hs.shake_type == ShakeType::Conclusion && op & 0x40 != 0 {
                            if let Some(cookie) = world.cookies.get(&from) {
                                hs.syn_cookie = *cookie;
                            }
                        }
                    }
                }
                let which = usize::from(op & 0x20 != 0);
                if op & 0x10 != 0 {
                    // To a caller instead, as if from the server it called.
                    let now = world.now;
                    let result = world.callers[which].handle_packet(Ok((packet, peer(0))), now);
                    if let ConnectionResult::Connected(_, connection) = result {
                        let mut conn = DuplexConnection::new(connection);
                        drain(&mut conn, now);
                        world.conns.push(conn);
                    }
                    continue;
                }
                world.listener_input(which, Input::Packet(Ok((packet, from))));
            }
            2 => {
                world.now += Duration::from_millis(len as u64);
                let now = world.now;
                for conn in world.conns.iter_mut().chain(world.opened.values_mut()) {
                    drain(conn, now);
                }
                world.listener_input(0, Input::Timer);
                world.listener_input(1, Input::Timer);
            }
            _ => {
                let now = world.now;
                for conn in world.conns.iter_mut().chain(world.opened.values_mut()) {
                    conn.handle_data_input(now, Some((now, Bytes::copy_from_slice(record))));
                    drain(conn, now);
                }
            }
        }
    }
});
