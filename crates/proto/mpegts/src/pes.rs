//! PES packets (ISO/IEC 13818-1 2.4.3.6): the header with its PTS/DTS, and the bounded
//! reassembly of one PES from the payloads of consecutive TS packets.

/// A parsed PES packet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PesHeader {
    /// Raw 33-bit PTS, when present.
    pub(crate) pts: Option<u64>,
    /// Raw 33-bit DTS, when present (only together with a PTS).
    pub(crate) dts: Option<u64>,
    /// Offset of the elementary stream data from the start of the PES packet.
    pub(crate) payload_offset: usize,
    /// The whole PES packet's length (6 + PES_packet_length), or `None` when
    /// PES_packet_length is 0 (unbounded; only allowed for video, 2.4.3.7).
    pub(crate) total_len: Option<usize>,
}

/// Why a PES header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PesError {
    /// Not enough bytes for the header it announces.
    Truncated,
    /// No packet_start_code_prefix, or a malformed optional header.
    Malformed,
}

/// Parses the header at the start of a PES packet.
pub(crate) fn parse_header(data: &[u8]) -> Result<PesHeader, PesError> {
    let fixed = data.get(..6).ok_or(PesError::Truncated)?;
    if fixed[..3] != [0, 0, 1] {
        return Err(PesError::Malformed);
    }
    let stream_id = fixed[3];
    let length = usize::from(u16::from_be_bytes([fixed[4], fixed[5]]));
    let total_len = (length != 0).then_some(6 + length);
    // Streams without the optional header (Table 2-21's exceptions): program_stream_map,
    // padding, private_stream_2, ECM, EMM, DSM-CC, H.222.1 type E, program_stream_directory.
    if matches!(
        stream_id,
        0xbc | 0xbe | 0xbf | 0xf0 | 0xf1 | 0xf2 | 0xf8 | 0xff
    ) {
        return Ok(PesHeader {
            pts: None,
            dts: None,
            payload_offset: 6,
            total_len,
        });
    }
    let opt = data.get(6..9).ok_or(PesError::Truncated)?;
    if opt[0] & 0xc0 != 0x80 {
        return Err(PesError::Malformed);
    }
    let pts_dts_flags = opt[1] >> 6;
    let payload_offset = 9 + usize::from(opt[2]);
    let fields = data.get(9..payload_offset).ok_or(PesError::Truncated)?;
    if total_len.is_some_and(|total| total < payload_offset) {
        return Err(PesError::Malformed);
    }
    let (pts, dts) = match pts_dts_flags {
        0b10 => (Some(timestamp(fields.get(..5))?), None),
        0b11 => (
            Some(timestamp(fields.get(..5))?),
            Some(timestamp(fields.get(5..10))?),
        ),
        // 0b01 is forbidden; treat it like no timestamps.
        _ => (None, None),
    };
    Ok(PesHeader {
        pts,
        dts,
        payload_offset,
        total_len,
    })
}

/// Decodes a 5-byte PTS or DTS field (2.4.3.7): 3 + 15 + 15 bits between marker bits.
fn timestamp(field: Option<&[u8]>) -> Result<u64, PesError> {
    let b = field.ok_or(PesError::Malformed)?;
    let (b0, b1, b2, b3, b4) = match b {
        [b0, b1, b2, b3, b4] => (*b0, *b1, *b2, *b3, *b4),
        _ => return Err(PesError::Malformed),
    };
    Ok((u64::from(b0 >> 1) & 0x07) << 30
        | u64::from(b1) << 22
        | u64::from(b2 >> 1) << 15
        | u64::from(b3) << 7
        | u64::from(b4 >> 1))
}

/// Encodes a PTS or DTS field (the inverse of [`timestamp`]), `prefix` being 0b0010 (PTS
/// only), 0b0011 (PTS of a pair) or 0b0001 (DTS). Only the low 33 bits of `ts` are written.
pub(crate) fn encode_timestamp(prefix: u8, ts: u64) -> [u8; 5] {
    [
        (prefix << 4) | (((ts >> 30) & 0x07) as u8) << 1 | 1,
        (ts >> 22) as u8,
        (((ts >> 15) & 0x7f) as u8) << 1 | 1,
        (ts >> 7) as u8,
        ((ts & 0x7f) as u8) << 1 | 1,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pts_and_dts_round_trip() {
        let ts = (1u64 << 33) - 2;
        let mut pes = vec![0, 0, 1, 0xe0, 0, 0, 0x80, 0xc0, 10];
        pes.extend_from_slice(&encode_timestamp(0b0011, ts));
        pes.extend_from_slice(&encode_timestamp(0b0001, 12345));
        let h = parse_header(&pes).unwrap();
        assert_eq!(h.pts, Some(ts));
        assert_eq!(h.dts, Some(12345));
        assert_eq!(h.payload_offset, 19);
        assert_eq!(h.total_len, None);
    }

    #[test]
    fn bad_headers_are_refused() {
        assert_eq!(parse_header(&[0, 0, 1, 0xe0]), Err(PesError::Truncated));
        assert_eq!(
            parse_header(&[0, 0, 2, 0xe0, 0, 0]),
            Err(PesError::Malformed)
        );
        // header_data_length runs past the data.
        assert_eq!(
            parse_header(&[0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 0x21]),
            Err(PesError::Truncated)
        );
        // PES_packet_length shorter than its own header.
        assert_eq!(
            parse_header(&[0, 0, 1, 0xc0, 0, 2, 0x80, 0x00, 0]),
            Err(PesError::Malformed)
        );
    }
}
