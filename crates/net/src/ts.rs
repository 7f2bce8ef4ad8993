//! MPEG-TS bytes → [`Frame`]s: the [`baton_mpegts`] demuxer's access units and configuration
//! records as the FLV tag bodies the relay and the hub carry, on one millisecond timeline.
//!
//! Used by the relay (playlist items that are `.ts` files, HLS segments fed one after another
//! into one [`TsFrames`], SRT sources; the relay re-exports this module as `baton_relay::ts`)
//! and by the SRT ingest ([`crate::ingest::srt`]), which is why it lives here, below both. It
//! knows nothing about files or connections: bytes in ([`TsFrames::push`], then
//! [`TsFrames::finish`] at the end of the stream), frames out ([`TsFrames::poll_frame`]).
//!
//! * **Tracks.** The first video (H.264, H.265) and the first audio (AAC, MP3) stream of the
//!   program are carried; a further stream of a kind already carried, and the audio/video
//!   streams the demuxer cannot carry (MPEG-2 video, AC-3, layer II, …), are described in
//!   [`TsFrames::take_dropped`] for the caller to report. Data streams (SCTE-35, ID3,
//!   private sections) are left out silently.
//! * **Bodies.** H.264: `AVCPacketType` 0 with the AVCDecoderConfigurationRecord, 1 with the
//!   NAL units and composition time PTS − DTS; H.265 as Enhanced RTMP (`hvc1`); AAC
//!   `0xAF 00` + AudioSpecificConfig / `0xAF 01` + raw frame; MP3 with the FLV MP3 header
//!   (rate and channels from the frame header). The headers come from [`baton_flv::body`],
//!   the builders MP4 items use too. A record is sent before the first unit that needs it
//!   and again when it changes.
//! * **Time.** 90 kHz ticks become milliseconds relative to the first access unit's DTS
//!   (which is 0 ms; a unit of the other track that decodes earlier is negative). PTS and DTS
//!   are converted each on its own (floor), so nothing accumulates; the composition time is
//!   the difference of the two.
//! * **Order.** The demuxer completes a PES when the next one starts, and muxers put several
//!   audio frames in one PES: across tracks, units come out of order by up to a few hundred
//!   milliseconds. Frames are merged by DTS: one waits until every carried track has a frame
//!   queued (or [`MAX_HELD`] frames are held on a track: a track that stops does not hold
//!   the others up for long), then the earliest leaves.
//!
//! Memory: the demuxer's bounds (see [`baton_mpegts`]) plus at most [`MAX_HELD`] frames a
//! track.

use std::collections::VecDeque;

use baton_flv::body::{
    AAC_RAW_PREFIX, BodyVideoCodec, aac_sequence_header, mp3_header, video_frame_prefix,
    video_sequence_header,
};
use baton_media::{Frame, TagType};
use baton_mpegts::{AccessUnit, Codec, Config, Demuxer, DemuxerConfig, Event, Track};
use bytes::{Bytes, BytesMut};
use tracing::debug;

/// Frames held on one track while waiting for the other, at most.
pub const MAX_HELD: usize = 256;

/// MPEG-TS in, FLV-bodied frames out. See the module docs.
///
/// Calling order: [`push`](Self::push) bytes in any split, then [`poll_frame`](Self::poll_frame)
/// until `None`; at the end of the stream [`finish`](Self::finish) and poll again.
#[derive(Debug)]
pub struct TsFrames {
    demuxer: Demuxer,
    /// The 90 kHz tick that is 0 ms: the first access unit's DTS.
    origin: Option<i64>,
    video: Lane,
    audio: Lane,
    /// Dropped streams not yet taken.
    dropped: Vec<String>,
    finished: bool,
    /// Frames produced.
    frames_out: u64,
}

/// One carried track: its stream and the frames waiting to be merged.
#[derive(Debug, Default)]
struct Lane {
    /// PID and codec of the stream carried.
    stream: Option<(u16, Codec)>,
    /// A sequence-header body waiting for the next unit's DTS.
    record: Option<Bytes>,
    queue: VecDeque<Frame>,
}

impl Default for TsFrames {
    fn default() -> Self {
        TsFrames::new(DemuxerConfig::default())
    }
}

impl TsFrames {
    /// An adapter over a demuxer with `config`'s limits.
    pub fn new(config: DemuxerConfig) -> TsFrames {
        TsFrames {
            demuxer: Demuxer::new(config),
            origin: None,
            video: Lane::default(),
            audio: Lane::default(),
            dropped: Vec::new(),
            finished: false,
            frames_out: 0,
        }
    }

    /// Takes the next piece of the transport stream.
    pub fn push(&mut self, data: &[u8]) {
        self.demuxer.push(data);
        self.drain();
    }

    /// Ends the stream: the last units are completed and every held frame is released.
    pub fn finish(&mut self) {
        self.demuxer.finish();
        self.drain();
        self.finished = true;
    }

    /// The next frame in DTS order across tracks, if one may leave yet.
    pub fn poll_frame(&mut self) -> Option<Frame> {
        let video_first = match (self.video.queue.front(), self.audio.queue.front()) {
            (Some(v), Some(a)) => v.dts <= a.dts,
            (Some(_), None) if self.may_leave_alone(&self.audio, &self.video) => true,
            (None, Some(_)) if self.may_leave_alone(&self.video, &self.audio) => false,
            _ => return None,
        };
        let lane = if video_first {
            &mut self.video
        } else {
            &mut self.audio
        };
        let frame = lane.queue.pop_front();
        self.frames_out += u64::from(frame.is_some());
        frame
    }

    /// Audio/video streams of the program left out since the last call, described (e.g.
    /// "PID 0x102 (AC-3): not carried"): each once.
    pub fn take_dropped(&mut self) -> Vec<String> {
        std::mem::take(&mut self.dropped)
    }

    /// Frames handed out so far.
    pub fn frames_out(&self) -> u64 {
        self.frames_out
    }

    /// Why the stream gave no frame, for an error message: what the demuxer found so far.
    pub fn why_empty(&self) -> String {
        let stats = self.demuxer.stats();
        if stats.packets == 0 {
            format!(
                "no transport stream packets (no 0x47 sync byte every 188 bytes; {} bytes skipped)",
                stats.bytes_skipped
            )
        } else if self.video.stream.is_none() && self.audio.stream.is_none() {
            format!(
                "{} packets but no program with H.264, H.265, AAC or MP3 (PAT/PMT missing, corrupt or listing nothing Baton carries)",
                stats.packets
            )
        } else {
            format!(
                "{} packets but no complete access unit ({} dropped, {} continuity errors)",
                stats.packets, stats.dropped, stats.continuity_errors
            )
        }
    }

    /// Whether the front of `lane` may leave although `other` has nothing queued.
    fn may_leave_alone(&self, other: &Lane, lane: &Lane) -> bool {
        self.finished || other.stream.is_none() || lane.queue.len() >= MAX_HELD
    }

    fn drain(&mut self) {
        while let Some(event) = self.demuxer.poll_event() {
            match event {
                Event::StreamAdded { pid, codec } => self.stream_added(pid, codec),
                Event::StreamSkipped {
                    pid,
                    stream_type,
                    name,
                } => {
                    if is_media(name) {
                        self.dropped.push(format!(
                            "PID {pid:#x} ({name}, stream_type {stream_type:#04x}): not carried"
                        ));
                    } else {
                        debug!(pid, stream_type, name, "MPEG-TS data stream not carried");
                    }
                }
                Event::Config(config) => self.config(config),
                Event::Unit(unit) => self.unit(unit),
                other => debug!(event = ?other, "MPEG-TS"),
            }
        }
    }

    fn stream_added(&mut self, pid: u16, codec: Codec) {
        let lane = self.lane_mut(codec.track());
        match lane.stream {
            None => lane.stream = Some((pid, codec)),
            // A new PMT version changed the stream's type: the demuxer re-announces its
            // record, which goes out before the next unit.
            Some((carried, _)) if carried == pid => lane.stream = Some((pid, codec)),
            Some(_) => {
                let kind = match codec.track() {
                    Track::Video => "video",
                    Track::Audio => "audio",
                };
                self.dropped.push(format!(
                    "PID {pid:#x} ({}): a second {kind} stream",
                    codec_name(codec)
                ));
            }
        }
    }

    fn config(&mut self, config: Config) {
        if !self.carried(config.pid, config.track) {
            return;
        }
        let Some(body) = record_body(config.codec, &config.record) else {
            return;
        };
        // Sent with the next unit's DTS, when it comes (see `unit`): a record whose unit is
        // lost is replaced by the next one.
        self.lane_mut(config.track).record = Some(body);
    }

    fn unit(&mut self, unit: AccessUnit) {
        if !self.carried(unit.pid, unit.track) {
            return;
        }
        let origin = *self.origin.get_or_insert(unit.dts);
        let dts = ticks_to_ms(unit.dts - origin);
        let pts = ticks_to_ms(unit.pts - origin);
        let cts = i32::try_from(pts - dts).unwrap_or(i32::MAX);
        let body = unit_body(unit.codec, unit.keyframe, cts, &unit.data);
        let kind = tag_type(unit.track);
        let lane = self.lane_mut(unit.track);
        if let Some(record) = lane.record.take() {
            lane.queue.push_back(Frame::new(kind, dts, record));
        }
        lane.queue.push_back(Frame::new(kind, dts, body));
    }

    fn carried(&self, pid: u16, track: Track) -> bool {
        let lane = match track {
            Track::Video => &self.video,
            Track::Audio => &self.audio,
        };
        lane.stream.is_some_and(|(carried, _)| carried == pid)
    }

    fn lane_mut(&mut self, track: Track) -> &mut Lane {
        match track {
            Track::Video => &mut self.video,
            Track::Audio => &mut self.audio,
        }
    }
}

/// The FLV tag body that announces a decoder configuration `record` of `codec` (H.264
/// AVCDecoderConfigurationRecord, H.265 HEVCDecoderConfigurationRecord as Enhanced RTMP,
/// AAC AudioSpecificConfig); `None` for MP3, which has none. Shared with the RTSP source
/// ([`crate::rtsp`]), whose depacketizer hands out the same records and units.
pub fn record_body(codec: Codec, record: &[u8]) -> Option<Bytes> {
    let body = match codec {
        Codec::H264 => video_sequence_header(BodyVideoCodec::Avc, record),
        Codec::H265 => video_sequence_header(BodyVideoCodec::Hevc, record),
        Codec::Aac => aac_sequence_header(record),
        Codec::Mp3 => return None,
    };
    Some(Bytes::from(body))
}

/// The FLV tag body of one access unit: `data` (AVCC / HVCC NAL units, a raw AAC frame, an
/// MP3 frame) behind its header, with composition time `cts` ms for video.
pub fn unit_body(codec: Codec, keyframe: bool, cts: i32, data: &[u8]) -> Bytes {
    let mut body = BytesMut::with_capacity(data.len() + 8);
    match codec {
        Codec::H264 => {
            body.extend_from_slice(&video_frame_prefix(BodyVideoCodec::Avc, keyframe, cts))
        }
        Codec::H265 => {
            body.extend_from_slice(&video_frame_prefix(BodyVideoCodec::Hevc, keyframe, cts))
        }
        Codec::Aac => body.extend_from_slice(&AAC_RAW_PREFIX),
        Codec::Mp3 => {
            let (rate, channels) = mp3_rate_and_channels(data);
            body.extend_from_slice(&[mp3_header(rate, channels)]);
        }
    }
    body.extend_from_slice(data);
    body.freeze()
}

/// 90 kHz ticks → milliseconds, rounded down (also below zero).
fn ticks_to_ms(ticks: i64) -> i64 {
    ticks.div_euclid(90)
}

fn tag_type(track: Track) -> TagType {
    match track {
        Track::Video => TagType::Video,
        Track::Audio => TagType::Audio,
    }
}

fn codec_name(codec: Codec) -> &'static str {
    match codec {
        Codec::H264 => "H.264",
        Codec::H265 => "H.265",
        Codec::Aac => "AAC",
        Codec::Mp3 => "MP3",
    }
}

/// Whether a stream the demuxer skipped is audio or video (a track the item plays without)
/// rather than data.
fn is_media(name: &str) -> bool {
    !matches!(
        name,
        "private sections" | "private data" | "DSM-CC" | "SCTE-35" | "ID3 metadata" | "unknown"
    )
}

/// Sample rate and channel count from an MPEG audio frame header (11172-3 2.4.2.3: version
/// bits 19–20, sampling_frequency bits 10–11, mode bits 6–7, 3 = single channel). The
/// demuxer has checked the header; an unreadable one says 44.1 kHz stereo.
fn mp3_rate_and_channels(frame: &[u8]) -> (u32, u8) {
    const RATES: [[u32; 3]; 4] = [
        [11025, 12000, 8000],
        [0, 0, 0],
        [22050, 24000, 16000],
        [44100, 48000, 32000],
    ];
    let [_, b1, b2, b3, ..] = *frame else {
        return (44_100, 2);
    };
    let rate = RATES[usize::from((b1 >> 3) & 0x03)]
        .get(usize::from((b2 >> 2) & 0x03))
        .copied()
        .filter(|&r| r != 0)
        .unwrap_or(44_100);
    let channels = if b3 >> 6 == 3 { 1 } else { 2 };
    (rate, channels)
}

#[cfg(test)]
mod tests;
