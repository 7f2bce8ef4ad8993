//! H.264 sequence parameter set (ITU-T H.264 7.3.2.1.1) and the part of its VUI (Annex E.1.1)
//! that describes the picture: enough for size, sample aspect ratio and frame rate.

use super::{NAL_SPS, nal_type};
use crate::CodecError;
use crate::bits::BitReader;

const WHAT: &str = "H.264 SPS";

/// The facts of an H.264 SPS a relay reports. Sizes are after cropping.
#[derive(Clone, Debug, PartialEq)]
pub struct Sps {
    pub profile_idc: u8,
    /// constraint_set0..5_flag and reserved_zero_2bits, as the byte after profile_idc.
    pub constraint_flags: u8,
    pub level_idc: u8,
    pub sps_id: u32,
    /// 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4 (1 when the profile does not signal it).
    pub chroma_format_idc: u8,
    pub separate_colour_plane: bool,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    /// false for streams that may code fields (interlaced or MBAFF).
    pub frame_mbs_only: bool,
    /// Displayed width in luma samples (pic_width_in_mbs × 16 minus cropping).
    pub width: u32,
    /// Displayed height in luma samples (map units × 16, doubled for field coding, minus
    /// cropping).
    pub height: u32,
    /// Sample aspect ratio from the VUI (Table E-1), if signalled.
    pub sample_aspect_ratio: Option<(u16, u16)>,
    /// Frames per second from the VUI timing info: time_scale / (2 × num_units_in_tick)
    /// (E.2.1: one tick is a field period).
    pub frame_rate: Option<f64>,
}

impl Sps {
    /// Parses an SPS NAL unit (header byte included, emulation-prevention bytes in place).
    ///
    /// Everything up to the cropping window must be well formed. VUI fields are best effort:
    /// a truncated or odd VUI leaves `sample_aspect_ratio`/`frame_rate` as `None` instead of
    /// losing the picture size.
    pub fn parse(nal: &[u8]) -> Result<Sps, CodecError> {
        match nal_type(nal) {
            Some(NAL_SPS) => {}
            found => {
                return Err(CodecError::NalType {
                    what: WHAT,
                    expected: NAL_SPS,
                    found: found.unwrap_or(0),
                });
            }
        }
        let mut r = BitReader::new_rbsp(&nal[1..], WHAT);
        let profile_idc = r.read_bits(8)? as u8;
        let constraint_flags = r.read_bits(8)? as u8;
        let level_idc = r.read_bits(8)? as u8;
        let sps_id = r.read_ue_max(31, "seq_parameter_set_id")?;

        let mut chroma_format_idc = 1;
        let mut separate_colour_plane = false;
        let mut bit_depth_luma = 8;
        let mut bit_depth_chroma = 8;
        if has_chroma_info(profile_idc) {
            chroma_format_idc = r.read_ue_max(3, "chroma_format_idc")? as u8;
            if chroma_format_idc == 3 {
                separate_colour_plane = r.read_flag()?;
            }
            bit_depth_luma = r.read_ue_max(6, "bit_depth_luma_minus8")? as u8 + 8;
            bit_depth_chroma = r.read_ue_max(6, "bit_depth_chroma_minus8")? as u8 + 8;
            let _qpprime_y_zero_transform_bypass = r.read_flag()?;
            if r.read_flag()? {
                // seq_scaling_matrix_present_flag: 8 lists, 12 for 4:4:4.
                let lists = if chroma_format_idc == 3 { 12 } else { 8 };
                for i in 0..lists {
                    if r.read_flag()? {
                        skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                    }
                }
            }
        }
        let _log2_max_frame_num_minus4 = r.read_ue_max(12, "log2_max_frame_num_minus4")?;
        match r.read_ue_max(2, "pic_order_cnt_type")? {
            0 => {
                r.read_ue_max(12, "log2_max_pic_order_cnt_lsb_minus4")?;
            }
            1 => {
                let _delta_pic_order_always_zero = r.read_flag()?;
                let _offset_for_non_ref_pic = r.read_se()?;
                let _offset_for_top_to_bottom_field = r.read_se()?;
                let cycle = r.read_ue_max(255, "num_ref_frames_in_pic_order_cnt_cycle")?;
                for _ in 0..cycle {
                    r.read_se()?;
                }
            }
            _ => {}
        }
        let _max_num_ref_frames = r.read_ue()?;
        let _gaps_in_frame_num_allowed = r.read_flag()?;
        let width_mbs = u64::from(r.read_ue()?) + 1;
        let height_map_units = u64::from(r.read_ue()?) + 1;
        let frame_mbs_only = r.read_flag()?;
        if !frame_mbs_only {
            let _mb_adaptive_frame_field = r.read_flag()?;
        }
        let _direct_8x8_inference = r.read_flag()?;
        let crop = if r.read_flag()? {
            [r.read_ue()?, r.read_ue()?, r.read_ue()?, r.read_ue()?].map(u64::from)
        } else {
            [0; 4]
        };

        // Cropping units (7.4.2.1.1, Table 6-1): SubWidthC/SubHeightC for the chroma format,
        // 1 without chroma arrays; vertical units double when fields are coded.
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
        let field_factor = if frame_mbs_only { 1 } else { 2 };
        let crop_unit_x = sub_width;
        let crop_unit_y = sub_height * field_factor;
        let full_width = width_mbs * 16;
        let full_height = height_map_units * 16 * field_factor;
        let width = cropped(full_width, crop_unit_x * (crop[0] + crop[1]), "frame width")?;
        let height = cropped(
            full_height,
            crop_unit_y * (crop[2] + crop[3]),
            "frame height",
        )?;

        let mut sps = Sps {
            profile_idc,
            constraint_flags,
            level_idc,
            sps_id,
            chroma_format_idc,
            separate_colour_plane,
            bit_depth_luma,
            bit_depth_chroma,
            frame_mbs_only,
            width,
            height,
            sample_aspect_ratio: None,
            frame_rate: None,
        };
        if r.read_flag().unwrap_or(false) {
            // Best effort, see the doc comment: whatever was read before a failure is kept.
            let _ = parse_vui(&mut r, &mut sps);
        }
        Ok(sps)
    }
}

/// Profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices (7.3.2.1.1),
/// plus 144, the High 4:4:4 profile of the 2005 edition, which old streams still carry.
fn has_chroma_info(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135 | 144
    )
}

/// scaling_list() (7.3.2.1.1.1): read only to get past it.
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), CodecError> {
    let mut last_scale: i64 = 8;
    let mut next_scale: i64 = 8;
    for _ in 0..size {
        if next_scale != 0 {
            let delta = i64::from(r.read_se()?);
            next_scale = (last_scale + delta).rem_euclid(256);
        }
        if next_scale != 0 {
            last_scale = next_scale;
        }
    }
    Ok(())
}

/// `full − crop`, which must stay positive and fit in u32.
fn cropped(full: u64, crop: u64, field: &'static str) -> Result<u32, CodecError> {
    full.checked_sub(crop)
        .filter(|&v| v > 0)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(CodecError::InvalidValue { field, value: full })
}

/// Sample aspect ratios for aspect_ratio_idc 1..=16 (Table E-1).
const SAR_TABLE: [(u16, u16); 16] = [
    (1, 1),
    (12, 11),
    (10, 11),
    (16, 11),
    (40, 33),
    (24, 11),
    (20, 11),
    (32, 11),
    (80, 33),
    (18, 11),
    (15, 11),
    (64, 33),
    (160, 99),
    (4, 3),
    (3, 2),
    (2, 1),
];
const EXTENDED_SAR: u32 = 255;

/// vui_parameters() (E.1.1) up to the timing info.
fn parse_vui(r: &mut BitReader<'_>, sps: &mut Sps) -> Result<(), CodecError> {
    if r.read_flag()? {
        let idc = r.read_bits(8)?;
        sps.sample_aspect_ratio = if idc == EXTENDED_SAR {
            Some((r.read_bits(16)? as u16, r.read_bits(16)? as u16))
        } else {
            idc.checked_sub(1)
                .and_then(|i| SAR_TABLE.get(i as usize).copied())
        };
    }
    if r.read_flag()? {
        let _overscan_appropriate = r.read_flag()?;
    }
    if r.read_flag()? {
        let _video_format = r.read_bits(3)?;
        let _video_full_range = r.read_flag()?;
        if r.read_flag()? {
            // colour_primaries, transfer_characteristics, matrix_coefficients
            r.skip_bits(24)?;
        }
    }
    if r.read_flag()? {
        let _chroma_sample_loc_type_top = r.read_ue()?;
        let _chroma_sample_loc_type_bottom = r.read_ue()?;
    }
    if r.read_flag()? {
        let num_units_in_tick = r.read_bits(32)?;
        let time_scale = r.read_bits(32)?;
        if num_units_in_tick > 0 && time_scale > 0 {
            sps.frame_rate = Some(f64::from(time_scale) / (2.0 * f64::from(num_units_in_tick)));
        }
    }
    Ok(())
}
