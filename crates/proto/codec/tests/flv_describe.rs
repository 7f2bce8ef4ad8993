//! End to end: demux an ffmpeg-written FLV file with baton-flv and describe its codecs from
//! the sequence headers, as a relay's status page does. Expected values are ffprobe's.

use baton_codec::describe::{AudioParams, audio_params, video_params};
use baton_flv::{DemuxLimits, FlvDemuxer, TagType};

const SAMPLE_FLV: &[u8] = include_bytes!("../../flv/testdata/h264_aac_160x120.flv");

#[test]
fn describes_the_sample_file() {
    let mut demuxer = FlvDemuxer::new(DemuxLimits::default());
    demuxer.push(SAMPLE_FLV);
    let mut video = None;
    let mut audio = None;
    while let Some(tag) = demuxer.poll_tag().unwrap() {
        match tag.tag_type {
            TagType::Video if video.is_none() => video = video_params(&tag.data),
            TagType::Audio if audio.is_none() => audio = audio_params(&tag.data),
            _ => {}
        }
    }
    let video = video.unwrap();
    assert_eq!(video.codec, "h264");
    assert_eq!((video.width, video.height), (Some(160), Some(120)));
    assert_eq!(video.profile.as_deref(), Some("Constrained Baseline"));
    assert_eq!(video.level.as_deref(), Some("1"));
    assert_eq!(video.frame_rate, Some(15.0));
    assert_eq!(
        audio.unwrap(),
        AudioParams {
            codec: "aac",
            sample_rate: Some(22050),
            channels: Some(1),
            profile: Some("LC".into()),
        }
    );
}
