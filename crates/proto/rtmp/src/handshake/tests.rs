use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Runs a client and a server handshake against each other, delivering bytes in pieces of
/// `step`. Returns both, finished.
fn run(mode: HandshakeMode, step: usize) -> (ClientHandshake, ServerHandshake) {
    let mut client = ClientHandshake::new(mode, 0, &mut rng(1));
    let mut server = ServerHandshake::new(0, &mut rng(2));
    let mut to_server = BytesMut::new();
    client.start(&mut to_server);
    let mut to_client = BytesMut::new();
    for _ in 0..10_000 {
        if client.is_done() && server.is_done() {
            break;
        }
        let n = step.min(to_server.len());
        let chunk = to_server.split_to(n);
        if !chunk.is_empty() {
            server.handle_input(&chunk, &mut to_client).unwrap();
        }
        let n = step.min(to_client.len());
        let chunk = to_client.split_to(n);
        if !chunk.is_empty() {
            client.handle_input(&chunk, &mut to_server).unwrap();
        }
    }
    assert!(client.is_done() && server.is_done());
    assert!(to_server.is_empty() && to_client.is_empty());
    (client, server)
}

#[test]
fn keys_are_the_published_constants() {
    assert_eq!(&FLASH_PLAYER_KEY[..30], b"Genuine Adobe Flash Player 001");
    assert_eq!(
        &FLASH_MEDIA_SERVER_KEY[..36],
        b"Genuine Adobe Flash Media Server 001"
    );
    assert_eq!(FLASH_PLAYER_KEY[30..], FLASH_MEDIA_SERVER_KEY[36..]);
    assert_eq!(FLASH_PLAYER_KEY[30], 0xF0);
    assert_eq!(FLASH_PLAYER_KEY[61], 0xAE);
}

#[test]
fn digest_vectors_match_an_independent_implementation() {
    // C1 = (i*7+3) mod 256 with time 0 and version 9.0.124.2; digests computed with
    // Python's hmac/hashlib from the published key bytes.
    let mut c1: Vec<u8> = (0..HANDSHAKE_SIZE).map(|i| (i * 7 + 3) as u8).collect();
    c1[..4].fill(0);
    c1[4..8].copy_from_slice(&[9, 0, 124, 2]);
    let key = &FLASH_PLAYER_KEY[..30];
    assert_eq!(digest_offset(&c1, DigestScheme::Scheme0), 290);
    assert_eq!(digest_offset(&c1, DigestScheme::Scheme1), 942);
    let d0 = packet_digest(&c1, 290, key);
    assert_eq!(
        hex(&d0),
        "612af37c38c4a1b74e5737fc4021ded17ed92a9431c19bc665cf421131bad8a6"
    );
    assert_eq!(
        hex(&packet_digest(&c1, 942, key)),
        "e6a7fbdda4aab503b4e693e92d6f18d9d4b89f3ef0e95fffe767a4830aa37109"
    );
    // S2 signature keyed from that digest with the full server key.
    let s2_key = hmac(&FLASH_MEDIA_SERVER_KEY, &[&d0]);
    let s2: Vec<u8> = (0..1504).map(|i| (i * 13 + 5) as u8).collect();
    assert_eq!(
        hex(&hmac(&s2_key, &[&s2])),
        "21eb68d3452b5d3201ef461b0870023a878d440a1806c32e2b2845d532b6714c"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn plain_handshake_echoes() {
    let mut client = ClientHandshake::new(HandshakeMode::Plain, 77, &mut rng(1));
    let mut c0c1 = BytesMut::new();
    client.start(&mut c0c1);
    assert_eq!(c0c1[0], 3);
    assert_eq!(&c0c1[1..5], &77u32.to_be_bytes());
    assert_eq!(&c0c1[5..9], &[0, 0, 0, 0]);

    let mut server = ServerHandshake::new(5, &mut rng(2));
    let mut s = BytesMut::new();
    assert_eq!(
        server.handle_input(&c0c1, &mut s),
        Ok(HandshakeProgress::InProgress)
    );
    assert_eq!(server.client_scheme(), None);
    assert_eq!(s.len(), 1 + 2 * HANDSHAKE_SIZE);
    assert_eq!(&s[1..5], &5u32.to_be_bytes());
    assert_eq!(&s[5..9], &[0, 0, 0, 0]);
    assert_eq!(&s[1 + HANDSHAKE_SIZE..], &c0c1[1..], "S2 echoes C1");

    let mut c2 = BytesMut::new();
    assert_eq!(
        client.handle_input(&s, &mut c2),
        Ok(HandshakeProgress::Done { consumed: s.len() })
    );
    assert_eq!(&c2[..], &s[1..1 + HANDSHAKE_SIZE], "C2 echoes S1");
    assert_eq!(client.server_verified(), None);
}

#[test]
fn digest_handshake_verifies_both_ways() {
    for step in [1, 100, 1537, 5000] {
        let (client, server) = run(HandshakeMode::Digest, step);
        assert_eq!(server.client_scheme(), Some(DigestScheme::Scheme0));
        assert_eq!(client.server_verified(), Some(true), "step {step}");
    }
    let (client, server) = run(HandshakeMode::Plain, 700);
    assert_eq!(server.client_scheme(), None);
    assert_eq!(client.server_verified(), None);
}

/// A C1 with a valid client digest under `scheme`.
fn digest_c1(scheme: DigestScheme, seed: u64) -> Vec<u8> {
    let mut c1 = vec![0u8; HANDSHAKE_SIZE];
    rng(seed).fill_bytes(&mut c1);
    c1[4..8].copy_from_slice(&[10, 0, 32, 18]);
    write_digest(&mut c1, scheme, &FLASH_PLAYER_KEY[..30]);
    c1
}

#[test]
fn server_answers_both_digest_schemes_verifiably() {
    for (scheme, seed) in [(DigestScheme::Scheme0, 3), (DigestScheme::Scheme1, 4)] {
        let c1 = digest_c1(scheme, seed);
        let c1_offset = digest_offset(&c1, scheme);
        let mut server = ServerHandshake::new(0, &mut rng(9));
        let mut out = BytesMut::new();
        let mut input = vec![3];
        input.extend_from_slice(&c1);
        server.handle_input(&input, &mut out).unwrap();
        assert_eq!(server.client_scheme(), Some(scheme));

        // S1 carries a digest librtmp and ffmpeg accept: keyed with the 36-byte server key.
        let s1 = &out[1..1 + HANDSHAKE_SIZE];
        assert_ne!(&s1[4..8], &[0, 0, 0, 0]);
        let (found, offset) = find_digest(s1, &FLASH_MEDIA_SERVER_KEY[..36]).expect("S1 digest");
        assert_eq!(found, scheme, "answered in the client's scheme");
        assert_eq!(offset, digest_offset(s1, scheme));

        // S2's last 32 bytes: HMAC(HMAC(full server key, C1 digest), S2[..1504]).
        let s2 = &out[1 + HANDSHAKE_SIZE..];
        let key = hmac(&FLASH_MEDIA_SERVER_KEY, &[&c1[c1_offset..c1_offset + 32]]);
        assert_eq!(hmac(&key, &[&s2[..1504]])[..], s2[1504..]);
    }
}

#[test]
fn invalid_digest_falls_back_to_plain_echo() {
    let mut c1 = digest_c1(DigestScheme::Scheme0, 5);
    let offset = digest_offset(&c1, DigestScheme::Scheme0);
    c1[offset] ^= 0xFF; // corrupt the digest
    let mut server = ServerHandshake::new(0, &mut rng(9));
    let mut out = BytesMut::new();
    let mut input = vec![3];
    input.extend_from_slice(&c1);
    server.handle_input(&input, &mut out).unwrap();
    assert_eq!(server.client_scheme(), None);
    assert_eq!(&out[5..9], &[0, 0, 0, 0], "plain S1");
    assert_eq!(&out[1 + HANDSHAKE_SIZE..], &c1[..], "S2 echoes C1");
}

#[test]
fn client_accepts_a_plain_server_in_digest_mode() {
    let mut client = ClientHandshake::new(HandshakeMode::Digest, 0, &mut rng(1));
    let mut c0c1 = BytesMut::new();
    client.start(&mut c0c1);
    // A plain server: zero version bytes, S2 echoing C1.
    let mut s = vec![3];
    s.extend_from_slice(&[0u8; HANDSHAKE_SIZE]);
    s.extend_from_slice(&c0c1[1..]);
    let mut c2 = BytesMut::new();
    assert_eq!(
        client.handle_input(&s, &mut c2),
        Ok(HandshakeProgress::Done { consumed: s.len() })
    );
    assert_eq!(&c2[..], &s[1..1 + HANDSHAKE_SIZE], "C2 echoes S1");
    assert_eq!(client.server_verified(), Some(false));
}

#[test]
fn bytes_after_the_handshake_are_left_for_the_chunk_stream() {
    let mut client = ClientHandshake::new(HandshakeMode::Digest, 0, &mut rng(1));
    let mut server = ServerHandshake::new(0, &mut rng(2));
    let mut c0c1 = BytesMut::new();
    client.start(&mut c0c1);
    let mut s = BytesMut::new();
    server.handle_input(&c0c1, &mut s).unwrap();
    // Server's S0S1S2 plus 3 bytes of chunk stream in one read.
    s.extend_from_slice(b"abc");
    let mut c2 = BytesMut::new();
    let progress = client.handle_input(&s, &mut c2).unwrap();
    assert_eq!(
        progress,
        HandshakeProgress::Done {
            consumed: 1 + 2 * HANDSHAKE_SIZE
        }
    );
    // Client's C2 plus the connect command in one write.
    c2.extend_from_slice(b"xyz");
    let mut none = BytesMut::new();
    // Delivered in two pieces: the second holds the end of C2 and the extra bytes.
    assert_eq!(
        server.handle_input(&c2[..1000], &mut none),
        Ok(HandshakeProgress::InProgress)
    );
    assert_eq!(
        server.handle_input(&c2[1000..], &mut none),
        Ok(HandshakeProgress::Done { consumed: 536 })
    );
    assert!(none.is_empty());
    assert_eq!(&c2[1000 + 536..], b"xyz");
}

#[test]
fn wrong_versions_are_refused() {
    let mut server = ServerHandshake::new(0, &mut rng(2));
    let mut out = BytesMut::new();
    let mut c0c1 = vec![6u8]; // RTMPE
    c0c1.extend_from_slice(&[0u8; HANDSHAKE_SIZE]);
    assert_eq!(
        server.handle_input(&c0c1, &mut out),
        Err(HandshakeError::UnsupportedVersion(6))
    );
    let mut client = ClientHandshake::new(HandshakeMode::Plain, 0, &mut rng(1));
    assert_eq!(
        client.handle_input(&c0c1, &mut out),
        Err(HandshakeError::UnsupportedVersion(6))
    );
}
