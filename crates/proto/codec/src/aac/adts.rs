//! ADTS (ISO/IEC 13818-7 6.2 adts_fixed_header + adts_variable_header; also 14496-3 1.A.2):
//! the self-describing framing of AAC in MPEG-TS and `.aac` files.

use super::{AudioSpecificConfig, SAMPLE_RATES};
use crate::CodecError;
use crate::bits::{BitReader, BitWriter};

const WHAT: &str = "ADTS header";
/// Header length without / with the CRC.
const HEADER_LEN: usize = 7;
const HEADER_LEN_CRC: usize = 9;
/// aac_frame_length is 13 bits.
const MAX_FRAME_LEN: usize = (1 << 13) - 1;

/// One ADTS frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdtsHeader {
    /// ID bit: MPEG-2 AAC (true) or MPEG-4 (false). The payload is the same.
    pub mpeg2: bool,
    /// No CRC follows the 7 header bytes.
    pub protection_absent: bool,
    /// Audio object type: the 2-bit profile field + 1 (1 Main, 2 LC, 3 SSR, 4 LTP).
    pub object_type: u8,
    pub sample_rate_index: u8,
    pub channel_config: u8,
    /// aac_frame_length: the whole frame, header included.
    pub frame_length: u16,
    /// adts_buffer_fullness (0x7FF: variable bit rate).
    pub buffer_fullness: u16,
    /// number_of_raw_data_blocks_in_frame + 1.
    pub raw_data_blocks: u8,
}

impl AdtsHeader {
    /// Parses the header at the start of `data`.
    pub fn parse(data: &[u8]) -> Result<AdtsHeader, CodecError> {
        if data.len() < HEADER_LEN {
            return Err(CodecError::Truncated(WHAT));
        }
        let mut r = BitReader::new(data, WHAT);
        if r.read_bits(12)? != 0xfff {
            return Err(CodecError::AdtsSync);
        }
        let mpeg2 = r.read_flag()?;
        let layer = r.read_bits(2)?;
        if layer != 0 {
            return Err(CodecError::InvalidValue {
                field: "ADTS layer",
                value: u64::from(layer),
            });
        }
        let protection_absent = r.read_flag()?;
        let object_type = r.read_bits(2)? as u8 + 1;
        let sample_rate_index = r.read_bits(4)? as u8;
        if usize::from(sample_rate_index) >= SAMPLE_RATES.len() {
            return Err(CodecError::InvalidValue {
                field: "ADTS sampling_frequency_index",
                value: u64::from(sample_rate_index),
            });
        }
        let _private_bit = r.read_bit()?;
        let channel_config = r.read_bits(3)? as u8;
        // original_copy, home, copyright_identification_bit, copyright_identification_start
        r.skip_bits(4)?;
        let frame_length = r.read_bits(13)? as u16;
        let buffer_fullness = r.read_bits(11)? as u16;
        let raw_data_blocks = r.read_bits(2)? as u8 + 1;
        let header = AdtsHeader {
            mpeg2,
            protection_absent,
            object_type,
            sample_rate_index,
            channel_config,
            frame_length,
            buffer_fullness,
            raw_data_blocks,
        };
        if usize::from(frame_length) < header.header_len() {
            return Err(CodecError::InvalidValue {
                field: "ADTS aac_frame_length",
                value: u64::from(frame_length),
            });
        }
        Ok(header)
    }

    /// Header bytes: 7, or 9 with the CRC.
    pub fn header_len(&self) -> usize {
        if self.protection_absent {
            HEADER_LEN
        } else {
            HEADER_LEN_CRC
        }
    }

    /// Bytes of raw AAC after the header (and CRC).
    pub fn payload_len(&self) -> usize {
        usize::from(self.frame_length).saturating_sub(self.header_len())
    }

    /// The sampling frequency in Hz (0 for an index outside the table).
    pub fn sample_rate(&self) -> u32 {
        // parse() only accepts indices into the table; a hand-built header gets 0.
        SAMPLE_RATES
            .get(usize::from(self.sample_rate_index))
            .copied()
            .unwrap_or(0)
    }

    /// The AudioSpecificConfig an FLV/RTMP sequence header needs for this stream.
    pub fn to_asc(&self) -> AudioSpecificConfig {
        AudioSpecificConfig {
            object_type: self.object_type,
            sample_rate_index: self.sample_rate_index,
            sample_rate: self.sample_rate(),
            channel_config: self.channel_config,
            sbr_sample_rate: None,
            ps: false,
            frame_length_960: false,
        }
    }
}

/// Appends a 7-byte ADTS header (no CRC, one raw data block, VBR) for a `payload_len`-byte raw
/// AAC frame described by `asc`. HE-AAC is written as its core (implicit SBR signalling).
///
/// Fails, writing nothing, when ADTS cannot express the configuration: object types above 4,
/// an explicit sampling frequency, channel configurations above 7, or frames over 8191 bytes.
pub fn write_adts(
    asc: &AudioSpecificConfig,
    payload_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    if !(1..=4).contains(&asc.object_type) {
        return Err(CodecError::InvalidValue {
            field: "ADTS profile (object type)",
            value: u64::from(asc.object_type),
        });
    }
    if usize::from(asc.sample_rate_index) >= SAMPLE_RATES.len() {
        return Err(CodecError::InvalidValue {
            field: "ADTS sampling_frequency_index",
            value: u64::from(asc.sample_rate_index),
        });
    }
    if asc.channel_config > 7 {
        return Err(CodecError::InvalidValue {
            field: "ADTS channel_configuration",
            value: u64::from(asc.channel_config),
        });
    }
    let frame_length = payload_len
        .checked_add(HEADER_LEN)
        .filter(|&l| l <= MAX_FRAME_LEN)
        .ok_or(CodecError::TooLarge("ADTS aac_frame_length"))?;
    let mut w = BitWriter::new();
    w.write_bits(0xfff, 12);
    w.write_bit(false); // ID: MPEG-4
    w.write_bits(0, 2); // layer
    w.write_bit(true); // protection_absent
    w.write_bits(u64::from(asc.object_type - 1), 2);
    w.write_bits(u64::from(asc.sample_rate_index), 4);
    w.write_bit(false); // private_bit
    w.write_bits(u64::from(asc.channel_config), 3);
    w.write_bits(0, 4); // original_copy, home, copyright bits
    w.write_bits(frame_length as u64, 13);
    w.write_bits(0x7ff, 11); // buffer fullness: VBR
    w.write_bits(0, 2); // one raw data block
    out.extend_from_slice(&w.finish());
    Ok(())
}

/// Splits a run of ADTS frames into (header, raw AAC payload) pairs. Yields an error (and
/// then stops) at bytes that are not a whole ADTS frame.
pub fn adts_frames(data: &[u8]) -> AdtsFrames<'_> {
    AdtsFrames {
        rest: data,
        done: false,
    }
}

/// Iterator returned by [`adts_frames`].
#[derive(Clone, Debug)]
pub struct AdtsFrames<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> Iterator for AdtsFrames<'a> {
    type Item = Result<(AdtsHeader, &'a [u8]), CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let frame = AdtsHeader::parse(self.rest).and_then(|h| {
            let frame = self
                .rest
                .get(..usize::from(h.frame_length))
                .ok_or(CodecError::Truncated("ADTS frame"))?;
            Ok((h, frame))
        });
        match frame {
            Ok((h, frame)) => {
                self.rest = &self.rest[frame.len()..];
                Some(Ok((h, &frame[h.header_len()..])))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
