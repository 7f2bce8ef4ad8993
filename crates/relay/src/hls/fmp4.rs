//! fMP4/CMAF segments (EXT-X-MAP) → [`Frame`]s, as [`TsFrames`](crate::ts::TsFrames) does
//! for transport streams: the same FLV bodies, the same millisecond timeline (0 at the first
//! sample's DTS, times running on across segments: `tfdt` is absolute).
//!
//! Bytes in, one whole segment at a time ([`Fmp4Frames::push`]), frames out
//! ([`Fmp4Frames::poll_frame`]). The initialisation segment is parsed by the caller
//! ([`InitSegment::parse`]); the sequence headers leave before the first sample. Samples are
//! parsed by [`baton_mp4::fragment`] (sans-IO, fuzzed), merged by DTS.

use std::collections::VecDeque;

use baton_media::{Frame, TagType};
use baton_mp4::{FragmentReader, InitSegment, Mp4Error, TrackKind};
use bytes::{Bytes, BytesMut};

/// fMP4 media segments of one initialisation segment in, FLV-bodied frames out.
#[derive(Debug)]
pub(crate) struct Fmp4Frames {
    reader: FragmentReader,
    /// The ms that is 0: the first sample's DTS.
    origin: Option<i64>,
    /// Sequence headers not sent yet.
    headers: bool,
    queue: VecDeque<Frame>,
    /// Tracks not carried, not reported yet.
    dropped: Vec<String>,
}

impl Fmp4Frames {
    pub(crate) fn new(init: InitSegment) -> Fmp4Frames {
        let dropped = init
            .skipped_tracks()
            .iter()
            .filter(|t| t.drops_media())
            .map(ToString::to_string)
            .collect();
        Fmp4Frames {
            reader: FragmentReader::new(init),
            origin: None,
            headers: true,
            queue: VecDeque::new(),
            dropped,
        }
    }

    /// Reads one whole media segment; its frames wait in [`Self::poll_frame`].
    pub(crate) fn push(&mut self, segment: &Bytes) -> Result<(), Mp4Error> {
        let samples = self.reader.parse(segment)?;
        let Some(first) = samples.first() else {
            return Ok(());
        };
        let origin = *self.origin.get_or_insert(first.dts_ms);
        if std::mem::take(&mut self.headers) {
            let dts = first.dts_ms - origin;
            for track in &self.reader.init().tracks {
                let kind = tag_type(track.kind);
                let body = Bytes::from(track.flv_sequence_header());
                self.queue.push_back(Frame::new(kind, dts, body));
            }
        }
        for sample in samples {
            let prefix = sample.flv_prefix();
            let data = segment.slice(sample.range.clone());
            let mut body = BytesMut::with_capacity(prefix.len() + data.len());
            body.extend_from_slice(&prefix);
            body.extend_from_slice(&data);
            let kind = tag_type(sample.kind);
            self.queue
                .push_back(Frame::new(kind, sample.dts_ms - origin, body.freeze()));
        }
        Ok(())
    }

    pub(crate) fn poll_frame(&mut self) -> Option<Frame> {
        self.queue.pop_front()
    }

    /// The tracks not carried (once).
    pub(crate) fn take_dropped(&mut self) -> Vec<String> {
        std::mem::take(&mut self.dropped)
    }
}

fn tag_type(kind: TrackKind) -> TagType {
    match kind {
        TrackKind::Video => TagType::Video,
        TrackKind::Audio => TagType::Audio,
    }
}
