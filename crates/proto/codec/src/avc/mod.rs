//! H.264 / AVC: the AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1) that FLV and RTMP
//! carry as the video sequence header, the sequence parameter set (ITU-T H.264 7.3.2.1.1), and
//! NAL unit framing helpers.

mod sps;

use bytes::Bytes;

pub use crate::nal::{AnnexBNals, AvccNals, annexb_to_avcc, avcc_nals, split_annexb};
pub use sps::Sps;

use crate::CodecError;
use crate::bits::ByteReader;

/// nal_unit_type of a coded slice of an IDR picture (H.264 Table 7-1).
pub const NAL_IDR: u8 = 5;
/// nal_unit_type of supplemental enhancement information.
pub const NAL_SEI: u8 = 6;
/// nal_unit_type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// nal_unit_type of a picture parameter set.
pub const NAL_PPS: u8 = 8;
/// nal_unit_type of an access unit delimiter.
pub const NAL_AUD: u8 = 9;

/// The nal_unit_type of an H.264 NAL unit (H.264 7.3.1), `None` for an empty slice.
pub fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1f)
}

const RECORD: &str = "AVCDecoderConfigurationRecord";

/// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1): what a decoder needs before the
/// first frame. Parameter sets are whole NAL units (header byte included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvcDecoderConfig {
    /// AVCProfileIndication: profile_idc of the SPS.
    pub profile: u8,
    /// profile_compatibility: the SPS byte holding constraint_set0..5_flag.
    pub compatibility: u8,
    /// AVCLevelIndication: level_idc of the SPS.
    pub level: u8,
    /// Bytes in each NAL unit length prefix of the coded frames (lengthSizeMinusOne + 1).
    pub nal_length_size: u8,
    pub sps: Vec<Bytes>,
    pub pps: Vec<Bytes>,
    /// The fields the record appends for profiles other than Baseline, Main and Extended.
    /// Many encoders omit them, so they are optional both ways.
    pub high_profile: Option<AvcHighProfileExt>,
}

/// The High-profile tail of the AVCDecoderConfigurationRecord.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvcHighProfileExt {
    /// chroma_format_idc: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma_format: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    /// Sequence parameter set extension NAL units (type 13).
    pub sps_ext: Vec<Bytes>,
}

impl AvcDecoderConfig {
    /// Parses a record. The High-profile tail is read when present and well formed; a
    /// truncated tail is ignored (as decoders do) rather than failing the whole record.
    pub fn parse(data: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::new(data, RECORD);
        let version = r.u8()?;
        if version != 1 {
            return Err(CodecError::UnsupportedVersion {
                record: RECORD,
                version,
            });
        }
        let profile = r.u8()?;
        let compatibility = r.u8()?;
        let level = r.u8()?;
        // reserved '111111'b, lengthSizeMinusOne (2 bits): 1, 2 or 4 in practice; 3 is
        // representable and harmless, so accepted.
        let nal_length_size = (r.u8()? & 0x03) + 1;
        let num_sps = r.u8()? & 0x1f;
        let sps = crate::nal::read_nals(&mut r, usize::from(num_sps))?;
        let num_pps = r.u8()?;
        let pps = crate::nal::read_nals(&mut r, usize::from(num_pps))?;
        let high_profile = if has_high_profile_ext(profile) && !r.remaining().is_empty() {
            read_high_profile_ext(&mut r).ok()
        } else {
            None
        };
        Ok(AvcDecoderConfig {
            profile,
            compatibility,
            level,
            nal_length_size,
            sps,
            pps,
            high_profile,
        })
    }

    /// Serializes the record. The format holds at most 31 SPS, 255 PPS and 255 SPS extensions
    /// of up to 65535 bytes each; parameter sets beyond those limits (which `parse` and
    /// `from_parameter_sets` never produce) are left out.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![
            1,
            self.profile,
            self.compatibility,
            self.level,
            0xfc | (self.nal_length_size.clamp(1, 4) - 1),
        ];
        write_nals(&mut out, &self.sps, 31, 0xe0);
        write_nals(&mut out, &self.pps, 255, 0);
        if let Some(ext) = &self.high_profile {
            out.push(0xfc | (ext.chroma_format & 0x03));
            out.push(0xf8 | (ext.bit_depth_luma.saturating_sub(8) & 0x07));
            out.push(0xf8 | (ext.bit_depth_chroma.saturating_sub(8) & 0x07));
            write_nals(&mut out, &ext.sps_ext, 255, 0);
        }
        out
    }

    /// Builds a record from one SPS and one PPS NAL unit (e.g. taken from an Annex B stream),
    /// with 4-byte NAL unit lengths.
    pub fn from_parameter_sets(sps: &[u8], pps: &[u8]) -> Result<Self, CodecError> {
        let parsed = Sps::parse(sps)?;
        match nal_type(pps) {
            Some(NAL_PPS) => {}
            found => {
                return Err(CodecError::NalType {
                    what: "PPS",
                    expected: NAL_PPS,
                    found: found.unwrap_or(0),
                });
            }
        }
        if pps.len() > usize::from(u16::MAX) || sps.len() > usize::from(u16::MAX) {
            return Err(CodecError::TooLarge("parameter set length"));
        }
        let high_profile = has_high_profile_ext(parsed.profile_idc).then(|| AvcHighProfileExt {
            chroma_format: parsed.chroma_format_idc,
            bit_depth_luma: parsed.bit_depth_luma,
            bit_depth_chroma: parsed.bit_depth_chroma,
            sps_ext: Vec::new(),
        });
        Ok(AvcDecoderConfig {
            profile: parsed.profile_idc,
            compatibility: parsed.constraint_flags,
            level: parsed.level_idc,
            nal_length_size: 4,
            sps: vec![Bytes::copy_from_slice(sps)],
            pps: vec![Bytes::copy_from_slice(pps)],
            high_profile,
        })
    }

    /// Parses the first SPS of the record.
    pub fn first_sps(&self) -> Option<Result<Sps, CodecError>> {
        self.sps.first().map(|nal| Sps::parse(nal))
    }
}

/// The profile's name (H.264 Annex A.2), `None` for profile_idc values Annex A does not name.
/// `constraint_flags` is the byte after profile_idc (constraint_set0..5_flag).
pub fn profile_name(profile_idc: u8, constraint_flags: u8) -> Option<&'static str> {
    let set1 = constraint_flags & 0x40 != 0;
    let set3 = constraint_flags & 0x10 != 0;
    Some(match profile_idc {
        66 if set1 => "Constrained Baseline",
        66 => "Baseline",
        77 => "Main",
        88 => "Extended",
        100 => "High",
        110 if set3 => "High 10 Intra",
        110 => "High 10",
        122 if set3 => "High 4:2:2 Intra",
        122 => "High 4:2:2",
        244 if set3 => "High 4:4:4 Intra",
        244 => "High 4:4:4 Predictive",
        44 => "CAVLC 4:4:4 Intra",
        83 => "Scalable Baseline",
        86 => "Scalable High",
        118 => "Multiview High",
        128 => "Stereo High",
        _ => return None,
    })
}

/// The level as written in H.264 Annex A ("3.1", "1b").
pub fn level_name(profile_idc: u8, constraint_flags: u8, level_idc: u8) -> String {
    // Level 1b: level_idc 9, or 11 with constraint_set3_flag in Baseline/Main/Extended (A.3.1).
    let set3 = constraint_flags & 0x10 != 0;
    if level_idc == 9 || (level_idc == 11 && set3 && matches!(profile_idc, 66 | 77 | 88)) {
        return "1b".to_string();
    }
    format!("{}.{}", level_idc / 10, level_idc % 10)
        .trim_end_matches(".0")
        .to_string()
}

/// Profiles whose record carries the High-profile tail. ISO/IEC 14496-15 5.3.3.1.2 first
/// listed 100, 110, 122 and 144; later editions (and ffmpeg) use "not 66, 77 or 88", which
/// also covers 244 (High 4:4:4) and the SVC/MVC profiles.
fn has_high_profile_ext(profile: u8) -> bool {
    !matches!(profile, 66 | 77 | 88)
}

fn read_high_profile_ext(r: &mut ByteReader<'_>) -> Result<AvcHighProfileExt, CodecError> {
    let chroma_format = r.u8()? & 0x03;
    let bit_depth_luma = (r.u8()? & 0x07) + 8;
    let bit_depth_chroma = (r.u8()? & 0x07) + 8;
    let count = r.u8()?;
    let sps_ext = crate::nal::read_nals(r, usize::from(count))?;
    Ok(AvcHighProfileExt {
        chroma_format,
        bit_depth_luma,
        bit_depth_chroma,
        sps_ext,
    })
}

/// Writes a count byte (`count_bits` OR'd in as reserved bits) then 16-bit-length-prefixed
/// NAL units, leaving out what the format cannot hold.
fn write_nals(out: &mut Vec<u8>, nals: &[Bytes], max_count: usize, reserved: u8) {
    let fitting: Vec<&Bytes> = nals
        .iter()
        .filter(|n| n.len() <= usize::from(u16::MAX))
        .take(max_count)
        .collect();
    // take(max_count) with max_count <= 255 keeps the count in a byte.
    out.push(reserved | fitting.len() as u8);
    for nal in fitting {
        out.extend_from_slice(&(nal.len() as u16).to_be_bytes());
        out.extend_from_slice(nal);
    }
}

#[cfg(test)]
mod tests;
