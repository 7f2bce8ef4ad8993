//! Sequence-header bookkeeping per destination.
//!
//! A source that reconnects sends its metadata and sequence headers again. A destination that
//! stayed connected already has them; re-sending identical ones is at best noise and at worst
//! (some CDNs, some players) a decoder reset. Changed ones must go through.

use crate::Frame;

/// Remembers the last codec configuration (video config, audio config, metadata) forwarded to
/// a destination, so a reconnecting source re-sends them only when they changed.
///
/// Frames are compared by payload bytes; the timestamp does not matter.
#[derive(Clone, Debug, Default)]
pub struct ConfigTracker {
    video: Option<Frame>,
    audio: Option<Frame>,
    metadata: Option<Frame>,
}

impl ConfigTracker {
    /// A tracker that has forwarded nothing yet.
    pub fn new() -> Self {
        ConfigTracker::default()
    }

    /// Whether `frame` should go to the destination: always for media and non-metadata script
    /// frames; for a sequence header or `onMetaData`, only when it differs from the last one of
    /// its kind forwarded (which it then becomes).
    pub fn should_forward(&mut self, frame: &Frame) -> bool {
        let slot = match self.slot(frame) {
            Some(slot) => slot,
            None => return true,
        };
        if slot
            .as_ref()
            .is_some_and(|last| last.payload == frame.payload)
        {
            return false;
        }
        *slot = Some(frame.clone());
        true
    }

    /// Forgets everything (the destination reconnected and needs all headers again).
    pub fn reset(&mut self) {
        *self = ConfigTracker::default();
    }

    /// The last video sequence header forwarded.
    pub fn video_config(&self) -> Option<&Frame> {
        self.video.as_ref()
    }

    /// The last audio sequence header forwarded.
    pub fn audio_config(&self) -> Option<&Frame> {
        self.audio.as_ref()
    }

    /// The last `onMetaData` forwarded.
    pub fn metadata(&self) -> Option<&Frame> {
        self.metadata.as_ref()
    }

    /// The remembered frame of `frame`'s kind, or `None` when frames of that kind are not
    /// tracked.
    fn slot(&mut self, frame: &Frame) -> Option<&mut Option<Frame>> {
        if frame.is_metadata() {
            Some(&mut self.metadata)
        } else if frame.config && frame.is_video() {
            Some(&mut self.video)
        } else if frame.config && frame.is_audio() {
            Some(&mut self.audio)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TagType;
    use bytes::Bytes;

    fn vcfg(dts: i64, sps: u8) -> Frame {
        Frame::new(
            TagType::Video,
            dts,
            Bytes::copy_from_slice(&[0x17, 0, 0, 0, 0, 1, sps]),
        )
    }

    fn acfg(dts: i64) -> Frame {
        Frame::new(
            TagType::Audio,
            dts,
            Bytes::from_static(&[0xaf, 0, 0x12, 0x10]),
        )
    }

    fn meta(width: u8) -> Frame {
        let mut body = b"\x02\x00\x0aonMetaData\x08\x00\x00\x00\x01".to_vec();
        body.push(width);
        Frame::new(TagType::Script, 0, Bytes::from(body))
    }

    #[test]
    fn media_always_forwarded() {
        let mut t = ConfigTracker::new();
        let key = Frame::new(
            TagType::Video,
            0,
            Bytes::from_static(&[0x17, 1, 0, 0, 0, 9]),
        );
        let aac = Frame::new(TagType::Audio, 0, Bytes::from_static(&[0xaf, 1, 0x21]));
        let cue = Frame::new(
            TagType::Script,
            0,
            Bytes::from_static(b"\x02\x00\x0aonCuePoint"),
        );
        for _ in 0..3 {
            assert!(t.should_forward(&key));
            assert!(t.should_forward(&aac));
            assert!(t.should_forward(&cue));
        }
        assert!(t.video_config().is_none() && t.audio_config().is_none());
        assert!(t.metadata().is_none());
    }

    #[test]
    fn identical_headers_are_not_resent_changed_ones_are() {
        let mut t = ConfigTracker::new();
        assert!(t.should_forward(&meta(1)));
        assert!(t.should_forward(&vcfg(0, 0x64)));
        assert!(t.should_forward(&acfg(0)));
        // Source reconnects: same headers, new timestamps.
        assert!(!t.should_forward(&meta(1)));
        assert!(!t.should_forward(&vcfg(5000, 0x64)));
        assert!(!t.should_forward(&acfg(5000)));
        // New resolution: new SPS and metadata.
        assert!(t.should_forward(&vcfg(9000, 0x4d)));
        assert!(t.should_forward(&meta(2)));
        assert_eq!(t.video_config(), Some(&vcfg(9000, 0x4d)));
        assert_eq!(t.metadata(), Some(&meta(2)));
        assert_eq!(t.audio_config(), Some(&acfg(0)));
        // Switching back is a change too.
        assert!(t.should_forward(&vcfg(9500, 0x64)));
    }

    #[test]
    fn reset_forwards_everything_again() {
        let mut t = ConfigTracker::new();
        assert!(t.should_forward(&vcfg(0, 1)));
        assert!(t.should_forward(&acfg(0)));
        t.reset();
        assert!(t.video_config().is_none());
        assert!(t.should_forward(&vcfg(0, 1)));
        assert!(t.should_forward(&acfg(0)));
    }
}
