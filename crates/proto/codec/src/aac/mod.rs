//! AAC: the AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) that FLV and RTMP carry as the audio
//! sequence header, and ADTS framing (ISO/IEC 13818-7 6.2, as in MPEG-TS and `.aac` files).

mod adts;

pub use adts::{AdtsFrames, AdtsHeader, adts_frames, write_adts};

use crate::CodecError;
use crate::bits::{BitReader, BitWriter};

/// Sampling frequencies by samplingFrequencyIndex (14496-3 Table 1.18); 13 and 14 are
/// reserved, 15 means the frequency is written out in 24 bits.
pub const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];
/// samplingFrequencyIndex escape: an explicit 24-bit frequency follows.
pub const EXPLICIT_SAMPLE_RATE: u8 = 15;

// Audio object types (14496-3 Table 1.17) Baton names.
/// AAC Main.
pub const AOT_AAC_MAIN: u8 = 1;
/// AAC Low Complexity, the common one.
pub const AOT_AAC_LC: u8 = 2;
/// AAC Scalable Sample Rate.
pub const AOT_AAC_SSR: u8 = 3;
/// AAC Long Term Prediction.
pub const AOT_AAC_LTP: u8 = 4;
/// Spectral Band Replication: HE-AAC when signalled explicitly.
pub const AOT_SBR: u8 = 5;
/// Error-resilient AAC Low Delay.
pub const AOT_ER_AAC_LD: u8 = 23;
/// Parametric Stereo: HE-AAC v2 when signalled explicitly.
pub const AOT_PS: u8 = 29;
/// Error-resilient AAC Enhanced Low Delay.
pub const AOT_ER_AAC_ELD: u8 = 39;

const WHAT: &str = "AudioSpecificConfig";

/// AudioSpecificConfig (14496-3 1.6.2.1), the parts a relay needs.
///
/// HE-AAC is described by its core: `object_type` is the core object type (AAC-LC),
/// `sample_rate` the core rate, and `sbr_sample_rate` the output rate of the SBR tool, whether
/// signalled explicitly (object type 5/29 first) or by the backward-compatible sync extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// audioObjectType of the core coder: 1 Main, 2 LC, 3 SSR, 4 LTP, 23 LD, 39 ELD...
    pub object_type: u8,
    /// samplingFrequencyIndex, or [`EXPLICIT_SAMPLE_RATE`].
    pub sample_rate_index: u8,
    /// The core sampling frequency in Hz.
    pub sample_rate: u32,
    /// channelConfiguration (Table 1.19): 1–6 are that many channels, 7 is 8 (7.1), 0 means
    /// a program_config_element defines them. See [`AudioSpecificConfig::channels`].
    pub channel_config: u8,
    /// HE-AAC: the SBR output sampling frequency.
    pub sbr_sample_rate: Option<u32>,
    /// HE-AAC v2: parametric stereo is present.
    pub ps: bool,
    /// GASpecificConfig frameLengthFlag: 960-sample frames (480 for LD/ELD) instead of
    /// 1024 (512).
    pub frame_length_960: bool,
}

impl AudioSpecificConfig {
    /// A plain configuration (no SBR/PS, 1024-sample frames), with the sampling frequency
    /// index looked up (explicit when not in the table).
    pub fn new(object_type: u8, sample_rate: u32, channel_config: u8) -> Self {
        AudioSpecificConfig {
            object_type,
            sample_rate_index: sample_rate_index(sample_rate),
            sample_rate,
            channel_config,
            sbr_sample_rate: None,
            ps: false,
            frame_length_960: false,
        }
    }

    /// Parses an AudioSpecificConfig. Fields after GASpecificConfig's first three flags
    /// (program_config_element, extension layers) are not needed and not read.
    pub fn parse(data: &[u8]) -> Result<Self, CodecError> {
        let mut r = BitReader::new(data, WHAT);
        let mut object_type = read_object_type(&mut r)?;
        let (sample_rate_index, sample_rate) = read_sample_rate(&mut r)?;
        let channel_config = r.read_bits(4)? as u8;
        let mut sbr_sample_rate = None;
        let mut ps = false;
        if object_type == AOT_SBR || object_type == AOT_PS {
            // Explicit hierarchical signalling (1.6.5.2): the extension rate, then the core.
            ps = object_type == AOT_PS;
            sbr_sample_rate = Some(read_sample_rate(&mut r)?.1);
            object_type = read_object_type(&mut r)?;
            if object_type == 22 {
                let _extension_channel_configuration = r.read_bits(4)?;
            }
        }
        let mut frame_length_960 = false;
        if is_general_audio(object_type) {
            // GASpecificConfig (4.4.1): frameLengthFlag, dependsOnCoreCoder, extensionFlag.
            frame_length_960 = r.read_flag()?;
            if r.read_flag()? {
                let _core_coder_delay = r.read_bits(14)?;
            }
            let extension_flag = r.read_flag()?;
            // Backward-compatible SBR/PS signalling (1.6.5.2) follows the config, here only
            // reachable when nothing variable-length (PCE, extension fields) sits before it.
            if sbr_sample_rate.is_none()
                && channel_config != 0
                && !extension_flag
                && !matches!(object_type, 6 | 20)
                && let Ok((rate, has_ps)) = read_sync_extension(&mut r)
            {
                sbr_sample_rate = rate;
                ps = has_ps;
            }
        }
        Ok(AudioSpecificConfig {
            object_type,
            sample_rate_index,
            sample_rate,
            channel_config,
            sbr_sample_rate,
            ps,
            frame_length_960,
        })
    }

    /// Serializes the configuration. SBR/PS use explicit hierarchical signalling (object type
    /// 5 or 29 first), which every HE-AAC decoder reads. `sample_rate` is written out only
    /// when `sample_rate_index` is not a table index (0..=12).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = BitWriter::new();
        let write_rate = |w: &mut BitWriter, index: u8, rate: u32| {
            if usize::from(index) < SAMPLE_RATES.len() {
                w.write_bits(u64::from(index), 4);
            } else {
                w.write_bits(u64::from(EXPLICIT_SAMPLE_RATE), 4);
                w.write_bits(u64::from(rate), 24);
            }
        };
        match self.sbr_sample_rate {
            Some(sbr_rate) => {
                write_object_type(&mut w, if self.ps { AOT_PS } else { AOT_SBR });
                write_rate(&mut w, self.sample_rate_index, self.sample_rate);
                w.write_bits(u64::from(self.channel_config), 4);
                write_rate(&mut w, sample_rate_index(sbr_rate), sbr_rate);
                write_object_type(&mut w, self.object_type);
            }
            None => {
                write_object_type(&mut w, self.object_type);
                write_rate(&mut w, self.sample_rate_index, self.sample_rate);
                w.write_bits(u64::from(self.channel_config), 4);
            }
        }
        if is_general_audio(self.object_type) {
            w.write_bit(self.frame_length_960);
            w.write_bit(false); // dependsOnCoreCoder
            w.write_bit(false); // extensionFlag
        }
        w.finish()
    }

    /// Samples per channel in one frame of the core coder.
    pub fn samples_per_frame(&self) -> u32 {
        let low_delay = matches!(self.object_type, AOT_ER_AAC_LD | AOT_ER_AAC_ELD);
        match (low_delay, self.frame_length_960) {
            (false, false) => 1024,
            (false, true) => 960,
            (true, false) => 512,
            (true, true) => 480,
        }
    }

    /// Duration of one AAC frame in milliseconds (1024 samples at the core rate = 23.2 ms at
    /// 44.1 kHz; SBR doubles both the samples and the rate, so HE-AAC frames last as long).
    /// 0 if the sample rate is 0.
    pub fn frame_duration_ms(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        f64::from(self.samples_per_frame()) * 1000.0 / f64::from(self.sample_rate)
    }

    /// The sampling frequency a decoder outputs: the SBR rate for HE-AAC, else the core rate.
    pub fn output_sample_rate(&self) -> u32 {
        self.sbr_sample_rate.unwrap_or(self.sample_rate)
    }

    /// The number of channels channel_config stands for (Table 1.19; HE-AAC v2's mono core
    /// decodes to stereo), `None` when a program_config_element defines them or the value
    /// is reserved.
    pub fn channels(&self) -> Option<u8> {
        let core = match self.channel_config {
            c @ 1..=6 => c,
            7 | 12 | 14 => 8,
            11 => 7,
            13 => 24,
            _ => return None,
        };
        Some(if self.ps && core == 1 { 2 } else { core })
    }

    /// The usual profile name: "LC", "HE-AAC", "HE-AACv2", "Main", "LD"...
    pub fn profile_name(&self) -> String {
        match (self.object_type, self.sbr_sample_rate.is_some(), self.ps) {
            (AOT_AAC_LC, _, true) => "HE-AACv2".to_string(),
            (AOT_AAC_LC, true, false) => "HE-AAC".to_string(),
            (AOT_AAC_LC, false, _) => "LC".to_string(),
            (AOT_AAC_MAIN, ..) => "Main".to_string(),
            (AOT_AAC_SSR, ..) => "SSR".to_string(),
            (AOT_AAC_LTP, ..) => "LTP".to_string(),
            (AOT_ER_AAC_LD, ..) => "LD".to_string(),
            (AOT_ER_AAC_ELD, ..) => "ELD".to_string(),
            (other, ..) => format!("AOT {other}"),
        }
    }
}

/// The samplingFrequencyIndex of `rate`, or [`EXPLICIT_SAMPLE_RATE`] when the table lacks it.
pub fn sample_rate_index(rate: u32) -> u8 {
    SAMPLE_RATES
        .iter()
        .position(|&r| r == rate)
        // The table has 13 entries.
        .map_or(EXPLICIT_SAMPLE_RATE, |i| i as u8)
}

/// Object types whose config is a GASpecificConfig (14496-3 1.6.2.1).
fn is_general_audio(object_type: u8) -> bool {
    matches!(object_type, 1..=4 | 6 | 7 | 17 | 19..=23)
}

/// GetAudioObjectType() (1.6.2.1.1): 5 bits, 31 escapes to 32 + 6 bits.
fn read_object_type(r: &mut BitReader<'_>) -> Result<u8, CodecError> {
    let t = r.read_bits(5)? as u8;
    if t == 31 {
        return Ok(32 + r.read_bits(6)? as u8);
    }
    Ok(t)
}

fn write_object_type(w: &mut BitWriter, object_type: u8) {
    if object_type >= 31 {
        w.write_bits(31, 5);
        w.write_bits(u64::from(object_type.saturating_sub(32).min(63)), 6);
    } else {
        w.write_bits(u64::from(object_type), 5);
    }
}

/// samplingFrequencyIndex and, for index 15, the explicit 24-bit frequency.
fn read_sample_rate(r: &mut BitReader<'_>) -> Result<(u8, u32), CodecError> {
    let index = r.read_bits(4)? as u8;
    let rate = match index {
        EXPLICIT_SAMPLE_RATE => r.read_bits(24)?,
        i => SAMPLE_RATES
            .get(usize::from(i))
            .copied()
            .ok_or(CodecError::InvalidValue {
                field: "samplingFrequencyIndex",
                value: u64::from(i),
            })?,
    };
    if rate == 0 {
        return Err(CodecError::InvalidValue {
            field: "samplingFrequency",
            value: 0,
        });
    }
    Ok((index, rate))
}

/// The backward-compatible extension after GASpecificConfig (1.6.5.2): syncExtensionType
/// 0x2b7, extension object type 5 and sbrPresentFlag, then optionally 0x548 and
/// psPresentFlag. Returns the SBR rate (if SBR is present) and whether PS is.
fn read_sync_extension(r: &mut BitReader<'_>) -> Result<(Option<u32>, bool), CodecError> {
    if r.bits_left() < 16 || r.read_bits(11)? != 0x2b7 {
        return Ok((None, false));
    }
    if read_object_type(r)? != AOT_SBR || !r.read_flag()? {
        return Ok((None, false));
    }
    let (_, rate) = read_sample_rate(r)?;
    let ps = r.bits_left() >= 12 && r.read_bits(11)? == 0x548 && r.read_flag()?;
    Ok((Some(rate), ps))
}

#[cfg(test)]
mod tests;
