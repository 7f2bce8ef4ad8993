//! Crafted SRT datagrams against srt-tokio (with Baton's patched srt-protocol, see
//! vendor/srt-protocol/BATON.md): none of them may take down the listener, the established
//! connection they are aimed at, or any other connection.
//!
//! The world: an srt-tokio listener on 127.0.0.1 and one caller publishing a numbered packet
//! every 5 ms through a small UDP relay. The relay is what lets the test speak as either
//! peer of the established connection: a datagram injected from its listener-facing socket
//! arrives at the listener as if from the caller (and is routed to the established session),
//! one injected from its caller-facing socket arrives at the caller as if from the listener.
//! Handshake attacks come from fresh raw UDP sockets. Each test builds this world, sends
//! one attack, and then requires the first caller's data to keep flowing in order and a
//! second caller to connect and deliver. Against upstream srt-protocol 0.4.4 (without the
//! `[patch]`) the tests that name a panic fail or hang; garbage, the induction with
//! extensions, the far-future ACK, the unknown ACK2 and the drop request of everything are
//! regression guards that upstream already survives. Real sockets and real time (SRT runs
//! on wall-clock timers), every wait bounded.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::{BufMut, Bytes};
use futures_util::StreamExt;
use srt_protocol::{
    options::{KeySize, PacketCount, PacketSize, SrtVersion},
    packet::{
        ControlPacket, ControlTypes, CoreRejectReason, HandshakeControlInfo, HandshakeVsInfo,
        HsV5Info, KeyingMaterialMessage, Packet, RejectReason, SeqNumber, ShakeType, SocketId,
        SocketType, SrtControlPacket, SrtHandshake, SrtShakeFlags, TimeStamp,
    },
    settings::{CipherSettings, KeyMaterialRefreshSettings, KeySettings},
};
use srt_tokio::{SrtListener, SrtSocket};
use tokio::{net::UdpSocket, sync::mpsc, time::timeout};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// What the accept loop reports: a new session's local socket id, and then its data.
enum Event {
    Opened(String, SocketId),
    /// A stream's packet number.
    Data(String, u32),
}

async fn serve(listener_socket: UdpSocket, events: mpsc::UnboundedSender<Event>) -> SrtListener {
    let local = listener_socket.local_addr().unwrap();
    let (listener, mut incoming) = SrtListener::builder()
        .socket(listener_socket)
        .latency(Duration::from_millis(120))
        .bind(local)
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Some(request) = incoming.incoming().next().await {
            let events = events.clone();
            tokio::spawn(async move {
                let name = request
                    .stream_id()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                // A crafted request may be refused by the protocol after it was accepted.
                let Ok(mut socket) = request.accept(None).await else {
                    return;
                };
                let _ = events.send(Event::Opened(name.clone(), socket.settings().local_sockid));
                while let Some(Ok((_, data))) = socket.next().await {
                    let number = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                    let _ = events.send(Event::Data(name.clone(), number));
                }
            });
        }
    });
    listener
}

/// A caller that publishes a numbered 188-byte packet every 5 ms, forever.
async fn publish(to: SocketAddr, name: &'static str) -> SocketId {
    let mut socket = SrtSocket::builder()
        .latency(Duration::from_millis(120))
        .call(to, Some(name))
        .await
        .unwrap();
    let sockid = socket.settings().local_sockid;
    tokio::spawn(async move {
        let mut n = 0u32;
        let mut tick = tokio::time::interval(Duration::from_millis(5));
        loop {
            tick.tick().await;
            let mut payload = vec![0u8; 188];
            payload[..4].copy_from_slice(&n.to_be_bytes());
            // A full or closed socket drops the packet; the receiving side notices.
            let _ = socket.try_send(Instant::now(), Bytes::from(payload));
            n += 1;
        }
    });
    sockid
}

enum Inject {
    ToListener(Vec<u8>),
    ToCaller(Vec<u8>),
}

/// A UDP relay between one caller and the listener; returns its caller-facing address and
/// the sequence number of the caller's latest data packet.
async fn relay(
    listener: SocketAddr,
) -> (SocketAddr, mpsc::UnboundedSender<Inject>, Arc<AtomicU32>) {
    let caller_side = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let listener_side = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let address = caller_side.local_addr().unwrap();
    let (inject, mut injections) = mpsc::unbounded_channel();
    let last_seq = Arc::new(AtomicU32::new(0));
    let seen = last_seq.clone();
    tokio::spawn(async move {
        let mut caller: Option<SocketAddr> = None;
        let (mut a, mut b) = ([0u8; 2048], [0u8; 2048]);
        loop {
            tokio::select! {
                Ok((n, from)) = caller_side.recv_from(&mut a) => {
                    caller = Some(from);
                    if n >= 16 && a[0] & 0x80 == 0 {
                        seen.store(u32::from_be_bytes([a[0], a[1], a[2], a[3]]), Ordering::Relaxed);
                    }
                    let _ = listener_side.send_to(&a[..n], listener).await;
                }
                Ok((n, _)) = listener_side.recv_from(&mut b) => {
                    if let Some(caller) = caller {
                        let _ = caller_side.send_to(&b[..n], caller).await;
                    }
                }
                Some(injection) = injections.recv() => match injection {
                    Inject::ToListener(bytes) => { let _ = listener_side.send_to(&bytes, listener).await; }
                    Inject::ToCaller(bytes) => {
                        if let Some(caller) = caller {
                            let _ = caller_side.send_to(&bytes, caller).await;
                        }
                    }
                },
                else => break,
            }
        }
    });
    (address, inject, last_seq)
}

/// A raw control packet: type, reserved (the SRT subtype), additional info, payload words.
fn control(dest: SocketId, ty: u16, reserved: u16, info: u32, words: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    out.put_u16(0x8000 | ty);
    out.put_u16(reserved);
    out.put_u32(info);
    out.put_u32(1000);
    out.put_u32(dest.0);
    for word in words {
        out.put_u32(*word);
    }
    out
}

fn serialize(dest: SocketId, control_type: ControlTypes) -> Vec<u8> {
    let mut out = Vec::new();
    Packet::Control(ControlPacket {
        timestamp: TimeStamp::from_micros(0),
        dest_sockid: dest,
        control_type,
    })
    .serialize(&mut out);
    out
}

fn handshake(shake_type: ShakeType, cookie: i32, socket_id: u32, info: HandshakeVsInfo) -> Vec<u8> {
    serialize(
        SocketId(0),
        ControlTypes::Handshake(HandshakeControlInfo {
            init_seq_num: SeqNumber::new_truncate(5000),
            max_packet_size: PacketSize(1500),
            max_flow_size: PacketCount(8192),
            shake_type,
            socket_id: SocketId(socket_id),
            syn_cookie: cookie,
            peer_addr: LOCALHOST,
            info,
        }),
    )
}

fn hsv5(sid: &str, key_size: KeySize, ext_km: Option<SrtControlPacket>) -> HandshakeVsInfo {
    HandshakeVsInfo::V5(HsV5Info {
        key_size,
        ext_hs: Some(SrtControlPacket::HandshakeRequest(SrtHandshake {
            version: SrtVersion::CURRENT,
            flags: SrtShakeFlags::SUPPORTED,
            send_latency: Duration::from_millis(120),
            recv_latency: Duration::from_millis(120),
        })),
        ext_km,
        ext_group: None,
        sid: Some(sid.to_string()),
        unsupported_ext: None,
    })
}

/// A handshake extension block: type, length in words, the string as little-endian words.
fn string_extension(ty: u16, s: &str) -> Vec<u8> {
    let mut bytes = s.as_bytes().to_vec();
    while !bytes.len().is_multiple_of(4) {
        bytes.push(0);
    }
    let mut out = Vec::new();
    out.put_u16(ty);
    out.put_u16((bytes.len() / 4) as u16);
    for word in bytes.chunks(4) {
        out.extend(word.iter().rev());
    }
    out
}

/// An induction from a fresh socket; returns the socket and the listener's cookie.
async fn induction(listener: SocketAddr, socket_id: u32) -> (UdpSocket, i32) {
    let socket = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let request = handshake(
        ShakeType::Induction,
        0,
        socket_id,
        HandshakeVsInfo::V4(SocketType::Datagram),
    );
    socket.send_to(&request, listener).await.unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = timeout(Duration::from_secs(2), socket.recv_from(&mut buf))
        .await
        .expect("the listener answers an induction")
        .unwrap();
    match Packet::parse(&mut &buf[..n], false) {
        Ok(Packet::Control(ControlPacket {
            control_type: ControlTypes::Handshake(hs),
            ..
        })) => (socket, hs.syn_cookie),
        other => panic!("not an induction response: {other:?}"),
    }
}

/// Waits until `count` more packets of `name` arrive (its data still flows), in order.
async fn flows(events: &mut mpsc::UnboundedReceiver<Event>, name: &str, count: usize, what: &str) {
    let (mut seen, mut last) = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while seen < count {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Event::Data(from, number))) if from == name => {
                assert!(
                    seen == 0 || number > last,
                    "after {what}: {name} went from {last} to {number}"
                );
                last = number;
                seen += 1;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                panic!("after {what}: {name}'s data stopped ({seen} of {count} packets)")
            }
        }
    }
}

/// A listener with the first caller publishing through the relay.
struct World {
    listener: SocketAddr,
    events: mpsc::UnboundedReceiver<Event>,
    inject: mpsc::UnboundedSender<Inject>,
    caller_sockid: SocketId,
    session_sockid: SocketId,
    last_seq: Arc<AtomicU32>,
    _listener: SrtListener,
}

impl World {
    async fn new() -> World {
        let listener_socket = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
        let listener = listener_socket.local_addr().unwrap();
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let srt_listener = serve(listener_socket, events_tx).await;
        let (relay_addr, inject, last_seq) = relay(listener).await;
        let caller_sockid = publish(relay_addr, "first").await;
        let session_sockid = loop {
            match timeout(Duration::from_secs(3), events.recv()).await {
                Ok(Some(Event::Opened(name, id))) if name == "first" => break id,
                Ok(Some(_)) => {}
                _ => panic!("the first caller was not accepted"),
            }
        };
        let mut world = World {
            listener,
            events,
            inject,
            caller_sockid,
            session_sockid,
            last_seq,
            _listener: srt_listener,
        };
        flows(&mut world.events, "first", 20, "connecting").await;
        world
    }

    /// A control packet to both ends of the established connection, each as if from its
    /// peer.
    fn to_connection(&self, ty: u16, reserved: u16, info: u32, words: &[u32]) {
        let to_listener = control(self.session_sockid, ty, reserved, info, words);
        let to_caller = control(self.caller_sockid, ty, reserved, info, words);
        self.inject.send(Inject::ToListener(to_listener)).unwrap();
        self.inject.send(Inject::ToCaller(to_caller)).unwrap();
    }

    /// The first caller's data still flows, and the listener still accepts a new caller
    /// whose data arrives.
    async fn survives(mut self, what: &str) {
        flows(&mut self.events, "first", 20, what).await;
        publish(self.listener, "second").await;
        flows(&mut self.events, "second", 20, what).await;
        flows(&mut self.events, "first", 20, what).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_with_absurd_rtt() {
    let world = World::new().await;
    // A full ACK of the caller's latest packet (so the sender takes its statistics), RTT
    // i32::MIN and variance i32::MAX.
    let seq = world.last_seq.load(Ordering::Relaxed);
    let words = [seq, 0x8000_0000, 0x7fff_ffff, 8192, 1000, 1000, 1000];
    world.to_connection(0x2, 0, 1, &words);
    world.survives("an ACK with an absurd RTT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_request_backwards() {
    let world = World::new().await;
    // Inside the receiver's buffer, ending before it starts.
    let seq = world.last_seq.load(Ordering::Relaxed);
    world.to_connection(0x7, 0, 1, &[seq.wrapping_sub(2), seq.wrapping_sub(15)]);
    world.survives("a backwards drop request").await;
}

macro_rules! connection_attack {
    ($name:ident, $what:literal, $ty:expr, $reserved:expr, $info:expr, $words:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let world = World::new().await;
            world.to_connection($ty, $reserved, $info, &$words);
            world.survives($what).await;
        }
    };
}

connection_attack!(congestion_warning, "a congestion warning", 0x4, 0, 0, [0]);
connection_attack!(peer_error, "a peer error", 0x8, 0, 4000, [0]);
connection_attack!(
    srt_reject_control,
    "an SRT reject control packet",
    0x7fff,
    0,
    0,
    []
);
connection_attack!(
    srt_empty_stream_id,
    "an empty SRT stream id control packet",
    0x7fff,
    5,
    0,
    []
);
connection_attack!(
    srt_group_control,
    "an SRT group control packet",
    0x7fff,
    8,
    0,
    [0x0101_0000]
);
connection_attack!(
    srt_short_group_control,
    "a truncated SRT group control packet",
    0x7fff,
    8,
    0,
    []
);
connection_attack!(
    nak_never_sent,
    "a NAK of never-sent packets",
    0x3,
    0,
    0,
    [0x8000_0000 | 12_345, 2_000_000_000]
);
connection_attack!(
    nak_unterminated,
    "an unterminated NAK range",
    0x3,
    0,
    0,
    [0x8000_0000 | 7]
);
connection_attack!(
    nak_backwards,
    "a backwards NAK range",
    0x3,
    0,
    0,
    [0x8000_0000 | 1_000_000, 5]
);
connection_attack!(
    nak_everything,
    "a NAK of everything",
    0x3,
    0,
    0,
    [0x8000_0000, 0x7fff_ffff]
);
connection_attack!(
    ack_far_future,
    "an ACK of the far future",
    0x2,
    0,
    7,
    [0x7fff_fff0, 0x8000_0000, 0x7fff_ffff, 0, 0, 0, 0]
);
connection_attack!(
    drop_request_everything,
    "a drop request of everything",
    0x7,
    0,
    0,
    [0, 0x7fff_ffff]
);
connection_attack!(
    ack2_unknown,
    "an ACK2 of an unknown ACK",
    0x6,
    0,
    u32::MAX,
    [0]
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage() {
    let world = World::new().await;
    let raw = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    for garbage in [
        vec![],
        vec![0x80],
        vec![0xff; 16],
        vec![
            0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,
        ],
        (0..200u8).collect(),
    ] {
        raw.send_to(&garbage, world.listener).await.unwrap();
    }
    world.survives("garbage").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn induction_with_extensions() {
    let world = World::new().await;
    let raw = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let mut induction = handshake(
        ShakeType::Induction,
        0,
        11,
        HandshakeVsInfo::V4(SocketType::Datagram),
    );
    induction[16..20].copy_from_slice(&5u32.to_be_bytes());
    induction.extend(string_extension(5, "x"));
    induction.extend(string_extension(7, "fec:cols"));
    raw.send_to(&induction, world.listener).await.unwrap();
    world.survives("an induction with extensions").await;
}

/// A conclusion (after a real induction, with the listener's cookie) carrying `extra`
/// extension blocks after a stream id. (The parser only reads a block header while more
/// than four bytes remain, hence the trailing padding word after the empty blocks.) With
/// `refused`, the listener must answer with that rejection.
async fn conclusion_with(extra: &[u8], what: &str, refused: Option<CoreRejectReason>) {
    let world = World::new().await;
    let (socket, cookie) = induction(world.listener, 20).await;
    let mut conclusion = handshake(
        ShakeType::Conclusion,
        cookie,
        20,
        hsv5("ext", KeySize::Unspecified, None),
    );
    conclusion.extend(extra);
    socket.send_to(&conclusion, world.listener).await.unwrap();
    if let Some(reason) = refused {
        let mut buf = [0u8; 2048];
        loop {
            let (n, _) = timeout(Duration::from_secs(3), socket.recv_from(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("{what}: no rejection"))
                .unwrap();
            if let Ok(Packet::Control(ControlPacket {
                control_type: ControlTypes::Handshake(hs),
                ..
            })) = Packet::parse(&mut &buf[..n], false)
                && let ShakeType::Rejection(r) = hs.shake_type
            {
                assert_eq!(r, RejectReason::Core(reason), "{what}");
                break;
            }
        }
    }
    world.survives(what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conclusion_with_file_congestion_and_filter_extensions() {
    let extra = [
        string_extension(6, "file"),
        string_extension(7, "fec,cols:10,rows:5"),
    ]
    .concat();
    let what = "file congestion and packet-filter extensions";
    conclusion_with(&extra, what, Some(CoreRejectReason::Congestion)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conclusion_with_live_congestion_and_filter_extensions() {
    let extra = [
        string_extension(6, "live"),
        string_extension(7, "fec,cols:10,rows:5"),
    ]
    .concat();
    let what = "live congestion and a packet-filter extension";
    conclusion_with(&extra, what, Some(CoreRejectReason::Filter)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conclusion_with_group_extension() {
    let what = "a group extension";
    conclusion_with(
        &[0, 8, 0, 1, 1, 0, 0, 0],
        what,
        Some(CoreRejectReason::Group),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conclusion_with_truncated_group_extension() {
    conclusion_with(
        &[0, 8, 0, 0, 0, 0, 0, 0],
        "a truncated group extension",
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conclusion_with_empty_stream_id() {
    conclusion_with(
        &[0, 5, 0, 0, 0, 0, 0, 0],
        "an empty stream id extension",
        None,
    )
    .await;
}

/// A conclusion with key material to the (unencrypted) listener, its handshake naming
/// AES-256 while the material is AES-128.
async fn conclusion_with_key_material(
    km: fn(KeyingMaterialMessage) -> SrtControlPacket,
    what: &str,
) {
    let world = World::new().await;
    let key_material = CipherSettings::new_random(
        &KeySettings {
            key_size: KeySize::AES128,
            passphrase: "a passphrase!".into(),
        },
        &KeyMaterialRefreshSettings::default(),
    )
    .wrap_keying_material()
    .unwrap();
    let (socket, cookie) = induction(world.listener, 30).await;
    let conclusion = handshake(
        ShakeType::Conclusion,
        cookie,
        30,
        hsv5("km", KeySize::AES256, Some(km(key_material))),
    );
    socket.send_to(&conclusion, world.listener).await.unwrap();
    world.survives(what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmreq_with_wrong_key_size() {
    conclusion_with_key_material(
        SrtControlPacket::KeyRefreshRequest,
        "a KMREQ with a wrong key size",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmrsp_in_a_conclusion() {
    conclusion_with_key_material(
        SrtControlPacket::KeyRefreshResponse,
        "a KMRSP in a conclusion",
    )
    .await;
}
