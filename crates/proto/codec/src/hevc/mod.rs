//! H.265 / HEVC: the HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1), carried as the
//! video sequence header by legacy FLV CodecID 12 and Enhanced RTMP `hvc1`, and the sequence
//! parameter set up to the picture size and bit depths (ITU-T H.265 7.3.2.2.1).

mod sps;

use bytes::Bytes;

pub use crate::nal::{AnnexBNals, AvccNals, annexb_to_avcc, avcc_nals, split_annexb};
pub use sps::{HevcSps, ProfileTierLevel};

use crate::CodecError;
use crate::bits::ByteReader;

// nal_unit_type values (H.265 Table 7-1).
/// Video parameter set.
pub const NAL_VPS: u8 = 32;
/// Sequence parameter set.
pub const NAL_SPS: u8 = 33;
/// Picture parameter set.
pub const NAL_PPS: u8 = 34;
/// Access unit delimiter.
pub const NAL_AUD: u8 = 35;
/// Prefix supplemental enhancement information.
pub const NAL_SEI_PREFIX: u8 = 39;
/// Suffix supplemental enhancement information.
pub const NAL_SEI_SUFFIX: u8 = 40;

/// The nal_unit_type of an H.265 NAL unit (H.265 7.3.1.2), `None` for an empty slice.
pub fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| (b >> 1) & 0x3f)
}

/// Whether a nal_unit_type is an IRAP picture (BLA, IDR, CRA: types 16..=23), where decoding
/// can start.
pub fn is_irap(nal_type: u8) -> bool {
    (16..=23).contains(&nal_type)
}

const RECORD: &str = "HEVCDecoderConfigurationRecord";

/// HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HevcDecoderConfig {
    pub general_profile_space: u8,
    /// general_tier_flag: false Main tier, true High tier.
    pub general_tier: bool,
    pub general_profile_idc: u8,
    pub general_profile_compatibility_flags: u32,
    /// The 48 bits of progressive/interlaced/non-packed/frame-only and constraint flags.
    pub general_constraint_indicator_flags: u64,
    pub general_level_idc: u8,
    pub min_spatial_segmentation_idc: u16,
    pub parallelism_type: u8,
    /// chroma_format_idc: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma_format: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    /// Frames per 256 seconds, 0 = unspecified.
    pub avg_frame_rate: u16,
    pub constant_frame_rate: u8,
    pub num_temporal_layers: u8,
    pub temporal_id_nested: bool,
    /// Bytes in each NAL unit length prefix of the coded frames (lengthSizeMinusOne + 1).
    pub nal_length_size: u8,
    /// Parameter sets and SEI, grouped by NAL unit type.
    pub arrays: Vec<NalArray>,
}

/// One array of the record: NAL units of one type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NalArray {
    /// array_completeness: all NAL units of this type are here, none in the stream.
    pub complete: bool,
    pub nal_type: u8,
    /// Whole NAL units, 2-byte header included.
    pub nals: Vec<Bytes>,
}

impl HevcDecoderConfig {
    /// Parses a record. configurationVersion 1 is the standard; 0 is also accepted because
    /// early muxers wrote it with the same layout.
    pub fn parse(data: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::new(data, RECORD);
        let version = r.u8()?;
        if version > 1 {
            return Err(CodecError::UnsupportedVersion {
                record: RECORD,
                version,
            });
        }
        let b = r.u8()?;
        let general_profile_compatibility_flags = r.u32()?;
        let hi = u64::from(r.u32()?);
        let lo = u64::from(r.u16()?);
        let general_level_idc = r.u8()?;
        let min_spatial_segmentation_idc = r.u16()? & 0x0fff;
        let parallelism_type = r.u8()? & 0x03;
        let chroma_format = r.u8()? & 0x03;
        let bit_depth_luma = (r.u8()? & 0x07) + 8;
        let bit_depth_chroma = (r.u8()? & 0x07) + 8;
        let avg_frame_rate = r.u16()?;
        let t = r.u8()?;
        let num_arrays = r.u8()?;
        let mut arrays = Vec::new();
        for _ in 0..num_arrays {
            let head = r.u8()?;
            let count = r.u16()?;
            let nals = crate::nal::read_nals(&mut r, usize::from(count))?;
            arrays.push(NalArray {
                complete: head & 0x80 != 0,
                nal_type: head & 0x3f,
                nals,
            });
        }
        Ok(HevcDecoderConfig {
            general_profile_space: b >> 6,
            general_tier: b & 0x20 != 0,
            general_profile_idc: b & 0x1f,
            general_profile_compatibility_flags,
            general_constraint_indicator_flags: (hi << 16) | lo,
            general_level_idc,
            min_spatial_segmentation_idc,
            parallelism_type,
            chroma_format,
            bit_depth_luma,
            bit_depth_chroma,
            avg_frame_rate,
            constant_frame_rate: t >> 6,
            num_temporal_layers: (t >> 3) & 0x07,
            temporal_id_nested: t & 0x04 != 0,
            nal_length_size: (t & 0x03) + 1,
            arrays,
        })
    }

    /// Serializes the record (configurationVersion 1, reserved bits set). The format holds at
    /// most 255 arrays of 65535 NAL units of up to 65535 bytes; anything beyond (which `parse`
    /// and `from_parameter_sets` never produce) is left out.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(23 + self.arrays.len() * 8);
        out.push(1);
        out.push(
            (self.general_profile_space & 0x03) << 6
                | u8::from(self.general_tier) << 5
                | (self.general_profile_idc & 0x1f),
        );
        out.extend_from_slice(&self.general_profile_compatibility_flags.to_be_bytes());
        out.extend_from_slice(&self.general_constraint_indicator_flags.to_be_bytes()[2..]);
        out.push(self.general_level_idc);
        out.extend_from_slice(
            &(0xf000 | (self.min_spatial_segmentation_idc & 0x0fff)).to_be_bytes(),
        );
        out.push(0xfc | (self.parallelism_type & 0x03));
        out.push(0xfc | (self.chroma_format & 0x03));
        out.push(0xf8 | (self.bit_depth_luma.saturating_sub(8) & 0x07));
        out.push(0xf8 | (self.bit_depth_chroma.saturating_sub(8) & 0x07));
        out.extend_from_slice(&self.avg_frame_rate.to_be_bytes());
        out.push(
            (self.constant_frame_rate & 0x03) << 6
                | (self.num_temporal_layers & 0x07) << 3
                | u8::from(self.temporal_id_nested) << 2
                | (self.nal_length_size.clamp(1, 4) - 1),
        );
        let arrays = &self.arrays[..self.arrays.len().min(255)];
        // At most 255 arrays, see above.
        out.push(arrays.len() as u8);
        for array in arrays {
            out.push(u8::from(array.complete) << 7 | (array.nal_type & 0x3f));
            let nals: Vec<&Bytes> = array
                .nals
                .iter()
                .filter(|n| n.len() <= usize::from(u16::MAX))
                .take(usize::from(u16::MAX))
                .collect();
            // take(u16::MAX) keeps the count in 16 bits.
            out.extend_from_slice(&(nals.len() as u16).to_be_bytes());
            for nal in nals {
                out.extend_from_slice(&(nal.len() as u16).to_be_bytes());
                out.extend_from_slice(nal);
            }
        }
        out
    }

    /// Builds a record from one VPS, SPS and PPS NAL unit (e.g. from an Annex B stream), with
    /// 4-byte NAL unit lengths. Arrays are marked incomplete: parameter sets may also repeat
    /// in the stream.
    pub fn from_parameter_sets(vps: &[u8], sps: &[u8], pps: &[u8]) -> Result<Self, CodecError> {
        let parsed = HevcSps::parse(sps)?;
        for (nal, expected, what) in [(vps, NAL_VPS, "VPS"), (pps, NAL_PPS, "PPS")] {
            let found = nal_type(nal).unwrap_or(0);
            if found != expected {
                return Err(CodecError::NalType {
                    what,
                    expected,
                    found,
                });
            }
        }
        if [vps, sps, pps]
            .iter()
            .any(|n| n.len() > usize::from(u16::MAX))
        {
            return Err(CodecError::TooLarge("parameter set length"));
        }
        let array = |nal_type, nal: &[u8]| NalArray {
            complete: false,
            nal_type,
            nals: vec![Bytes::copy_from_slice(nal)],
        };
        let ptl = &parsed.profile_tier_level;
        Ok(HevcDecoderConfig {
            general_profile_space: ptl.profile_space,
            general_tier: ptl.tier,
            general_profile_idc: ptl.profile_idc,
            general_profile_compatibility_flags: ptl.profile_compatibility_flags,
            general_constraint_indicator_flags: ptl.constraint_indicator_flags,
            general_level_idc: ptl.level_idc,
            min_spatial_segmentation_idc: 0,
            parallelism_type: 0,
            chroma_format: parsed.chroma_format_idc,
            bit_depth_luma: parsed.bit_depth_luma,
            bit_depth_chroma: parsed.bit_depth_chroma,
            avg_frame_rate: 0,
            constant_frame_rate: 0,
            num_temporal_layers: parsed.max_sub_layers,
            temporal_id_nested: parsed.temporal_id_nesting,
            nal_length_size: 4,
            arrays: vec![
                array(NAL_VPS, vps),
                array(NAL_SPS, sps),
                array(NAL_PPS, pps),
            ],
        })
    }

    /// The NAL units of one type, in record order.
    pub fn nals_of_type(&self, nal_type: u8) -> impl Iterator<Item = &Bytes> {
        self.arrays
            .iter()
            .filter(move |a| a.nal_type == nal_type)
            .flat_map(|a| a.nals.iter())
    }

    /// Parses the first SPS of the record.
    pub fn first_sps(&self) -> Option<Result<HevcSps, CodecError>> {
        self.nals_of_type(NAL_SPS)
            .next()
            .map(|nal| HevcSps::parse(nal))
    }
}

/// The profile's name (H.265 Annex A), from general_profile_idc or, when that is 0, the first
/// compatibility flag set (A.3: a decoder conforming to profile j may decode the stream).
pub fn profile_name(profile_idc: u8, compatibility_flags: u32) -> Option<&'static str> {
    let idc = if profile_idc == 0 {
        (1..32).find(|j| compatibility_flags & (1u32 << (31 - j)) != 0)?
    } else {
        u32::from(profile_idc)
    };
    Some(match idc {
        1 => "Main",
        2 => "Main 10",
        3 => "Main Still Picture",
        4 => "Format Range Extensions",
        5 => "High Throughput",
        6 => "Multiview Main",
        7 => "Scalable Main",
        8 => "3D Main",
        9 => "Screen Content Coding",
        10 => "Scalable Format Range Extensions",
        11 => "High Throughput Screen Content Coding",
        _ => return None,
    })
}

/// The level as Annex A writes it: general_level_idc is 30 × the level ("3.1" from 93, "4"
/// from 120).
pub fn level_name(level_idc: u8) -> String {
    let major = level_idc / 30;
    let minor = (level_idc % 30) / 3;
    if minor == 0 {
        major.to_string()
    } else {
        format!("{major}.{minor}")
    }
}

#[cfg(test)]
mod tests;
