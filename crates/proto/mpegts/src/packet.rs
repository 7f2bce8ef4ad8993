//! TS packets (ISO/IEC 13818-1 2.4.3.2): the header and adaptation field, the continuity
//! counter rule, and finding packet sync in a byte stream.

use crate::{PACKET_LEN, SYNC_BYTE};

/// Sync is (re)acquired where this many sync bytes repeat at a 188-byte stride.
pub(crate) const SYNC_CONFIRM: usize = 3;

/// The fields of a packet header (2.4.3.2) and adaptation field (2.4.3.4) the demuxer uses.
pub(crate) struct Packet<'a> {
    pub(crate) pid: u16,
    pub(crate) pusi: bool,
    pub(crate) scrambled: bool,
    pub(crate) cc: u8,
    pub(crate) has_payload: bool,
    pub(crate) discontinuity: bool,
    pub(crate) random_access: bool,
    pub(crate) payload: &'a [u8],
}

pub(crate) enum Continuity {
    Next,
    /// A repeated packet (2.4.3.3 allows one duplicate): ignore it.
    Duplicate,
    Lost {
        expected: u8,
        found: u8,
    },
}

/// The continuity_counter rule (2.4.3.3): it counts packets with payload; packets without
/// payload repeat it; a discontinuity_indicator allows any value.
pub(crate) fn continuity(last: &mut Option<u8>, packet: &Packet<'_>) -> Continuity {
    let previous = *last;
    if packet.discontinuity {
        *last = Some(packet.cc);
        return Continuity::Next;
    }
    let Some(previous) = previous else {
        *last = Some(packet.cc);
        return Continuity::Next;
    };
    if !packet.has_payload {
        return if packet.cc == previous {
            Continuity::Next
        } else {
            *last = Some(packet.cc);
            Continuity::Lost {
                expected: previous,
                found: packet.cc,
            }
        };
    }
    let expected = (previous + 1) & 0x0f;
    if packet.cc == expected {
        *last = Some(packet.cc);
        Continuity::Next
    } else if packet.cc == previous {
        Continuity::Duplicate
    } else {
        *last = Some(packet.cc);
        Continuity::Lost {
            expected,
            found: packet.cc,
        }
    }
}

/// Parses a packet's header and adaptation field. `None` for an adaptation field longer than
/// the packet (the packet is ignored; counters catch what that loses).
pub(crate) fn parse_packet(raw: &[u8; PACKET_LEN]) -> Option<Packet<'_>> {
    let pusi = raw[1] & 0x40 != 0;
    let pid = u16::from_be_bytes([raw[1], raw[2]]) & 0x1fff;
    let scrambled = raw[3] >> 6 != 0;
    let control = (raw[3] >> 4) & 0x03;
    let cc = raw[3] & 0x0f;
    let mut payload_start = 4;
    let (mut discontinuity, mut random_access) = (false, false);
    if control & 0x02 != 0 {
        let len = usize::from(raw[4]);
        if let Some(&flags) = raw.get(5).filter(|_| len > 0) {
            discontinuity = flags & 0x80 != 0;
            random_access = flags & 0x40 != 0;
        }
        payload_start = 5 + len;
        if payload_start > PACKET_LEN {
            return None;
        }
    }
    // adaptation_field_control 00 is reserved: no payload.
    let has_payload = control & 0x01 != 0;
    Some(Packet {
        pid,
        pusi,
        scrambled,
        cc,
        has_payload,
        discontinuity,
        random_access,
        payload: if has_payload {
            &raw[payload_start..]
        } else {
            &[]
        },
    })
}

/// Finds the first offset in `data` where [`SYNC_CONFIRM`] sync bytes repeat every 188 bytes.
/// `Err(n)`: none yet; the first `n` bytes can never start one and may be discarded. At `eof`,
/// an offset with one whole packet whose later sync positions all hold (as far as data goes)
/// is accepted.
pub(crate) fn find_sync(data: &[u8], eof: bool) -> Result<usize, usize> {
    'candidates: for (offset, &byte) in data.iter().enumerate() {
        if byte != SYNC_BYTE {
            continue;
        }
        for k in 1..SYNC_CONFIRM {
            match data.get(offset + k * PACKET_LEN) {
                Some(&SYNC_BYTE) => {}
                Some(_) => continue 'candidates,
                None if eof && data.len() - offset >= PACKET_LEN => return Ok(offset),
                None if eof => continue 'candidates,
                None => return Err(offset),
            }
        }
        return Ok(offset);
    }
    Err(data.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets(n: usize) -> Vec<u8> {
        let mut data = vec![0u8; n * PACKET_LEN];
        for p in data.chunks_mut(PACKET_LEN) {
            p[0] = SYNC_BYTE;
        }
        data
    }

    #[test]
    fn sync_needs_three_sync_bytes_in_stride() {
        let mut data = vec![SYNC_BYTE, 1, 2];
        data.extend(packets(3));
        assert_eq!(find_sync(&data, false), Ok(3));
        // Two packets: wait for the third sync byte, then only the first bytes are hopeless.
        assert_eq!(find_sync(&data[..3 + 2 * PACKET_LEN], false), Err(3));
        // At the end of the input, one whole packet is enough.
        assert_eq!(find_sync(&data[..3 + PACKET_LEN], true), Ok(3));
        assert_eq!(
            find_sync(&data[..3 + PACKET_LEN - 1], true),
            Err(3 + PACKET_LEN - 1)
        );
        assert_eq!(find_sync(&[1, 2, 3], false), Err(3));
    }

    #[test]
    fn counters_count_payload_packets_and_allow_one_duplicate() {
        let raw = |cc: u8, payload: bool| {
            let mut p = [0u8; PACKET_LEN];
            p[0] = SYNC_BYTE;
            p[3] = if payload { 0x10 } else { 0x20 } | cc;
            p[4] = 183;
            p
        };
        let mut last = None;
        let mut check = |cc, payload| {
            let p = raw(cc, payload);
            match continuity(&mut last, &parse_packet(&p).unwrap()) {
                Continuity::Next => "next",
                Continuity::Duplicate => "duplicate",
                Continuity::Lost { .. } => "lost",
            }
        };
        assert_eq!(check(15, true), "next");
        assert_eq!(check(0, true), "next");
        assert_eq!(check(0, true), "duplicate");
        assert_eq!(check(0, false), "next");
        assert_eq!(check(1, true), "next");
        assert_eq!(check(3, true), "lost");
        assert_eq!(check(4, true), "next");
    }
}
