//! The demuxer of one run of HLS segments — a transport stream, or fMP4 of one
//! initialisation section — as both the live source's reader and a playlist's HLS item feed
//! it: segments in, frames out, a fresh one of the same kind for the next run.

use std::sync::Arc;

use baton_media::Frame;
use baton_mp4::InitSegment;

use super::fmp4::Fmp4Frames;
use crate::ts::TsFrames;

/// What demuxes the current run: a transport stream, or fMP4 of one initialisation section.
#[derive(Debug)]
pub(crate) enum Demux {
    Ts(Box<TsFrames>),
    Fmp4(Arc<InitSegment>, Fmp4Frames),
}

impl Demux {
    /// A demuxer of fMP4 segments of `init`, or (`None`) of a transport stream.
    pub(crate) fn new(init: Option<Arc<InitSegment>>) -> Demux {
        match init {
            Some(init) => {
                let frames = Fmp4Frames::new((*init).clone());
                Demux::Fmp4(init, frames)
            }
            None => Demux::Ts(Box::default()),
        }
    }

    /// A fresh demuxer of the same kind (and initialisation section), for a new run.
    pub(crate) fn restarted(&self) -> Demux {
        match self {
            Demux::Ts(_) => Demux::new(None),
            Demux::Fmp4(init, _) => Demux::new(Some(Arc::clone(init))),
        }
    }

    /// The run ends: a transport stream's held frames become ready (fMP4 holds none).
    pub(crate) fn finish(&mut self) {
        if let Demux::Ts(ts) = self {
            ts.finish();
        }
    }

    pub(crate) fn poll_frame(&mut self) -> Option<Frame> {
        match self {
            Demux::Ts(ts) => ts.poll_frame(),
            Demux::Fmp4(_, f) => f.poll_frame(),
        }
    }

    /// The streams not carried, not reported yet.
    pub(crate) fn take_dropped(&mut self) -> Vec<String> {
        match self {
            Demux::Ts(ts) => ts.take_dropped(),
            Demux::Fmp4(_, f) => f.take_dropped(),
        }
    }
}
