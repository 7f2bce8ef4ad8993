//! The benchmark's media: a short 720p30 H.264 + AAC FLV made once with ffmpeg, parsed once
//! into shared `Bytes`, and looped on a continuous timeline by every generated stream.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use baton_flv::{
    DemuxLimits, FlvDemuxer, TagType, VideoPacket, parse_audio_tag_header, parse_video_tag_header,
};
use bytes::Bytes;

use crate::ledger::{Track, fingerprint};

/// How the cached clip is made. Changing it changes the file name, so a stale cache is never
/// used. testsrc2 moves every frame, pink noise keeps AAC at its full bitrate, and
/// `nal-hrd=cbr` pads the video to a constant rate, like a hardware encoder in CBR mode.
pub const CLIP_NAME: &str = "720p30-h264-1900k-aac-128k-gop60-10s.flv";

/// The ffmpeg arguments that make the clip (output path appended).
pub fn ffmpeg_args() -> Vec<&'static str> {
    vec![
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30",
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=color=pink:sample_rate=48000:amplitude=0.3",
        "-t",
        "10",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-b:v",
        "1900k",
        "-minrate",
        "1900k",
        "-maxrate",
        "1900k",
        "-bufsize",
        "1900k",
        "-x264-params",
        "nal-hrd=cbr",
        "-g",
        "60",
        "-keyint_min",
        "60",
        "-sc_threshold",
        "0",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-ac",
        "2",
        "-f",
        "flv",
    ]
}

/// One frame of the clip, ready to send.
#[derive(Clone, Debug)]
pub struct ClipFrame {
    pub kind: TagType,
    /// DTS in ms on the clip's own timeline.
    pub dts: u32,
    pub payload: Bytes,
    /// Coded audio or video (not metadata, not a sequence header): the frames the ledger
    /// tracks.
    pub track: Option<Track>,
    pub fingerprint: u64,
}

/// The parsed clip.
#[derive(Debug)]
pub struct Clip {
    /// Metadata and sequence headers: sent once, when a stream starts.
    pub headers: Vec<ClipFrame>,
    /// Everything from the first coded frame on: looped.
    pub body: Vec<ClipFrame>,
    /// DTS advance per loop (ms): the end of the track that ends last plus one frame.
    pub period_ms: u32,
    /// Mean payload bitrate of one stream (bits/s).
    pub bitrate: f64,
}

impl Clip {
    /// Path of the cached clip in `dir`, generating it with ffmpeg first if it is missing.
    pub fn ensure(dir: &Path) -> Result<PathBuf> {
        let path = dir.join(CLIP_NAME);
        if path.is_file() {
            return Ok(path);
        }
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let partial = dir.join(format!("{CLIP_NAME}.partial"));
        let status = Command::new("ffmpeg")
            .args(ffmpeg_args())
            .arg(&partial)
            .status()
            .context("running ffmpeg to make the benchmark clip")?;
        ensure!(
            status.success(),
            "ffmpeg failed to make the clip ({status})"
        );
        fs::rename(&partial, &path).with_context(|| format!("moving {}", partial.display()))?;
        Ok(path)
    }

    pub fn load(path: &Path) -> Result<Clip> {
        let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Clip::parse(Bytes::from(data))
    }

    /// Splits an FLV file into headers and body.
    pub fn parse(data: Bytes) -> Result<Clip> {
        let mut demuxer = FlvDemuxer::new(DemuxLimits::default());
        demuxer.push_bytes(data);
        let mut headers = Vec::new();
        let mut body: Vec<ClipFrame> = Vec::new();
        while let Some(tag) = demuxer.poll_tag().context("parsing the clip")? {
            // ffmpeg ends a file with an AVC end-of-sequence tag; sent at every loop it would
            // tell decoders the stream ended.
            if tag.tag_type == TagType::Video
                && parse_video_tag_header(&tag.data)
                    .is_ok_and(|h| h.packet == VideoPacket::EndOfSequence)
            {
                continue;
            }
            let track = tracked(tag.tag_type, &tag.data);
            let frame = ClipFrame {
                kind: tag.tag_type,
                dts: tag.timestamp,
                fingerprint: fingerprint(&tag.data),
                payload: tag.data,
                track,
            };
            if body.is_empty() && track.is_none() {
                headers.push(frame);
            } else {
                body.push(frame);
            }
        }
        let (Some(first), Some(last)) = (body.first(), body.last()) else {
            bail!("the clip has no audio or video frames");
        };
        let first_dts = first.dts;
        let mut period = last.dts;
        for track in [Track::Audio, Track::Video] {
            let dts: Vec<u32> = body
                .iter()
                .filter(|f| f.track == Some(track))
                .map(|f| f.dts)
                .collect();
            // Looping re-bases by whole periods, so a track must not go backwards inside one.
            ensure!(
                dts.windows(2).all(|w| w[0] < w[1]),
                "the clip's {track:?} timestamps do not increase"
            );
            if let [.., a, b] = dts[..] {
                period = period.max(b + (b - a));
            }
        }
        let period_ms = period.saturating_sub(first_dts).max(1);
        let bytes: usize = body.iter().map(|f| f.payload.len()).sum();
        Ok(Clip {
            headers,
            body,
            period_ms,
            bitrate: bytes as f64 * 8.0 * 1000.0 / f64::from(period_ms),
        })
    }

    /// Frame number `seq` of a stream (headers first, then the body looped) and its DTS on
    /// the stream's continuous timeline. Each loop adds `period_ms`.
    pub fn frame(&self, seq: u64) -> (&ClipFrame, i64) {
        let h = self.headers.len() as u64;
        if seq < h {
            let f = &self.headers[seq as usize];
            return (f, 0);
        }
        let n = self.body.len() as u64;
        let loops = (seq - h) / n;
        let f = &self.body[((seq - h) % n) as usize];
        let base = i64::from(self.body[0].dts);
        (
            f,
            i64::from(f.dts) - base + loops as i64 * i64::from(self.period_ms),
        )
    }
}

/// The ledger track of a coded audio/video frame; `None` for metadata and sequence headers.
pub fn tracked(kind: TagType, payload: &[u8]) -> Option<Track> {
    match kind {
        TagType::Video => match parse_video_tag_header(payload) {
            Ok(h) if h.packet == VideoPacket::SequenceHeader => None,
            _ => Some(Track::Video),
        },
        TagType::Audio => match parse_audio_tag_header(payload) {
            Ok(h) if h.sequence_header => None,
            _ => Some(Track::Audio),
        },
        TagType::Script => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_flv::FlvMuxer;
    use bytes::BytesMut;

    fn flv(tags: &[(TagType, u32, &[u8])]) -> Bytes {
        let mut out = BytesMut::new();
        out.extend_from_slice(&FlvMuxer::header(true, true));
        for (kind, ts, body) in tags {
            FlvMuxer::write_tag(*kind, *ts, body, &mut out);
        }
        out.freeze()
    }

    #[test]
    fn splits_headers_and_loops_continuously() {
        let data = flv(&[
            (TagType::Script, 0, b"\x02\x00\x0aonMetaData"),
            (TagType::Video, 0, &[0x17, 0, 0, 0, 0, 1]),
            (TagType::Audio, 0, &[0xaf, 0, 0x12, 0x10]),
            (TagType::Video, 0, &[0x17, 1, 0, 0, 0, 9]),
            (TagType::Audio, 0, &[0xaf, 1, 1]),
            (TagType::Audio, 21, &[0xaf, 1, 2]),
            (TagType::Video, 33, &[0x27, 1, 0, 0, 0, 8]),
            (TagType::Audio, 42, &[0xaf, 1, 3]),
            (TagType::Video, 40, &[0x17, 2, 0, 0, 0]),
        ]);
        let clip = Clip::parse(data).expect("valid clip");
        assert_eq!(clip.headers.len(), 3);
        assert_eq!(clip.body.len(), 5);
        // Video ends at 33 + 33, audio at 42 + 21: the loop is 66 ms.
        assert_eq!(clip.period_ms, 66);
        let dts: Vec<i64> = (0..13).map(|s| clip.frame(s).1).collect();
        assert_eq!(dts, [0, 0, 0, 0, 0, 21, 33, 42, 66, 66, 87, 99, 108]);
        assert_eq!(clip.frame(8).0.track, Some(Track::Video));
        assert!(clip.bitrate > 0.0);
    }

    #[test]
    fn rejects_empty_and_garbage() {
        assert!(Clip::parse(flv(&[(TagType::Script, 0, b"x")])).is_err());
        assert!(Clip::parse(Bytes::from_static(b"not an flv file")).is_err());
    }
}
