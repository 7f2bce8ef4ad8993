//! AV1: the AV1CodecConfigurationRecord (AV1 Codec ISO Media File Format Binding 2.3.3,
//! `av1C`), carried as the Enhanced RTMP `av01` SequenceStart, and the sequence header OBU
//! (AV1 specification 5.5) up to the maximum frame size.

use bytes::Bytes;

use crate::CodecError;
use crate::bits::BitReader;

const RECORD: &str = "AV1CodecConfigurationRecord";
const SEQ_HEADER: &str = "AV1 sequence header";
/// obu_type of a sequence header (AV1 6.2.2).
pub const OBU_SEQUENCE_HEADER: u8 = 1;

/// AV1CodecConfigurationRecord: the first sequence header's key fields, then config OBUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Av1Config {
    /// 0 Main, 1 High, 2 Professional.
    pub seq_profile: u8,
    pub seq_level_idx_0: u8,
    pub seq_tier_0: bool,
    pub high_bitdepth: bool,
    pub twelve_bit: bool,
    pub monochrome: bool,
    pub chroma_subsampling_x: bool,
    pub chroma_subsampling_y: bool,
    pub chroma_sample_position: u8,
    /// initial_presentation_delay_minus_one + 1, when present.
    pub initial_presentation_delay: Option<u8>,
    /// configOBUs: zero or one sequence header OBU, then metadata OBUs.
    pub config_obus: Bytes,
}

impl Av1Config {
    /// Parses a record (marker 1, version 1); the config OBUs are kept as they are.
    pub fn parse(data: &[u8]) -> Result<Self, CodecError> {
        let header = data.get(..4).ok_or(CodecError::Truncated(RECORD))?;
        // marker (1) = 1, version (7) = 1.
        if header[0] != 0x81 {
            return Err(CodecError::UnsupportedVersion {
                record: RECORD,
                version: header[0] & 0x7f,
            });
        }
        let b1 = header[1];
        let b2 = header[2];
        let b3 = header[3];
        Ok(Av1Config {
            seq_profile: b1 >> 5,
            seq_level_idx_0: b1 & 0x1f,
            seq_tier_0: b2 & 0x80 != 0,
            high_bitdepth: b2 & 0x40 != 0,
            twelve_bit: b2 & 0x20 != 0,
            monochrome: b2 & 0x10 != 0,
            chroma_subsampling_x: b2 & 0x08 != 0,
            chroma_subsampling_y: b2 & 0x04 != 0,
            chroma_sample_position: b2 & 0x03,
            initial_presentation_delay: (b3 & 0x10 != 0).then_some((b3 & 0x0f) + 1),
            config_obus: Bytes::copy_from_slice(&data[4..]),
        })
    }

    /// Serializes the record (version 1), config OBUs appended unchanged.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.config_obus.len());
        out.push(0x81);
        out.push((self.seq_profile & 0x07) << 5 | (self.seq_level_idx_0 & 0x1f));
        out.push(
            u8::from(self.seq_tier_0) << 7
                | u8::from(self.high_bitdepth) << 6
                | u8::from(self.twelve_bit) << 5
                | u8::from(self.monochrome) << 4
                | u8::from(self.chroma_subsampling_x) << 3
                | u8::from(self.chroma_subsampling_y) << 2
                | (self.chroma_sample_position & 0x03),
        );
        out.push(match self.initial_presentation_delay {
            Some(d) => 0x10 | (d.saturating_sub(1) & 0x0f),
            None => 0,
        });
        out.extend_from_slice(&self.config_obus);
        out
    }

    /// 8, 10 or 12 (AV1 5.5.2 color_config).
    pub fn bit_depth(&self) -> u8 {
        match (self.high_bitdepth, self.twelve_bit) {
            (false, _) => 8,
            (true, false) => 10,
            (true, true) => 12,
        }
    }

    /// The sequence header OBU among the config OBUs, parsed; `None` if there is none.
    pub fn sequence_header(&self) -> Option<Result<Av1SequenceHeader, CodecError>> {
        let mut rest = &self.config_obus[..];
        while !rest.is_empty() {
            let (obu_type, payload, next) = match split_obu(rest) {
                Ok(parts) => parts,
                Err(e) => return Some(Err(e)),
            };
            if obu_type == OBU_SEQUENCE_HEADER {
                return Some(Av1SequenceHeader::parse(payload));
            }
            rest = next;
        }
        None
    }
}

/// The start of sequence_header_obu() (AV1 5.5.1): profile, first operating point's level and
/// tier, the maximum frame size and, when timing info is present, the frame rate.
#[derive(Clone, Debug, PartialEq)]
pub struct Av1SequenceHeader {
    pub seq_profile: u8,
    pub still_picture: bool,
    pub seq_level_idx_0: u8,
    pub seq_tier_0: bool,
    pub max_frame_width: u32,
    pub max_frame_height: u32,
    /// time_scale / (num_units_in_display_tick × num_ticks_per_picture), when the stream
    /// declares an equal picture interval.
    pub frame_rate: Option<f64>,
}

impl Av1SequenceHeader {
    /// Parses a sequence header OBU payload (after the OBU header and size).
    pub fn parse(payload: &[u8]) -> Result<Self, CodecError> {
        let mut r = BitReader::new(payload, SEQ_HEADER);
        let seq_profile = r.read_bits(3)? as u8;
        let still_picture = r.read_flag()?;
        let reduced_still_picture_header = r.read_flag()?;
        let mut frame_rate = None;
        let (seq_level_idx_0, seq_tier_0);
        if reduced_still_picture_header {
            seq_level_idx_0 = r.read_bits(5)? as u8;
            seq_tier_0 = false;
        } else {
            let mut buffer_delay_length = 0;
            let timing_info_present = r.read_flag()?;
            let mut decoder_model_info_present = false;
            if timing_info_present {
                let num_units_in_display_tick = r.read_bits(32)?;
                let time_scale = r.read_bits(32)?;
                if r.read_flag()? {
                    // equal_picture_interval: num_ticks_per_picture_minus_1 as uvlc().
                    let ticks = u64::from(read_uvlc(&mut r)?) + 1;
                    let tick = u64::from(num_units_in_display_tick) * ticks;
                    if tick > 0 && time_scale > 0 {
                        frame_rate = Some(f64::from(time_scale) / tick as f64);
                    }
                }
                decoder_model_info_present = r.read_flag()?;
                if decoder_model_info_present {
                    buffer_delay_length = r.read_bits(5)? + 1;
                    // num_units_in_decoding_tick, buffer_removal_time_length_minus_1,
                    // frame_presentation_time_length_minus_1.
                    r.skip_bits(32 + 5 + 5)?;
                }
            }
            let initial_display_delay_present = r.read_flag()?;
            let operating_points = r.read_bits(5)? + 1;
            let mut first = None;
            for _ in 0..operating_points {
                let _operating_point_idc = r.read_bits(12)?;
                let level = r.read_bits(5)? as u8;
                let tier = level > 7 && r.read_flag()?;
                first.get_or_insert((level, tier));
                if decoder_model_info_present && r.read_flag()? {
                    // operating_parameters_info(): two delays and low_delay_mode_flag.
                    r.skip_bits(2 * u64::from(buffer_delay_length) + 1)?;
                }
                if initial_display_delay_present && r.read_flag()? {
                    r.skip_bits(4)?;
                }
            }
            // operating_points >= 1, so the loop ran at least once.
            (seq_level_idx_0, seq_tier_0) = first.unwrap_or((0, false));
        }
        let width_bits = r.read_bits(4)? + 1;
        let height_bits = r.read_bits(4)? + 1;
        let max_frame_width = r.read_bits(width_bits)? + 1;
        let max_frame_height = r.read_bits(height_bits)? + 1;
        Ok(Av1SequenceHeader {
            seq_profile,
            still_picture,
            seq_level_idx_0,
            seq_tier_0,
            max_frame_width,
            max_frame_height,
            frame_rate,
        })
    }
}

/// The profile's name (AV1 Annex A.2).
pub fn profile_name(seq_profile: u8) -> Option<&'static str> {
    Some(match seq_profile {
        0 => "Main",
        1 => "High",
        2 => "Professional",
        _ => return None,
    })
}

/// The level as Annex A.3 writes it: seq_level_idx 5 is "3.1"; 31 means no level limits.
pub fn level_name(seq_level_idx: u8) -> String {
    if seq_level_idx == 31 {
        return "max".to_string();
    }
    format!("{}.{}", 2 + (seq_level_idx >> 2), seq_level_idx & 3)
}

/// Splits one OBU off the front of `data` (AV1 5.3): its type, payload and what follows.
fn split_obu(data: &[u8]) -> Result<(u8, &[u8], &[u8]), CodecError> {
    let header = *data.first().ok_or(CodecError::Truncated("OBU header"))?;
    let obu_type = (header >> 3) & 0x0f;
    let has_extension = header & 0x04 != 0;
    let has_size = header & 0x02 != 0;
    let mut at = 1 + usize::from(has_extension);
    if data.len() < at {
        return Err(CodecError::Truncated("OBU header"));
    }
    let size = if has_size {
        let (size, used) = read_leb128(&data[at..])?;
        at += used;
        usize::try_from(size).map_err(|_| CodecError::TooLarge("OBU size"))?
    } else {
        data.len() - at
    };
    let end = at
        .checked_add(size)
        .filter(|&end| end <= data.len())
        .ok_or(CodecError::Truncated("OBU"))?;
    Ok((obu_type, &data[at..end], &data[end..]))
}

/// leb128() (AV1 4.10.5): at most 8 bytes, value below 2^32.
fn read_leb128(data: &[u8]) -> Result<(u64, usize), CodecError> {
    let mut value = 0u64;
    for i in 0..8 {
        let b = *data.get(i).ok_or(CodecError::Truncated("OBU size"))?;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if value > u64::from(u32::MAX) {
                return Err(CodecError::TooLarge("OBU size"));
            }
            return Ok((value, i + 1));
        }
    }
    Err(CodecError::TooLarge("OBU size"))
}

/// uvlc() (AV1 4.10.3): 32 or more leading zeros mean 2^32 − 1.
fn read_uvlc(r: &mut BitReader<'_>) -> Result<u32, CodecError> {
    let mut leading_zeros = 0u32;
    while !r.read_flag()? {
        leading_zeros += 1;
        if leading_zeros >= 32 {
            return Ok(u32::MAX);
        }
    }
    let value = r.read_bits(leading_zeros)?;
    Ok(((1u64 << leading_zeros) - 1 + u64::from(value)).min(u64::from(u32::MAX)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bits::BitWriter;
    use proptest::prelude::*;

    /// av1C from an MP4 ffmpeg/libaom wrote (see testdata/README.md).
    const AV1_720P: &[u8] = include_bytes!("../testdata/av1_720p.av1c");

    #[test]
    fn libaom_record() {
        let c = Av1Config::parse(AV1_720P).unwrap();
        assert_eq!(c.seq_profile, 0);
        assert_eq!(c.seq_level_idx_0, 5);
        assert_eq!(level_name(c.seq_level_idx_0), "3.1");
        assert_eq!(profile_name(c.seq_profile), Some("Main"));
        assert_eq!(c.bit_depth(), 8);
        assert!(c.chroma_subsampling_x && c.chroma_subsampling_y);
        let sh = c.sequence_header().unwrap().unwrap();
        assert_eq!((sh.max_frame_width, sh.max_frame_height), (1280, 720));
        assert_eq!(sh.seq_level_idx_0, 5);
        assert_eq!(sh.frame_rate, None);
        assert_eq!(c.encode(), AV1_720P);
    }

    #[test]
    fn timing_info_and_operating_points() {
        let mut w = BitWriter::new();
        w.write_bits(1, 3); // profile
        w.write_bits(0b00, 2); // still, reduced
        w.write_bit(true); // timing_info_present
        w.write_bits(1001, 32);
        w.write_bits(60000, 32);
        w.write_bit(true); // equal_picture_interval
        w.write_bits(0b010, 3); // uvlc 1: two ticks a picture
        w.write_bit(true); // decoder_model_info_present
        w.write_bits(9, 5); // buffer_delay_length_minus_1
        w.write_bits(0, 42);
        w.write_bit(true); // initial_display_delay_present
        w.write_bits(1, 5); // two operating points
        for (level, tier) in [(12u64, true), (4, false)] {
            w.write_bits(0x101, 12);
            w.write_bits(level, 5);
            if level > 7 {
                w.write_bit(tier);
            }
            w.write_bit(true); // decoder_model_present_for_this_op
            w.write_bits(0, 21);
            w.write_bit(true); // initial_display_delay_present_for_this_op
            w.write_bits(3, 4);
        }
        w.write_bits(11, 4);
        w.write_bits(10, 4);
        w.write_bits(1919, 12);
        w.write_bits(1079, 11);
        let payload = w.finish();
        let mut obus = vec![0x0a, payload.len() as u8];
        obus.extend_from_slice(&payload);
        let mut record = vec![0x81, 0x2c, 0x80, 0x00];
        record.extend_from_slice(&obus);
        let sh = Av1Config::parse(&record)
            .unwrap()
            .sequence_header()
            .unwrap()
            .unwrap();
        assert_eq!(sh.seq_profile, 1);
        assert_eq!((sh.seq_level_idx_0, sh.seq_tier_0), (12, true));
        assert_eq!((sh.max_frame_width, sh.max_frame_height), (1920, 1080));
        assert!((sh.frame_rate.unwrap() - 29.97).abs() < 0.01);
    }

    #[test]
    fn bad_records() {
        assert_eq!(
            Av1Config::parse(&[0x81, 0]),
            Err(CodecError::Truncated(RECORD))
        );
        assert!(matches!(
            Av1Config::parse(&[0x01, 0, 0, 0]),
            Err(CodecError::UnsupportedVersion { .. })
        ));
        let no_obus = Av1Config::parse(&AV1_720P[..4]).unwrap();
        assert_eq!(no_obus.sequence_header(), None);
        let cut = Av1Config::parse(&AV1_720P[..8]).unwrap();
        assert_eq!(
            cut.sequence_header(),
            Some(Err(CodecError::Truncated("OBU")))
        );
        assert_eq!(
            read_leb128(&[0x80; 9]),
            Err(CodecError::TooLarge("OBU size"))
        );
    }

    proptest! {
        #[test]
        fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(c) = Av1Config::parse(&data) {
                let _ = c.sequence_header();
                prop_assert_eq!(c.encode().len(), data.len());
            }
            let _ = Av1SequenceHeader::parse(&data);
        }
    }
}
