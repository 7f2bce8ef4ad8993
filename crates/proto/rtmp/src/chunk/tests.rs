use super::*;
use bytes::BytesMut;
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Msg {
    csid: u32,
    timestamp: u32,
    type_id: u8,
    stream_id: u32,
    payload: Vec<u8>,
}

fn msg(csid: u32, timestamp: u32, type_id: u8, stream_id: u32, len: usize) -> Msg {
    Msg {
        csid,
        timestamp,
        type_id,
        stream_id,
        payload: (0..len).map(|i| (i * 31 + csid as usize) as u8).collect(),
    }
}

fn encode_all(chunk_size: u32, msgs: &[Msg]) -> BytesMut {
    let mut enc = ChunkEncoder::new();
    enc.set_chunk_size(chunk_size).unwrap();
    let mut out = BytesMut::new();
    for m in msgs {
        enc.encode(
            m.csid,
            m.timestamp,
            m.type_id,
            m.stream_id,
            &m.payload,
            &mut out,
        );
    }
    out
}

fn decoder(chunk_size: u32) -> ChunkDecoder {
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    dec.set_chunk_size(chunk_size).unwrap();
    dec
}

fn drain(dec: &mut ChunkDecoder, got: &mut Vec<Msg>) {
    while let Some(m) = dec.poll_message().expect("valid stream") {
        got.push(Msg {
            csid: m.csid,
            timestamp: m.timestamp,
            type_id: m.type_id,
            stream_id: m.stream_id,
            payload: m.payload.to_vec(),
        });
    }
}

/// Feeds `bytes` cut at `cuts` (positions), returning the decoded messages.
fn decode_split(chunk_size: u32, bytes: &[u8], cuts: &[usize]) -> Vec<Msg> {
    let mut dec = decoder(chunk_size);
    let mut got = Vec::new();
    let mut start = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    cuts.sort_unstable();
    for cut in cuts.into_iter().chain([bytes.len()]) {
        dec.push(&bytes[start..cut.max(start)]);
        start = cut.max(start);
        drain(&mut dec, &mut got);
    }
    assert_eq!(dec.buffered(), 0, "bytes left over");
    assert_eq!(dec.bytes_received(), bytes.len() as u64);
    got
}

/// A mix of chunk streams (1-, 2- and 3-byte basic headers), types, stream ids, sizes and
/// timestamps around 0xFFFFFF and 2^32.
fn mixed_messages() -> Vec<Msg> {
    vec![
        msg(2, 0, 1, 0, 4),
        msg(3, 0, 20, 0, 200),
        msg(4, 1000, 8, 1, 7),
        msg(4, 1023, 8, 1, 7),   // fmt 2
        msg(4, 1046, 8, 1, 7),   // fmt 3 (same delta)
        msg(5, 1000, 9, 1, 900), // multi-chunk
        msg(4, 1069, 8, 1, 9),   // fmt 1
        msg(64, 5, 18, 1, 130),
        msg(319, 0xFF_FFFE, 9, 1, 300),
        msg(319, 0xFF_FFFF, 9, 1, 300), // delta 1, field not extended
        msg(320, 0xFF_FFFF, 9, 1, 300), // fmt 0 with the extended field
        msg(320, 0x0100_0000, 9, 1, 300),
        msg(320, 0x0200_0000, 9, 1, 300), // delta 0xFFFFFF: extended delta, fmt 2
        msg(320, 0x0300_0000, 9, 1, 300), // fmt 3 with extended delta on every chunk
        msg(65599, u32::MAX - 5, 8, 7, 260),
        msg(65599, 10, 8, 7, 260), // wrapped: fmt 0 absolute
        msg(5, 999, 9, 1, 0),      // backwards, empty
        msg(5, 999, 9, 2, 33),     // other stream id
    ]
}

#[test]
fn round_trip_at_every_small_chunk_size() {
    let msgs = mixed_messages();
    for size in 1..=300 {
        let bytes = encode_all(size, &msgs);
        let got = decode_split(size, &bytes, &[]);
        assert_eq!(got, msgs, "chunk size {size}");
    }
}

#[test]
fn round_trip_one_byte_at_a_time() {
    let msgs = mixed_messages();
    for size in [1, 7, 128, 4096] {
        let bytes = encode_all(size, &msgs);
        let cuts: Vec<usize> = (0..bytes.len()).collect();
        assert_eq!(decode_split(size, &bytes, &cuts), msgs, "chunk size {size}");
    }
}

#[test]
fn continuation_chunks_repeat_the_extended_timestamp() {
    let bytes = encode_all(128, &[msg(3, 0x0100_0000, 9, 1, 200)]);
    // fmt 0 header: csid 3, ts field 0xFFFFFF, len 200, type 9, stream 1 (LE), ext ts.
    assert_eq!(
        &bytes[..16],
        &[
            0x03, 0xFF, 0xFF, 0xFF, 0, 0, 200, 9, 1, 0, 0, 0, 0x01, 0, 0, 0
        ]
    );
    // The continuation: fmt 3 basic header, the extended timestamp again, 72 bytes.
    assert_eq!(&bytes[16 + 128..16 + 128 + 5], &[0xC3, 0x01, 0, 0, 0]);
    assert_eq!(bytes.len(), 16 + 128 + 5 + 72);
}

#[test]
fn header_formats_follow_the_previous_message() {
    let fmt_of = |bytes: &[u8]| bytes[0] >> 6;
    let mut enc = ChunkEncoder::new();
    let mut out = BytesMut::new();
    let mut step = |ts, len, type_id, sid| {
        out.clear();
        enc.encode(4, ts, type_id, sid, &vec![0u8; len], &mut out);
        (fmt_of(&out), out.len())
    };
    assert_eq!(step(100, 10, 8, 1), (0, 12 + 10));
    assert_eq!(step(120, 10, 8, 1), (2, 4 + 10)); // same length/type: delta only
    assert_eq!(step(140, 10, 8, 1), (3, 1 + 10)); // same delta
    assert_eq!(step(160, 10, 8, 1), (3, 1 + 10));
    assert_eq!(step(170, 11, 8, 1), (1, 8 + 11)); // new length
    assert_eq!(step(160, 11, 8, 1), (0, 12 + 11)); // backwards
    assert_eq!(step(160, 11, 8, 1), (2, 4 + 11)); // delta 0 after fmt 0: not fmt 3
    assert_eq!(step(170, 11, 8, 2), (0, 12 + 11)); // other message stream
}

#[test]
fn basic_header_sizes() {
    for (csid, len) in [(2, 1), (63, 1), (64, 2), (319, 2), (320, 3), (65599, 3)] {
        let bytes = encode_all(128, &[msg(csid, 0, 8, 0, 0)]);
        assert_eq!(bytes.len(), len + 11, "csid {csid}");
        assert_eq!(decode_split(128, &bytes, &[])[0].csid, csid);
    }
}

/// Hand-built chunks: `[basic header..., message header..., data...]`.
fn decode_bytes(chunk_size: u32, bytes: &[u8]) -> Result<Vec<RawMessage>, ChunkError> {
    let mut dec = decoder(chunk_size);
    dec.push(bytes);
    let mut out = Vec::new();
    while let Some(m) = dec.poll_message()? {
        out.push(m);
    }
    Ok(out)
}

#[test]
fn fmt3_new_message_reuses_the_last_delta() {
    let bytes = [
        0x04, 0, 0, 100, 0, 0, 1, 8, 1, 0, 0, 0, 0xAA, // fmt 0: ts 100
        0x84, 0, 0, 40, 0xBB, // fmt 2: delta 40 -> 140
        0xC4, 0xCC, // fmt 3 new message: delta 40 again -> 180
    ];
    let got = decode_bytes(128, &bytes).unwrap();
    let ts: Vec<u32> = got.iter().map(|m| m.timestamp).collect();
    assert_eq!(ts, [100, 140, 180]);
    assert_eq!(got[2].payload.as_ref(), &[0xCC]);
}

#[test]
fn fmt3_new_message_after_fmt0_adds_the_fmt0_field() {
    // ffmpeg and SRS read the format 0 field as the delta to reuse (see the decoder docs).
    let bytes = [
        0x04, 0, 0, 100, 0, 0, 1, 8, 1, 0, 0, 0, 0xAA, // fmt 0: ts 100
        0xC4, 0xBB, // fmt 3 new message -> 200
    ];
    let got = decode_bytes(128, &bytes).unwrap();
    assert_eq!(got[1].timestamp, 200);
}

#[test]
fn timestamps_wrap_at_2_pow_32() {
    let bytes = [
        0x04, 0xFF, 0xFF, 0xFF, 0, 0, 1, 8, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xF0,
        0xAA, // ts 2^32-16
        0x84, 0, 0, 0x20, 0xBB, // delta 32 -> 16
    ];
    let got = decode_bytes(128, &bytes).unwrap();
    assert_eq!(got[0].timestamp, 0xFFFF_FFF0);
    assert_eq!(got[1].timestamp, 0x10);
}

#[test]
fn extended_timestamp_may_be_missing_on_continuation_chunks() {
    // A 6-byte message at chunk size 4 with an extended timestamp; the continuation chunk
    // omits the repeated field (some encoders do).
    let mut with = vec![
        0x04, 0xFF, 0xFF, 0xFF, 0, 0, 6, 8, 1, 0, 0, 0, 0x01, 0, 0, 0,
    ];
    with.extend_from_slice(&[1, 2, 3, 4]);
    let mut without = with.clone();
    with.extend_from_slice(&[0xC4, 0x01, 0, 0, 0, 5, 6]);
    without.extend_from_slice(&[0xC4, 5, 6]);
    for bytes in [with, without] {
        let got = decode_bytes(4, &bytes).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].timestamp, 0x0100_0000);
        assert_eq!(got[0].payload.as_ref(), &[1, 2, 3, 4, 5, 6]);
        // Same result when the bytes trickle in.
        let mut dec = decoder(4);
        let mut all = Vec::new();
        for b in &bytes {
            dec.push(&[*b]);
            while let Some(m) = dec.poll_message().unwrap() {
                all.push(m);
            }
        }
        assert_eq!(all, got);
    }
}

#[test]
fn continuation_data_that_looks_like_an_extended_timestamp_prefix() {
    // The continuation chunk omits the extended timestamp and its one data byte (0x01)
    // starts like it; the next chunk's first byte (0x00) does too. Deciding takes bytes
    // beyond the chunk: the same result whole and trickled in.
    let mut bytes = vec![
        0x04, 0xFF, 0xFF, 0xFF, 0, 0, 5, 8, 1, 0, 0, 0, 0x01, 0, 0, 0, 1, 2, 3, 4,
    ];
    bytes.extend_from_slice(&[0xC4, 0x01]);
    bytes.extend_from_slice(&[0x00, 0x05, 0, 0, 1, 0, 0, 2, 8, 1, 0, 0, 0, 9, 9]);
    let whole = decode_bytes(4, &bytes).unwrap();
    assert_eq!(whole.len(), 2);
    assert_eq!(whole[0].payload.as_ref(), &[1, 2, 3, 4, 1]);
    assert_eq!(
        (whole[1].csid, whole[1].payload.as_ref()),
        (69, &[9, 9][..])
    );
    for piece in 1..bytes.len() {
        let mut dec = decoder(4);
        assert_eq!(
            decode_pieces(&mut dec, &bytes, piece),
            whole,
            "pieces of {piece}"
        );
        assert_eq!(dec.buffered(), 0);
    }
}

#[test]
fn full_header_mid_message_with_same_length_continues_it() {
    let bytes = [
        0x04, 0, 0, 10, 0, 0, 4, 8, 1, 0, 0, 0, 1, 2, // fmt 0, 2 of 4 bytes
        0x04, 0, 0, 10, 0, 0, 4, 8, 1, 0, 0, 0, 3, 4, // fmt 0 again, same length
    ];
    let got = decode_bytes(2, &bytes).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload.as_ref(), &[1, 2, 3, 4]);
    // Another length: the partial message is dropped and a new one starts.
    let bytes = [
        0x04, 0, 0, 10, 0, 0, 4, 8, 1, 0, 0, 0, 1, 2, // 2 of 4 bytes
        0x44, 0, 0, 5, 0, 0, 2, 8, 7, 8, // fmt 1: a 2-byte message
    ];
    let got = decode_bytes(2, &bytes).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload.as_ref(), &[7, 8]);
    assert_eq!(got[0].timestamp, 15);
}

#[test]
fn abort_drops_the_partial_message() {
    let mut dec = decoder(2);
    dec.push(&[0x04, 0, 0, 10, 0, 0, 4, 8, 1, 0, 0, 0, 1, 2]);
    assert_eq!(dec.poll_message().unwrap(), None);
    dec.abort(4);
    // A fmt 3 chunk now starts a new message (same header fields).
    dec.push(&[0xC4, 5, 6, 0xC4, 7, 8]);
    let m = dec.poll_message().unwrap().unwrap();
    assert_eq!(m.payload.as_ref(), &[5, 6, 7, 8]);
    assert_eq!(m.timestamp, 20); // 10 + the fmt 0 field, as for any fmt 3 message start
}

#[test]
fn empty_messages_are_delivered() {
    let got = decode_bytes(128, &[0x04, 0, 0, 1, 0, 0, 0, 8, 1, 0, 0, 0]).unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].payload.is_empty());
}

#[test]
fn invalid_chunk_sizes_are_errors() {
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    assert_eq!(dec.set_chunk_size(0), Err(ChunkError::InvalidChunkSize(0)));
    assert_eq!(
        dec.set_chunk_size(0x8000_0000),
        Err(ChunkError::InvalidChunkSize(0x8000_0000))
    );
    assert_eq!(dec.set_chunk_size(MAX_CHUNK_SIZE), Ok(()));
    let mut enc = ChunkEncoder::new();
    assert!(enc.set_chunk_size(0).is_err());
    assert_eq!(enc.chunk_size(), DEFAULT_CHUNK_SIZE);
}

#[test]
fn limits_are_errors_naming_the_cause() {
    // Declared length beyond the limit, before any payload arrives.
    let mut dec = ChunkDecoder::new(ChunkLimits::with_max_message_size(1000));
    dec.push(&[0x04, 0, 0, 0, 0, 0x03, 0xE9, 8, 1, 0, 0, 0]);
    assert_eq!(
        dec.poll_message(),
        Err(ChunkError::MessageTooLarge {
            csid: 4,
            length: 1001,
            limit: 1000
        })
    );

    assert_eq!(
        decode_bytes(128, &[0x44, 0, 0, 0, 0, 0, 1, 8, 0]),
        Err(ChunkError::MissingHeader { csid: 4, fmt: 1 })
    );

    // Many chunk streams, each with a message in flight.
    let limits = ChunkLimits::default();
    let mut bytes = Vec::new();
    for csid in 2..(2 + limits.max_partial_messages as u8 + 1) {
        bytes.extend_from_slice(&[csid, 0, 0, 0, 0, 0, 10, 8, 1, 0, 0, 0, 0]);
    }
    assert_eq!(
        decode_bytes(1, &bytes),
        Err(ChunkError::TooManyPartialMessages {
            limit: limits.max_partial_messages
        })
    );

    // Many chunk streams with complete (empty) messages (3-byte basic headers).
    let mut bytes = Vec::new();
    for id in 0..(limits.max_chunk_streams as u16 + 1) {
        let [lo, hi] = id.to_le_bytes();
        bytes.extend_from_slice(&[1, lo, hi, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0]);
    }
    let mut dec = decoder(128);
    dec.push(&bytes);
    let err = loop {
        match dec.poll_message() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the chunk stream limit must be hit"),
            Err(e) => break e,
        }
    };
    assert_eq!(
        err,
        ChunkError::TooManyChunkStreams {
            limit: limits.max_chunk_streams
        }
    );

    // Partial messages whose buffers together exceed the budget.
    let limits = ChunkLimits {
        max_partial_bytes: 10_000,
        ..ChunkLimits::default()
    };
    let mut dec = ChunkDecoder::new(limits);
    dec.set_chunk_size(4000).unwrap();
    let mut bytes = Vec::new();
    for csid in 2..6u8 {
        bytes.extend_from_slice(&[csid, 0, 0, 0, 0, 0x27, 0x10, 8, 1, 0, 0, 0]); // 10 000 bytes
        bytes.extend(std::iter::repeat_n(0u8, 4000));
    }
    dec.push(&bytes);
    let err = match dec.poll_message() {
        Ok(Some(_)) => panic!("no message is complete"),
        Ok(None) => panic!("the budget must run out"),
        Err(e) => e,
    };
    assert_eq!(err, ChunkError::PartialBytesExceeded { limit: 10_000 });
}

#[test]
fn message_buffers_grow_with_received_data_only() {
    // An 8 MiB message announced, 10 bytes sent: nothing near 8 MiB is reserved.
    let mut dec = decoder(10);
    dec.push(&[0x04, 0, 0, 0, 0x7F, 0xFF, 0xFF, 9, 1, 0, 0, 0]);
    dec.push(&[0u8; 10]);
    assert_eq!(dec.poll_message().unwrap(), None);
    assert!(
        dec.partial_bytes() <= 4096,
        "{} bytes reserved",
        dec.partial_bytes()
    );
}

/// Decodes `bytes` pushed in pieces of `piece` bytes, keeping the decoder alive.
fn decode_pieces(dec: &mut ChunkDecoder, bytes: &[u8], piece: usize) -> Vec<RawMessage> {
    let mut got = Vec::new();
    for p in bytes.chunks(piece.max(1)) {
        dec.push(p);
        while let Some(m) = dec.poll_message().unwrap() {
            got.push(m);
        }
    }
    got
}

#[test]
fn payloads_own_exact_size_allocations() {
    // Single- and multi-chunk messages, whole or in pieces: no payload shares an allocation
    // with the decoder's input or with another payload, and none carries spare capacity, so
    // a small frame kept alive pins only its own bytes.
    let msgs = [
        msg(4, 0, 8, 1, 300),
        msg(6, 0, 9, 1, 9000),
        msg(4, 21, 8, 1, 310),
        msg(6, 33, 9, 1, 6000),
        msg(6, 66, 9, 1, 40),
    ];
    let bytes = encode_all(4096, &msgs);
    for piece in [bytes.len(), 1000, 7, 1] {
        let mut dec = decoder(4096);
        let got = decode_pieces(&mut dec, &bytes, piece);
        assert_eq!(got.len(), msgs.len());
        for (m, want) in got.into_iter().zip(&msgs) {
            assert_eq!(m.payload, want.payload);
            assert!(m.payload.is_unique(), "piece {piece}: shared payload");
            let owned = BytesMut::from(m.payload);
            assert_eq!(owned.capacity(), owned.len(), "piece {piece}");
        }
    }
}

#[test]
fn a_big_message_leaves_nothing_behind() {
    // A 1 MiB message, then small ones: once they are polled, the decoder holds a few
    // hundred bytes, not the big message's buffer or a block of input.
    let mut msgs = vec![msg(6, 0, 9, 1, 1 << 20)];
    msgs.extend((1..100).map(|i| msg(4, i * 21, 8, 1, 300)));
    for chunk_size in [128, 4096] {
        let bytes = encode_all(chunk_size, &msgs);
        let mut dec = decoder(chunk_size);
        let got = decode_pieces(&mut dec, &bytes, 16 * 1024);
        assert_eq!(got.len(), msgs.len());
        assert_eq!(dec.partial_bytes(), 0);
        assert_eq!(dec.buffered(), 0);
        assert!(dec.allocated() <= 1024, "{} bytes held", dec.allocated());
    }
}

#[test]
fn a_message_in_flight_is_buffered_by_what_arrived() {
    // 1 MiB declared; after 64 KiB of it (in 4 KiB pushes) the buffer is within twice that.
    let bytes = encode_all(4096, &[msg(6, 0, 9, 1, 1 << 20)]);
    let mut dec = decoder(4096);
    let got = decode_pieces(&mut dec, &bytes[..64 * 1024], 4096);
    assert!(got.is_empty());
    assert!(
        (60 * 1024..=128 * 1024).contains(&dec.partial_bytes()),
        "{} bytes reserved",
        dec.partial_bytes()
    );
}

#[test]
fn set_chunk_size_applies_to_the_chunks_after_it_in_the_same_push() {
    // Set Chunk Size 4096, then a 1000-byte message in one chunk of the new size, in one
    // push: the decoder waits for the caller to apply the new size before parsing on.
    let mut enc = ChunkEncoder::new();
    let mut bytes = BytesMut::new();
    enc.encode(2, 0, 1, 0, &4096u32.to_be_bytes(), &mut bytes);
    enc.set_chunk_size(4096).unwrap();
    enc.encode(6, 0, 9, 1, &[7; 1000], &mut bytes);
    enc.encode(6, 40, 9, 1, &[8; 1000], &mut bytes);
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    dec.push(&bytes);
    let first = dec.poll_message().unwrap().unwrap();
    assert_eq!(
        (first.type_id, first.payload.as_ref()),
        (1, &[0, 0, 16, 0][..])
    );
    dec.set_chunk_size(4096).unwrap();
    let second = dec.poll_message().unwrap().unwrap();
    assert_eq!(second.payload.as_ref(), &[7; 1000]);
    let third = dec.poll_message().unwrap().unwrap();
    assert_eq!(
        (third.timestamp, third.payload.as_ref()),
        (40, &[8; 1000][..])
    );
    assert_eq!(dec.poll_message().unwrap(), None);
    assert_eq!(dec.buffered(), 0);
}

#[test]
fn abort_message_applies_to_the_chunks_after_it_in_the_same_push() {
    let bytes = [
        0x04, 0, 0, 10, 0, 0, 6, 8, 1, 0, 0, 0, 1, 2, 3, 4, // 4 of 6 bytes on csid 4
        0x02, 0, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 4, // Abort Message (csid 4)
        0xC4, 5, 6, 7, 8, 0xC4, 9, 10, // a new message on csid 4
    ];
    let mut dec = decoder(4);
    dec.push(&bytes);
    let abort = dec.poll_message().unwrap().unwrap();
    assert_eq!(abort.type_id, 2);
    dec.abort(4);
    let m = dec.poll_message().unwrap().unwrap();
    assert_eq!(m.payload.as_ref(), &[5, 6, 7, 8, 9, 10]);
    assert_eq!(dec.partial_bytes(), 0);
}

#[test]
fn abort_inside_a_chunk_skips_the_rest_of_it() {
    let mut dec = decoder(4);
    dec.push(&[0x04, 0, 0, 10, 0, 0, 6, 8, 1, 0, 0, 0, 1, 2]); // 2 of a 4-byte chunk
    assert_eq!(dec.poll_message().unwrap(), None);
    dec.abort(4);
    assert_eq!(dec.partial_bytes(), 0);
    dec.push(&[3, 4, 0x44, 0, 0, 5, 0, 0, 2, 8, 9, 9]); // rest of the chunk, a new message
    let m = dec.poll_message().unwrap().unwrap();
    assert_eq!((m.timestamp, m.payload.as_ref()), (15, &[9, 9][..]));
}

fn arb_msg() -> impl Strategy<Value = Msg> {
    (
        prop_oneof![2u32..10, 2u32..=65599],
        any::<u32>(),
        prop_oneof![Just(8u8), Just(9), Just(18), Just(20), any::<u8>()],
        prop_oneof![Just(0u32), Just(1), any::<u32>()],
        prop::collection::vec(any::<u8>(), 0..3000),
    )
        .prop_map(|(csid, timestamp, type_id, stream_id, payload)| Msg {
            csid,
            timestamp,
            type_id,
            stream_id,
            payload,
        })
}

/// Timestamps that mostly advance by small deltas (so formats 1-3 get exercised), with
/// occasional jumps across 0xFFFFFF and 2^32.
fn arb_stream() -> impl Strategy<Value = Vec<Msg>> {
    prop::collection::vec((arb_msg(), 0u32..3, any::<bool>()), 1..24).prop_map(|items| {
        let mut ts = 0xFF_FF00u32;
        items
            .into_iter()
            .map(|(mut m, step, jump)| {
                ts = if jump {
                    m.timestamp
                } else {
                    ts.wrapping_add(step * 20)
                };
                m.timestamp = ts;
                m.csid = 2 + m.csid % 6 * if m.csid > 1000 { 10_000 } else { 1 };
                m
            })
            .collect()
    })
}

/// Decodes `bytes` pushed in the pieces `cuts` delimit, reacting to Set Chunk Size and
/// Abort messages as a session does; stops at the first error.
fn decode_reacting(chunk_size: u32, bytes: &[u8], cuts: &[usize]) -> Vec<Result<Msg, ChunkError>> {
    let limits = ChunkLimits {
        max_message_size: 64 * 1024,
        max_partial_bytes: 4 << 20, // never the limit here: buffer growth depends on pieces
        ..ChunkLimits::default()
    };
    let mut dec = ChunkDecoder::new(limits);
    dec.set_chunk_size(chunk_size).unwrap();
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        dec.push(&bytes[start..cut]);
        start = cut;
        loop {
            let m = match dec.poll_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            };
            let arg = m
                .payload
                .get(..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            match (m.type_id, arg) {
                (1, Some(size)) => {
                    if let Err(e) = dec.set_chunk_size(size) {
                        out.push(Err(e));
                        return out;
                    }
                }
                (2, Some(csid)) => dec.abort(csid),
                _ => {}
            }
            out.push(Ok(Msg {
                csid: m.csid,
                timestamp: m.timestamp,
                type_id: m.type_id,
                stream_id: m.stream_id,
                payload: m.payload.to_vec(),
            }));
        }
    }
    out
}

/// Valid chunk streams with Set Chunk Size and Abort messages and extended timestamps, with
/// a few bytes overwritten.
fn arb_wire() -> impl Strategy<Value = (u32, Vec<u8>)> {
    (
        1u32..300,
        arb_stream(),
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
    )
        .prop_map(|(chunk_size, msgs, damage)| {
            let mut enc = ChunkEncoder::new();
            enc.set_chunk_size(chunk_size).unwrap();
            let mut out = BytesMut::new();
            for (i, m) in msgs.iter().enumerate() {
                let m = Msg {
                    payload: m.payload[..m.payload.len().min(400)].to_vec(),
                    ..m.clone()
                };
                enc.encode(
                    m.csid,
                    m.timestamp,
                    m.type_id,
                    m.stream_id,
                    &m.payload,
                    &mut out,
                );
                if i % 5 == 4 {
                    let size = 1 + (m.timestamp % 200);
                    enc.encode(2, 0, 1, 0, &size.to_be_bytes(), &mut out);
                    enc.set_chunk_size(size).unwrap();
                } else if i % 7 == 6 {
                    enc.encode(2, 0, 2, 0, &m.csid.to_be_bytes(), &mut out);
                }
            }
            let mut bytes = out.to_vec();
            for (at, byte) in damage {
                if !bytes.is_empty() {
                    let len = bytes.len();
                    bytes[at % len] = byte;
                }
            }
            (chunk_size, bytes)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Streaming is invisible: any bytes, valid or damaged, decode to the same messages and
    /// the same error whole or cut anywhere.
    #[test]
    fn pieces_decode_like_the_whole(
        (chunk_size, bytes) in prop_oneof![
            arb_wire(),
            (1u32..300, prop::collection::vec(any::<u8>(), 0..600)),
        ],
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = decode_reacting(chunk_size, &bytes, &[]);
        prop_assert_eq!(decode_reacting(chunk_size, &bytes, &cuts), whole);
    }

    #[test]
    fn round_trip_random_chunk_sizes(
        chunk_size in prop_oneof![1u32..=300, 1u32..=65536],
        msgs in arb_stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let bytes = encode_all(chunk_size, &msgs);
        let cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        prop_assert_eq!(decode_split(chunk_size, &bytes, &cuts), msgs);
    }

    #[test]
    fn garbage_never_panics(
        chunk_size in 1u32..512,
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut dec = ChunkDecoder::new(ChunkLimits::with_max_message_size(64 * 1024));
        dec.set_chunk_size(chunk_size).unwrap();
        dec.push(&bytes);
        for _ in 0..bytes.len() + 1 {
            match dec.poll_message() {
                Ok(Some(m)) => prop_assert!(m.payload.len() <= 64 * 1024),
                Ok(None) | Err(_) => break,
            }
        }
    }
}
