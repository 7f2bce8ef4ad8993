//! Program-specific information (ISO/IEC 13818-1 2.4.4): section reassembly across packets,
//! the CRC_32 check, and the program association and program map tables.

/// PSI sections are at most 1024 bytes (section_length ≤ 1021, 2.4.4.11): more is refused.
const MAX_SECTION: usize = 1024;
/// table_id of a program_association_section.
pub(crate) const TABLE_PAT: u8 = 0x00;
/// table_id of a TS_program_map_section.
pub(crate) const TABLE_PMT: u8 = 0x02;

/// One elementary stream of a program map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EsInfo {
    pub(crate) stream_type: u8,
    pub(crate) pid: u16,
    /// The descriptors of the ES_info loop (they name private-data streams).
    pub(crate) descriptors: Vec<u8>,
}

/// A parsed TS_program_map_section (2.4.4.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pmt {
    pub(crate) program_number: u16,
    pub(crate) version: u8,
    pub(crate) streams: Vec<EsInfo>,
}

/// Why a section was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SectionError {
    Crc,
    Malformed,
    TooLong,
}

/// Reassembles the sections of one PSI PID from packet payloads.
#[derive(Debug, Default)]
pub(crate) struct SectionAssembler {
    buf: Vec<u8>,
    /// A section is in progress (its start has been seen and no packet was lost since).
    active: bool,
}

impl SectionAssembler {
    /// Forgets the section in progress (after a lost packet).
    pub(crate) fn reset(&mut self) {
        self.buf.clear();
        self.active = false;
    }

    /// Feeds one packet payload; returns the complete sections (CRC-checked) or their errors.
    pub(crate) fn push(
        &mut self,
        pusi: bool,
        payload: &[u8],
    ) -> Vec<Result<Vec<u8>, SectionError>> {
        let mut out = Vec::new();
        let mut data = payload;
        if pusi {
            // pointer_field: the bytes before the first new section end the previous one.
            let Some((&pointer, rest)) = data.split_first() else {
                self.reset();
                return out;
            };
            let pointer = usize::from(pointer);
            let Some(tail) = rest.get(..pointer) else {
                self.reset();
                out.push(Err(SectionError::Malformed));
                return out;
            };
            if self.active {
                self.append(tail, &mut out);
            }
            self.reset();
            self.active = true;
            data = rest.get(pointer..).unwrap_or(&[]);
        }
        if self.active {
            self.append(data, &mut out);
        }
        out
    }

    fn append(&mut self, mut data: &[u8], out: &mut Vec<Result<Vec<u8>, SectionError>>) {
        while self.active && !data.is_empty() {
            if self.buf.is_empty() && data.first() == Some(&0xff) {
                // Stuffing after the last section of the packet (2.4.4.1).
                self.active = false;
                return;
            }
            let need = match self.buf.get(1..3) {
                Some(len) => 3 + usize::from(u16::from_be_bytes([len[0], len[1]]) & 0x0fff),
                // table_id and section_length first.
                None => 3,
            };
            if need > MAX_SECTION {
                out.push(Err(SectionError::TooLong));
                self.reset();
                return;
            }
            let take = need.saturating_sub(self.buf.len()).min(data.len());
            let (head, rest) = data.split_at(take);
            self.buf.extend_from_slice(head);
            data = rest;
            if self.buf.len() < need || self.buf.len() < 3 {
                continue;
            }
            if need == 3 {
                // Only the header so far: the length is known now, unless it is 0, which
                // cannot hold the fixed fields.
                let len = self.buf.get(1..3).map_or(0, |l| {
                    usize::from(u16::from_be_bytes([l[0], l[1]]) & 0x0fff)
                });
                if 3 + len > MAX_SECTION {
                    out.push(Err(SectionError::TooLong));
                    self.reset();
                    return;
                }
                if len == 0 {
                    self.buf.clear();
                    out.push(Err(SectionError::Malformed));
                }
                continue;
            }
            let section = std::mem::take(&mut self.buf);
            out.push(if crc32_mpeg2(&section) == 0 {
                Ok(section)
            } else {
                Err(SectionError::Crc)
            });
        }
    }
}

/// CRC-32/MPEG-2 (13818-1 Annex A): polynomial 0x04C11DB7, initial value all ones, no
/// reflection, no final XOR. Over a whole section including its CRC_32 field it yields 0.
pub(crate) fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The long-form section header fields (2.4.4.4) and the body between them and the CRC.
struct LongSection<'a> {
    table_id: u8,
    id: u16,
    version: u8,
    current: bool,
    body: &'a [u8],
}

fn long_section(section: &[u8]) -> Result<LongSection<'_>, SectionError> {
    // table_id, flags+length (2), id (2), version (1), section_number, last_section_number,
    // ... CRC_32 (4): at least 12 bytes.
    if section.len() < 12 || section.get(1).is_some_and(|b| b & 0x80 == 0) {
        return Err(SectionError::Malformed);
    }
    let end = section.len() - 4;
    Ok(LongSection {
        table_id: section[0],
        id: u16::from_be_bytes([section[3], section[4]]),
        version: (section[5] >> 1) & 0x1f,
        current: section[5] & 0x01 != 0,
        body: section.get(8..end).ok_or(SectionError::Malformed)?,
    })
}

/// Parses a program_association_section (2.4.4.3): the PID of the first program's map
/// (program_number 0 names the network PID and is skipped). `Ok(None)`: not a current PAT, or
/// no program in it.
pub(crate) fn parse_pat(section: &[u8]) -> Result<Option<(u16, u16)>, SectionError> {
    let s = long_section(section)?;
    if s.table_id != TABLE_PAT || !s.current {
        return Ok(None);
    }
    Ok(s.body.chunks_exact(4).find_map(|entry| {
        let program = u16::from_be_bytes([entry[0], entry[1]]);
        let pid = u16::from_be_bytes([entry[2], entry[3]]) & 0x1fff;
        (program != 0).then_some((program, pid))
    }))
}

/// Parses a TS_program_map_section (2.4.4.8). `Ok(None)`: another table or not yet current.
pub(crate) fn parse_pmt(section: &[u8]) -> Result<Option<Pmt>, SectionError> {
    let s = long_section(section)?;
    if s.table_id != TABLE_PMT || !s.current {
        return Ok(None);
    }
    // PCR_PID (2), program_info_length (2), descriptors, then the ES loop.
    let info_len = match s.body.get(2..4) {
        Some(b) => usize::from(u16::from_be_bytes([b[0], b[1]]) & 0x0fff),
        None => return Err(SectionError::Malformed),
    };
    let mut rest = s.body.get(4 + info_len..).ok_or(SectionError::Malformed)?;
    let mut streams = Vec::new();
    while !rest.is_empty() {
        let head = rest.get(..5).ok_or(SectionError::Malformed)?;
        let stream_type = head[0];
        let pid = u16::from_be_bytes([head[1], head[2]]) & 0x1fff;
        let es_info_len = usize::from(u16::from_be_bytes([head[3], head[4]]) & 0x0fff);
        let descriptors = rest
            .get(5..5 + es_info_len)
            .ok_or(SectionError::Malformed)?;
        streams.push(EsInfo {
            stream_type,
            pid,
            descriptors: descriptors.to_vec(),
        });
        rest = &rest[5 + es_info_len..];
    }
    Ok(Some(Pmt {
        program_number: s.id,
        version: s.version,
        streams,
    }))
}

/// A name for a stream type Baton does not carry (13818-1 Table 2-34, plus the registered and
/// DVB private uses seen in practice), looking into the descriptors of private-data streams.
pub(crate) fn stream_type_name(stream_type: u8, descriptors: &[u8]) -> &'static str {
    if stream_type == 0x06
        && let Some(name) = private_stream_name(descriptors)
    {
        return name;
    }
    match stream_type {
        0x01 => "MPEG-1 video",
        0x02 => "MPEG-2 video",
        0x03 | 0x04 => "MPEG audio",
        0x05 => "private sections",
        0x06 => "private data",
        0x0b..=0x0d => "DSM-CC",
        0x0f => "AAC (ADTS)",
        0x10 => "MPEG-4 Visual",
        0x11 => "AAC (LATM)",
        0x15 => "ID3 metadata",
        0x1b => "H.264",
        0x24 => "H.265",
        0x33 => "H.266",
        0x42 => "AVS",
        0x81 => "AC-3",
        0x82 => "DTS",
        0x86 => "SCTE-35",
        0x87 => "E-AC-3",
        0xea => "VC-1",
        _ => "unknown",
    }
}

/// The DVB descriptors (EN 300 468) and registration descriptors that name a private stream.
fn private_stream_name(mut descriptors: &[u8]) -> Option<&'static str> {
    while let [tag, len, rest @ ..] = descriptors {
        let body = rest.get(..usize::from(*len))?;
        let name = match tag {
            0x05 => match body {
                b"Opus" => Some("Opus"),
                b"AC-3" => Some("AC-3"),
                b"EAC3" => Some("E-AC-3"),
                b"KLVA" => Some("KLV metadata"),
                b"ID3 " => Some("ID3 metadata"),
                _ => None,
            },
            0x45 => Some("VBI data"),
            0x46 | 0x56 => Some("teletext"),
            0x59 => Some("DVB subtitles"),
            0x6a => Some("AC-3"),
            0x7a => Some("E-AC-3"),
            0x7b => Some("DTS"),
            _ => None,
        };
        if name.is_some() {
            return name;
        }
        descriptors = &rest[usize::from(*len)..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_check_string() {
        // The CRC-32/MPEG-2 check value.
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_e6e7);
    }

    #[test]
    fn private_streams_are_named_by_descriptor() {
        assert_eq!(
            stream_type_name(0x06, &[0x56, 5, b'e', b'n', b'g', 0x09, 0x00]),
            "teletext"
        );
        assert_eq!(
            stream_type_name(0x06, &[0x05, 4, b'O', b'p', b'u', b's']),
            "Opus"
        );
        assert_eq!(stream_type_name(0x06, &[0x0a, 1]), "private data");
        assert_eq!(stream_type_name(0x86, &[]), "SCTE-35");
    }

    #[test]
    fn oversized_section_is_refused() {
        let mut a = SectionAssembler::default();
        let out = a.push(true, &[0, 0x02, 0xb4, 0x00]);
        assert_eq!(out, vec![Err(SectionError::TooLong)]);
    }
}
