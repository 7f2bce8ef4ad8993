//! H.265 sequence parameter set (ITU-T H.265 7.3.2.2.1) up to the bit depths, and
//! profile_tier_level() (7.3.3).

use super::{NAL_SPS, nal_type};
use crate::CodecError;
use crate::bits::BitReader;

const WHAT: &str = "H.265 SPS";

/// The facts of an H.265 SPS a relay reports. Sizes are after the conformance window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HevcSps {
    pub vps_id: u8,
    /// sps_max_sub_layers_minus1 + 1.
    pub max_sub_layers: u8,
    pub temporal_id_nesting: bool,
    pub profile_tier_level: ProfileTierLevel,
    pub sps_id: u32,
    /// 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma_format_idc: u8,
    pub separate_colour_plane: bool,
    /// Displayed width: pic_width_in_luma_samples minus the conformance window.
    pub width: u32,
    /// Displayed height: pic_height_in_luma_samples minus the conformance window.
    pub height: u32,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
}

/// The general part of profile_tier_level() (H.265 7.3.3); sub-layer entries are skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfileTierLevel {
    pub profile_space: u8,
    /// false Main tier, true High tier.
    pub tier: bool,
    pub profile_idc: u8,
    pub profile_compatibility_flags: u32,
    /// progressive_source, interlaced_source, non_packed_constraint, frame_only_constraint
    /// and the 44 bits after them: the 48 bits HEVCDecoderConfigurationRecord copies.
    pub constraint_indicator_flags: u64,
    pub level_idc: u8,
}

impl HevcSps {
    /// Parses an SPS NAL unit (2-byte header included, emulation-prevention bytes in place).
    pub fn parse(nal: &[u8]) -> Result<HevcSps, CodecError> {
        match nal_type(nal) {
            Some(NAL_SPS) if nal.len() >= 2 => {}
            found => {
                return Err(CodecError::NalType {
                    what: WHAT,
                    expected: NAL_SPS,
                    found: found.unwrap_or(0),
                });
            }
        }
        let mut r = BitReader::new_rbsp(&nal[2..], WHAT);
        let vps_id = r.read_bits(4)? as u8;
        let max_sub_layers_minus1 = r.read_bits(3)? as u8;
        if max_sub_layers_minus1 > 6 {
            return Err(CodecError::InvalidValue {
                field: "sps_max_sub_layers_minus1",
                value: u64::from(max_sub_layers_minus1),
            });
        }
        let temporal_id_nesting = r.read_flag()?;
        let profile_tier_level = ProfileTierLevel::parse(&mut r, max_sub_layers_minus1)?;
        let sps_id = r.read_ue_max(15, "sps_seq_parameter_set_id")?;
        let chroma_format_idc = r.read_ue_max(3, "chroma_format_idc")? as u8;
        let separate_colour_plane = chroma_format_idc == 3 && r.read_flag()?;
        let pic_width = u64::from(r.read_ue()?);
        let pic_height = u64::from(r.read_ue()?);
        let window = if r.read_flag()? {
            [r.read_ue()?, r.read_ue()?, r.read_ue()?, r.read_ue()?].map(u64::from)
        } else {
            [0; 4]
        };
        let bit_depth_luma = r.read_ue_max(8, "bit_depth_luma_minus8")? as u8 + 8;
        let bit_depth_chroma = r.read_ue_max(8, "bit_depth_chroma_minus8")? as u8 + 8;

        // Conformance window offsets are in chroma sample units (7.4.3.2.1, Table 6-1).
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let (sub_width, sub_height) = match chroma_array_type {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        let width = windowed(
            pic_width,
            sub_width * (window[0] + window[1]),
            "picture width",
        )?;
        let height = windowed(
            pic_height,
            sub_height * (window[2] + window[3]),
            "picture height",
        )?;
        Ok(HevcSps {
            vps_id,
            max_sub_layers: max_sub_layers_minus1 + 1,
            temporal_id_nesting,
            profile_tier_level,
            sps_id,
            chroma_format_idc,
            separate_colour_plane,
            width,
            height,
            bit_depth_luma,
            bit_depth_chroma,
        })
    }
}

impl ProfileTierLevel {
    /// profile_tier_level(1, max_sub_layers_minus1) (7.3.3).
    pub fn parse(r: &mut BitReader<'_>, max_sub_layers_minus1: u8) -> Result<Self, CodecError> {
        let profile_space = r.read_bits(2)? as u8;
        let tier = r.read_flag()?;
        let profile_idc = r.read_bits(5)? as u8;
        let profile_compatibility_flags = r.read_bits(32)?;
        let constraint_indicator_flags = r.read_bits_u64(48)?;
        let level_idc = r.read_bits(8)? as u8;
        let mut profile_present = [false; 8];
        let mut level_present = [false; 8];
        for i in 0..usize::from(max_sub_layers_minus1) {
            profile_present[i] = r.read_flag()?;
            level_present[i] = r.read_flag()?;
        }
        if max_sub_layers_minus1 > 0 {
            // reserved_zero_2bits for the unused sub-layer slots up to 8.
            r.skip_bits(2 * u64::from(8 - max_sub_layers_minus1))?;
        }
        for i in 0..usize::from(max_sub_layers_minus1) {
            if profile_present[i] {
                // sub_layer profile_space, tier, profile_idc, compatibility flags and the
                // 48 constraint bits: 2 + 1 + 5 + 32 + 48.
                r.skip_bits(88)?;
            }
            if level_present[i] {
                r.skip_bits(8)?;
            }
        }
        Ok(ProfileTierLevel {
            profile_space,
            tier,
            profile_idc,
            profile_compatibility_flags,
            constraint_indicator_flags,
            level_idc,
        })
    }
}

/// `full − window`, which must stay positive and fit in u32.
fn windowed(full: u64, window: u64, field: &'static str) -> Result<u32, CodecError> {
    full.checked_sub(window)
        .filter(|&v| v > 0)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(CodecError::InvalidValue { field, value: full })
}
