//! Chunk stream decoding of arbitrary bytes, fed in two pieces: never a panic, never a message
//! larger than the limit, every byte accounted for.
#![no_main]

use baton_rtmp::chunk::{ChunkDecoder, ChunkLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = ChunkLimits::with_max_message_size(64 * 1024);
    let max = limits.max_message_size;
    let mut decoder = ChunkDecoder::new(limits);
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    for piece in [&data[..split], &data[split..]] {
        decoder.push(piece);
        loop {
            match decoder.poll_message() {
                Ok(Some(message)) => assert!(message.payload.len() <= max),
                Ok(None) | Err(_) => break,
            }
        }
    }
    assert_eq!(decoder.bytes_received(), data.len() as u64);
});
