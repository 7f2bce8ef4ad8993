//! One carried elementary stream: continuity, PES reassembly, and the conversion of complete
//! PES packets into configuration records and access units.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::audio::AudioTrack;
use crate::pes::{self, PesError, PesHeader};
use crate::timestamp::Unwrapper;
use crate::video::VideoTrack;
use crate::{AccessUnit, Codec, Config, DropReason, Event, Track};

/// The per-codec conversion state.
#[derive(Debug)]
enum Converter {
    Video(VideoTrack),
    Audio(AudioTrack),
}

/// A PES being reassembled.
#[derive(Debug)]
struct PesInProgress {
    buf: Vec<u8>,
    /// Parsed once enough bytes arrived.
    header: Option<PesHeader>,
    random_access: bool,
}

/// One carried elementary stream.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) pid: u16,
    pub(crate) stream_type: u8,
    pub(crate) codec: Codec,
    /// The last continuity_counter of a packet with payload.
    pub(crate) cc: Option<u8>,
    /// `None`: waiting for the next payload_unit_start_indicator.
    pes: Option<PesInProgress>,
    converter: Converter,
    /// The stream turned out to be uncarriable (MPEG audio layer I/II); its packets are ignored.
    pub(crate) refused: bool,
    pub(crate) scrambled_reported: bool,
}

/// What a completed PES produced, for the demuxer's statistics.
#[derive(Debug, Default)]
pub(crate) struct Produced {
    pub(crate) units: u64,
    pub(crate) dropped: u64,
}

impl Stream {
    pub(crate) fn new(pid: u16, stream_type: u8, codec: Codec) -> Self {
        let converter = match codec.track() {
            Track::Video => Converter::Video(VideoTrack::new(codec)),
            Track::Audio => Converter::Audio(AudioTrack::new(codec)),
        };
        Stream {
            pid,
            stream_type,
            codec,
            cc: None,
            pes: None,
            converter,
            refused: false,
            scrambled_reported: false,
        }
    }

    /// Drops the PES in progress (packets were lost); the next one starts at a PUSI.
    pub(crate) fn lose(&mut self) {
        self.pes = None;
        if let Converter::Audio(a) = &mut self.converter {
            a.reset();
        }
    }

    /// Takes one packet payload.
    pub(crate) fn payload(
        &mut self,
        pusi: bool,
        random_access: bool,
        payload: &[u8],
        max_pes: usize,
        clock: &mut Unwrapper,
        events: &mut VecDeque<Event>,
    ) -> Produced {
        let mut produced = Produced::default();
        if pusi {
            if self.pes.is_some() {
                produced = self.finish(clock, events);
            }
            self.pes = Some(PesInProgress {
                buf: Vec::with_capacity(payload.len().max(4096).min(max_pes)),
                header: None,
                random_access,
            });
        }
        let Some(pes) = &mut self.pes else {
            return produced;
        };
        if pes.buf.len() + payload.len() > max_pes {
            self.pes = None;
            produced.dropped += 1;
            events.push_back(dropped(
                self.pid,
                DropReason::PesTooLarge { limit: max_pes },
            ));
            return produced;
        }
        pes.buf.extend_from_slice(payload);
        if pes.header.is_none() {
            match pes::parse_header(&pes.buf) {
                Ok(header) => pes.header = Some(header),
                Err(PesError::Truncated) => return produced,
                Err(PesError::Malformed) => {
                    self.pes = None;
                    produced.dropped += 1;
                    events.push_back(dropped(self.pid, DropReason::BadPesHeader));
                    return produced;
                }
            }
        }
        let complete = pes
            .header
            .and_then(|h| h.total_len)
            .is_some_and(|total| pes.buf.len() >= total);
        if complete {
            let more = self.finish(clock, events);
            produced.units += more.units;
            produced.dropped += more.dropped;
        }
        produced
    }

    /// Completes the PES in progress: at the next PUSI, when its declared length has arrived,
    /// or at the end of the input.
    pub(crate) fn finish(
        &mut self,
        clock: &mut Unwrapper,
        events: &mut VecDeque<Event>,
    ) -> Produced {
        let mut produced = Produced::default();
        let Some(pes) = self.pes.take() else {
            return produced;
        };
        let header = match pes.header {
            Some(h) => h,
            None => {
                // Started but never long enough for its header.
                if !pes.buf.is_empty() {
                    produced.dropped += 1;
                    events.push_back(dropped(self.pid, DropReason::PesTruncated));
                }
                return produced;
            }
        };
        let end = match header.total_len {
            Some(total) if pes.buf.len() < total => {
                produced.dropped += 1;
                events.push_back(dropped(self.pid, DropReason::PesTruncated));
                return produced;
            }
            Some(total) => total,
            None => pes.buf.len(),
        };
        let es = pes.buf.get(header.payload_offset..end).unwrap_or(&[]);
        let pts = header.pts.map(|p| clock.unwrap(p));
        let dts = header.dts.map(|d| clock.unwrap(d));
        match &mut self.converter {
            Converter::Video(video) => {
                let Some(pts) = pts else {
                    produced.dropped += 1;
                    events.push_back(dropped(self.pid, DropReason::NoTimestamp));
                    return produced;
                };
                let sample = match video.convert(es) {
                    Ok(sample) => sample,
                    Err(e) => {
                        produced.dropped += 1;
                        events.push_back(dropped(
                            self.pid,
                            DropReason::BadParameterSets(e.to_string()),
                        ));
                        return produced;
                    }
                };
                if let Some(record) = sample.config {
                    events.push_back(Event::Config(Config {
                        pid: self.pid,
                        track: Track::Video,
                        codec: self.codec,
                        record,
                    }));
                }
                if sample.data.is_empty() {
                    return produced;
                }
                if !video.configured() {
                    produced.dropped += 1;
                    events.push_back(dropped(self.pid, DropReason::BeforeConfig));
                    return produced;
                }
                produced.units += 1;
                events.push_back(Event::Unit(AccessUnit {
                    pid: self.pid,
                    track: Track::Video,
                    codec: self.codec,
                    pts,
                    dts: dts.unwrap_or(pts),
                    // Broadcast encoders often start GOPs with non-IDR I pictures (open
                    // GOP, a recovery point SEI). Such a picture is a keyframe too when the
                    // source marks it random access and sends the SPS with it.
                    keyframe: sample.keyframe || (pes.random_access && sample.has_sps),
                    random_access: pes.random_access,
                    data: Bytes::from(sample.data),
                }));
            }
            Converter::Audio(audio) => {
                let out = audio.convert(es, pts);
                if let Some(name) = out.unsupported {
                    self.refused = true;
                    events.push_back(Event::StreamSkipped {
                        pid: self.pid,
                        stream_type: self.stream_type,
                        name,
                    });
                    return produced;
                }
                if out.skipped_garbage {
                    events.push_back(dropped(self.pid, DropReason::BadAudioFrames));
                }
                if out.untimed > 0 {
                    produced.dropped += 1;
                    events.push_back(dropped(self.pid, DropReason::NoTimestamp));
                }
                if let Some(record) = out.config {
                    events.push_back(Event::Config(Config {
                        pid: self.pid,
                        track: Track::Audio,
                        codec: self.codec,
                        record,
                    }));
                }
                for (i, frame) in out.frames.into_iter().enumerate() {
                    produced.units += 1;
                    events.push_back(Event::Unit(AccessUnit {
                        pid: self.pid,
                        track: Track::Audio,
                        codec: self.codec,
                        pts: frame.pts,
                        dts: frame.pts,
                        keyframe: true,
                        random_access: pes.random_access && i == 0,
                        data: frame.data,
                    }));
                }
            }
        }
        produced
    }
}

fn dropped(pid: u16, reason: DropReason) -> Event {
    Event::Dropped { pid, reason }
}
