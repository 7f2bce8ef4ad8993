//! AAC in ADTS (ISO/IEC 13818-7 6.2) and MPEG-1/2 audio layer III (ISO/IEC 11172-3 2.4.1.3,
//! 13818-3) elementary streams cut into single frames.
//!
//! A PES packet holds whole frames in practice, but 13818-1 does not require it: a frame may
//! start in one PES and end in the next. The unfinished tail is carried over (at most one
//! frame) and its timestamp is the previous PES's PTS advanced by the frames before it. The PES
//! PTS belongs to the first frame that *starts* in that PES (2.4.3.7); later frames of the PES
//! are advanced by their sample counts (1024 per AAC raw data block, 1152 or 576 per MP3
//! frame) at the stream's sample rate.

use baton_codec::CodecError;
use baton_codec::aac::AdtsHeader;
use bytes::Bytes;

use crate::Codec;

/// Larger than any ADTS frame (13-bit length) or MP3 frame (at most 2881 bytes).
const MAX_CARRY: usize = 8192;

/// One audio frame with its timestamp.
#[derive(Debug)]
pub(crate) struct AudioFrame {
    pub(crate) pts: i64,
    /// Raw AAC (ADTS header removed) or a whole MP3 frame (header included, as FLV carries it).
    pub(crate) data: Bytes,
}

/// What one PES of audio became.
#[derive(Debug, Default)]
pub(crate) struct AudioOut {
    /// A new AudioSpecificConfig (AAC only), before the frames that use it.
    pub(crate) config: Option<Bytes>,
    pub(crate) frames: Vec<AudioFrame>,
    /// Bytes that were not audio frames were skipped.
    pub(crate) skipped_garbage: bool,
    /// Frames without any timestamp to place them were dropped.
    pub(crate) untimed: usize,
    /// The stream turned out to be something Baton cannot carry (MPEG audio layer I or II).
    pub(crate) unsupported: Option<&'static str>,
}

/// The framing state of one audio stream.
#[derive(Debug)]
pub(crate) struct AudioTrack {
    codec: Codec,
    carry: Vec<u8>,
    /// The timestamp and sample rate of the last PES PTS, and the samples since.
    base: Option<(i64, u32, u64)>,
    config: Option<Bytes>,
}

enum Framing {
    Frame {
        len: usize,
        payload_offset: usize,
        samples: u32,
        rate: u32,
        config: Option<Vec<u8>>,
    },
    NeedMore,
    Bad,
    Unsupported(&'static str),
}

impl AudioTrack {
    pub(crate) fn new(codec: Codec) -> Self {
        AudioTrack {
            codec,
            carry: Vec::new(),
            base: None,
            config: None,
        }
    }

    /// Forgets a partial frame (its continuation was lost).
    pub(crate) fn reset(&mut self) {
        self.carry.clear();
    }

    /// Cuts one PES payload into frames; `pts` is the PES's PTS on the unwrapped timeline.
    pub(crate) fn convert(&mut self, es: &[u8], pts: Option<i64>) -> AudioOut {
        let mut out = AudioOut::default();
        let mut buf = std::mem::take(&mut self.carry);
        let carried = buf.len();
        buf.extend_from_slice(es);
        let mut pos = 0;
        let mut new_pes_seen = false;
        while let Some(rest) = buf.get(pos..).filter(|r| !r.is_empty()) {
            match self.frame(rest) {
                Framing::NeedMore => {
                    if rest.len() <= MAX_CARRY {
                        self.carry = rest.to_vec();
                    }
                    break;
                }
                Framing::Unsupported(name) => {
                    out.unsupported = Some(name);
                    return out;
                }
                Framing::Bad => {
                    out.skipped_garbage = true;
                    let next = rest.iter().skip(1).position(|&b| b == 0xff);
                    match next {
                        Some(skip) => pos += skip + 1,
                        None => break,
                    }
                }
                Framing::Frame {
                    len,
                    payload_offset,
                    samples,
                    rate,
                    config,
                } => {
                    if pos >= carried && !new_pes_seen {
                        new_pes_seen = true;
                        if let Some(pts) = pts {
                            self.base = Some((pts, rate, 0));
                        }
                    }
                    if let Some(config) = config
                        && self.config.as_deref() != Some(config.as_slice())
                    {
                        let config = Bytes::from(config);
                        self.config = Some(config.clone());
                        out.config = Some(config);
                    }
                    // `frame` only returns lengths within `rest`.
                    let payload = rest.get(payload_offset..len).unwrap_or(&[]);
                    match &mut self.base {
                        Some((base, base_rate, done)) => {
                            let offset =
                                i64::try_from(*done * 90_000 / u64::from((*base_rate).max(1)))
                                    .unwrap_or(i64::MAX);
                            out.frames.push(AudioFrame {
                                pts: base.saturating_add(offset),
                                data: Bytes::copy_from_slice(payload),
                            });
                            if *base_rate == rate {
                                *done += u64::from(samples);
                            } else {
                                // A new sample rate: restart the count at this frame's end.
                                *base = base.saturating_add(offset);
                                *base_rate = rate;
                                *done = u64::from(samples);
                            }
                        }
                        None => out.untimed += 1,
                    }
                    pos += len;
                }
            }
        }
        out
    }

    fn frame(&self, data: &[u8]) -> Framing {
        match self.codec {
            Codec::Mp3 => mpeg_audio_frame(data),
            _ => adts_frame(data),
        }
    }
}

fn adts_frame(data: &[u8]) -> Framing {
    match AdtsHeader::parse(data) {
        Err(CodecError::Truncated(_)) => Framing::NeedMore,
        Err(_) => Framing::Bad,
        Ok(h) => {
            let len = usize::from(h.frame_length);
            let rate = h.sample_rate();
            if len < h.header_len() || rate == 0 {
                Framing::Bad
            } else if len > data.len() {
                Framing::NeedMore
            } else {
                Framing::Frame {
                    len,
                    payload_offset: h.header_len(),
                    samples: 1024 * u32::from(h.raw_data_blocks.max(1)),
                    rate,
                    config: Some(h.to_asc().encode()),
                }
            }
        }
    }
}

/// Parses an MPEG audio frame header (11172-3 2.4.2.3; 13818-3 2.4.2.3 and "MPEG 2.5").
fn mpeg_audio_frame(data: &[u8]) -> Framing {
    let [b0, b1, b2, ..] = *data else {
        return Framing::NeedMore;
    };
    if b0 != 0xff || b1 & 0xe0 != 0xe0 {
        return Framing::Bad;
    }
    let version = (b1 >> 3) & 0x03; // 0: MPEG 2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
    let layer = (b1 >> 1) & 0x03; // 1: III, 2: II, 3: I
    match layer {
        1 => {}
        2 => return Framing::Unsupported("MPEG audio layer II"),
        3 => return Framing::Unsupported("MPEG audio layer I"),
        _ => return Framing::Bad,
    }
    const MPEG1_KBPS: [u32; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    const MPEG2_KBPS: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    const RATES: [[u32; 3]; 4] = [
        [11025, 12000, 8000],
        [0, 0, 0],
        [22050, 24000, 16000],
        [44100, 48000, 32000],
    ];
    let mpeg1 = version == 3;
    let kbps = if mpeg1 { &MPEG1_KBPS } else { &MPEG2_KBPS };
    let kbps = kbps.get(usize::from(b2 >> 4)).copied().unwrap_or(0);
    let rate = RATES
        .get(usize::from(version))
        .and_then(|r| r.get(usize::from((b2 >> 2) & 0x03)))
        .copied()
        .unwrap_or(0);
    // Free-format (bitrate index 0) frames have no length in the header: refused.
    if kbps == 0 || rate == 0 {
        return Framing::Bad;
    }
    let padding = u32::from((b2 >> 1) & 0x01);
    let (coefficient, samples) = if mpeg1 {
        (144_000, 1152)
    } else {
        (72_000, 576)
    };
    let len = (coefficient * kbps / rate + padding) as usize;
    if len < 4 {
        return Framing::Bad;
    }
    if len > data.len() {
        return Framing::NeedMore;
    }
    Framing::Frame {
        len,
        payload_offset: 0,
        samples,
        rate,
        config: None,
    }
}
