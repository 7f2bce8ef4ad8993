//! Status-level descriptions of a stream's codecs, from FLV/RTMP tag bodies: what an operator
//! sees ("h264 1280x720 High 3.1", "aac 44100 Hz stereo LC").

use baton_flv::{
    AudioCodec, VideoCodec, VideoPacket, parse_audio_tag_header, parse_video_tag_header,
};

use crate::{aac, av1, avc, hevc};

/// A video stream's codec and, from its sequence header, picture size and profile.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoParams {
    /// "h264", "hevc", "av1", "vp9", "vp8", "h263", "vp6"... or "unknown".
    pub codec: &'static str,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// "High", "Main 10"...
    pub profile: Option<String>,
    /// "3.1", "4"... (HEVC: with " High tier" appended for the high tier).
    pub level: Option<String>,
    /// Frames per second declared in the parameter sets (H.264 VUI, AV1 timing info).
    pub frame_rate: Option<f64>,
}

/// An audio stream's codec and, from its sequence header or legacy flags, its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioParams {
    /// "aac", "mp3", "opus", "pcm", "g711a", "speex"... or "unknown".
    pub codec: &'static str,
    /// Output sampling frequency in Hz (AAC: the SBR rate for HE-AAC).
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
    /// AAC profile: "LC", "HE-AAC", "HE-AACv2"...
    pub profile: Option<String>,
}

/// Describes a video stream from a video tag body.
///
/// Given a sequence header (AVCDecoderConfigurationRecord, hvcC, av1C; legacy CodecID 7/12 or
/// Enhanced RTMP `avc1`/`hvc1`/`av01`), the details are filled in as far as the record
/// parses. Any other body gives the codec name alone. `None` only if the tag header itself
/// does not parse.
pub fn video_params(seq_header_tag_body: &[u8]) -> Option<VideoParams> {
    let header = parse_video_tag_header(seq_header_tag_body).ok()?;
    let mut params = VideoParams {
        codec: video_codec_name(header.codec),
        width: None,
        height: None,
        profile: None,
        level: None,
        frame_rate: None,
    };
    if header.packet != VideoPacket::SequenceHeader {
        return Some(params);
    }
    let record = seq_header_tag_body.get(header.payload_offset..)?;
    match header.codec {
        VideoCodec::Avc => describe_avc(record, &mut params),
        VideoCodec::Hevc => describe_hevc(record, &mut params),
        VideoCodec::Av1 => describe_av1(record, &mut params),
        _ => {}
    }
    Some(params)
}

/// Describes an audio stream from an audio tag body.
///
/// AAC needs its sequence header (AudioSpecificConfig); Enhanced RTMP Opus its `OpusHead`.
/// Legacy formats (MP3, PCM, Speex...) are described from the flags of any tag body. `None`
/// only if the tag header itself does not parse.
pub fn audio_params(seq_header_tag_body: &[u8]) -> Option<AudioParams> {
    let header = parse_audio_tag_header(seq_header_tag_body).ok()?;
    let first = *seq_header_tag_body.first()?;
    let mut params = AudioParams {
        codec: audio_codec_name(header.codec),
        sample_rate: None,
        channels: None,
        profile: None,
    };
    let payload = seq_header_tag_body.get(header.payload_offset..)?;
    match header.codec {
        // Legacy AAC tags always claim 44 kHz stereo; only the config counts.
        AudioCodec::Aac if header.sequence_header => {
            if let Ok(asc) = aac::AudioSpecificConfig::parse(payload) {
                params.sample_rate = Some(asc.output_sample_rate());
                params.channels = asc.channels();
                params.profile = Some(asc.profile_name());
            }
        }
        // OpusHead (RFC 7845 5.1): magic, version, channel count; output is 48 kHz.
        AudioCodec::Opus
            if header.sequence_header
                && payload.len() >= 10
                && payload.starts_with(b"OpusHead") =>
        {
            params.sample_rate = Some(48000);
            params.channels = Some(payload[9]);
        }
        AudioCodec::Aac | AudioCodec::Opus => {}
        _ if !header.enhanced => {
            // SoundRate, SoundSize, SoundType (FLV spec E.4.2.1). Nellymoser 8/16 kHz and
            // MP3 8 kHz have fixed rates the flags do not express.
            let sound_format = first >> 4;
            params.sample_rate = Some(match sound_format {
                5 | 14 => 8000,
                4 => 16000,
                _ => [5512, 11025, 22050, 44100][usize::from((first >> 2) & 0x03)],
            });
            params.channels = Some(if first & 0x01 != 0 { 2 } else { 1 });
        }
        _ => {}
    }
    Some(params)
}

fn describe_avc(record: &[u8], params: &mut VideoParams) {
    let Ok(config) = avc::AvcDecoderConfig::parse(record) else {
        return;
    };
    params.profile = avc::profile_name(config.profile, config.compatibility).map(str::to_string);
    params.level = Some(avc::level_name(
        config.profile,
        config.compatibility,
        config.level,
    ));
    if let Some(Ok(sps)) = config.first_sps() {
        params.width = Some(sps.width);
        params.height = Some(sps.height);
        params.frame_rate = sps.frame_rate;
    }
}

fn describe_hevc(record: &[u8], params: &mut VideoParams) {
    let Ok(config) = hevc::HevcDecoderConfig::parse(record) else {
        return;
    };
    params.profile = hevc::profile_name(
        config.general_profile_idc,
        config.general_profile_compatibility_flags,
    )
    .map(str::to_string);
    let level = hevc::level_name(config.general_level_idc);
    params.level = Some(if config.general_tier {
        format!("{level} High tier")
    } else {
        level
    });
    if let Some(Ok(sps)) = config.first_sps() {
        params.width = Some(sps.width);
        params.height = Some(sps.height);
    }
}

fn describe_av1(record: &[u8], params: &mut VideoParams) {
    let Ok(config) = av1::Av1Config::parse(record) else {
        return;
    };
    params.profile = av1::profile_name(config.seq_profile).map(str::to_string);
    params.level = Some(av1::level_name(config.seq_level_idx_0));
    if let Some(Ok(sh)) = config.sequence_header() {
        params.width = Some(sh.max_frame_width);
        params.height = Some(sh.max_frame_height);
        params.frame_rate = sh.frame_rate;
    }
}

fn video_codec_name(codec: VideoCodec) -> &'static str {
    match codec {
        VideoCodec::Avc => "h264",
        VideoCodec::Hevc => "hevc",
        VideoCodec::Av1 => "av1",
        VideoCodec::Vp9 => "vp9",
        VideoCodec::Vp8 => "vp8",
        // FLV spec E.4.3.1 CodecID.
        VideoCodec::Legacy(2) => "h263",
        VideoCodec::Legacy(3) => "screen",
        VideoCodec::Legacy(4) => "vp6",
        VideoCodec::Legacy(5) => "vp6a",
        VideoCodec::Legacy(6) => "screen2",
        VideoCodec::Legacy(_) | VideoCodec::FourCc(_) => "unknown",
    }
}

fn audio_codec_name(codec: AudioCodec) -> &'static str {
    match codec {
        AudioCodec::Aac => "aac",
        AudioCodec::Mp3 => "mp3",
        AudioCodec::Opus => "opus",
        // FLV spec E.4.2.1 SoundFormat.
        AudioCodec::Legacy(0) => "pcm",
        AudioCodec::Legacy(1) => "adpcm",
        AudioCodec::Legacy(3) => "pcm_le",
        AudioCodec::Legacy(4..=6) => "nellymoser",
        AudioCodec::Legacy(7) => "g711a",
        AudioCodec::Legacy(8) => "g711u",
        AudioCodec::Legacy(11) => "speex",
        AudioCodec::Legacy(14) => "mp3",
        AudioCodec::FourCc(fourcc) => match &fourcc {
            b"ac-3" => "ac3",
            b"ec-3" => "eac3",
            b"fLaC" => "flac",
            _ => "unknown",
        },
        AudioCodec::Legacy(_) => "unknown",
    }
}

#[cfg(test)]
mod tests;
