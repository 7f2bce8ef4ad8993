//! H.264 and H.265 elementary streams (Annex B in PES, ITU-T H.264 / H.265 Annex B) turned into
//! AVCC samples (4-byte big-endian NAL unit lengths, ISO/IEC 14496-15) and decoder
//! configuration records.
//!
//! What goes where:
//! - access unit delimiters and filler data are dropped: AVCC has no use for them;
//! - the first SPS and PPS (and VPS) of an access unit go into the configuration record, not
//!   the sample; a record is re-announced whenever its bytes change. Further parameter sets of
//!   the same type in one access unit (a second PPS id) stay in the sample in-band, so nothing
//!   a decoder needs is lost;
//! - SEI and every other NAL unit are kept as they are, in order.

use baton_codec::CodecError;
use baton_codec::avc::{self, AvcDecoderConfig};
use baton_codec::hevc::{self, HevcDecoderConfig};
use baton_codec::nal::split_annexb;
use bytes::Bytes;

use crate::Codec;

/// H.264 filler data (Table 7-1).
const AVC_FILLER: u8 = 12;
/// H.265 filler data (Table 7-1).
const HEVC_FILLER: u8 = 38;

/// One access unit converted to AVCC.
#[derive(Debug)]
pub(crate) struct VideoSample {
    /// A new decoder configuration record, when the parameter sets changed (or are first seen).
    pub(crate) config: Option<Bytes>,
    /// Length-prefixed NAL units; empty when the access unit had nothing but parameter sets
    /// and delimiters.
    pub(crate) data: Vec<u8>,
    /// The access unit holds an IDR picture (H.264) or an IRAP picture (H.265).
    pub(crate) keyframe: bool,
    /// The access unit carried a sequence parameter set.
    pub(crate) has_sps: bool,
}

/// The parameter-set state of one video stream.
#[derive(Debug)]
pub(crate) struct VideoTrack {
    codec: Codec,
    vps: Option<Bytes>,
    sps: Option<Bytes>,
    pps: Option<Bytes>,
    /// The record last announced.
    config: Option<Bytes>,
}

impl VideoTrack {
    pub(crate) fn new(codec: Codec) -> Self {
        VideoTrack {
            codec,
            vps: None,
            sps: None,
            pps: None,
            config: None,
        }
    }

    /// Whether a configuration record has been announced (samples before it cannot be
    /// decoded downstream).
    pub(crate) fn configured(&self) -> bool {
        self.config.is_some()
    }

    /// Converts one Annex B access unit. Fails when its parameter sets do not make a record;
    /// the previous record stays in force then.
    pub(crate) fn convert(&mut self, es: &[u8]) -> Result<VideoSample, CodecError> {
        let hevc = self.codec == Codec::H265;
        let mut data = Vec::with_capacity(es.len() + 16);
        let mut keyframe = false;
        let (mut vps, mut sps, mut pps) = (None, None, None);
        for nal in split_annexb(es) {
            let kind = if hevc {
                hevc::nal_type(nal)
            } else {
                avc::nal_type(nal)
            };
            let Some(kind) = kind else { continue };
            let slot = match (hevc, kind) {
                (false, avc::NAL_AUD | AVC_FILLER) | (true, hevc::NAL_AUD | HEVC_FILLER) => {
                    continue;
                }
                (false, avc::NAL_SPS) | (true, hevc::NAL_SPS) => &mut sps,
                (false, avc::NAL_PPS) | (true, hevc::NAL_PPS) => &mut pps,
                (true, hevc::NAL_VPS) => &mut vps,
                (false, avc::NAL_IDR) => {
                    keyframe = true;
                    push_nal(&mut data, nal)?;
                    continue;
                }
                (true, k) if hevc::is_irap(k) => {
                    keyframe = true;
                    push_nal(&mut data, nal)?;
                    continue;
                }
                _ => {
                    push_nal(&mut data, nal)?;
                    continue;
                }
            };
            if slot.is_none() {
                *slot = Some(nal);
            } else {
                push_nal(&mut data, nal)?;
            }
        }
        let has_sps = sps.is_some();
        let config = if vps.is_some() || sps.is_some() || pps.is_some() {
            self.update(vps, sps, pps)?
        } else {
            None
        };
        Ok(VideoSample {
            config,
            data,
            keyframe,
            has_sps,
        })
    }

    /// Takes in the parameter sets of an access unit; returns the record when it changed.
    fn update(
        &mut self,
        vps: Option<&[u8]>,
        sps: Option<&[u8]>,
        pps: Option<&[u8]>,
    ) -> Result<Option<Bytes>, CodecError> {
        let pick = |new: Option<&[u8]>, old: &Option<Bytes>| -> Option<Bytes> {
            new.map(Bytes::copy_from_slice).or_else(|| old.clone())
        };
        let (vps, sps, pps) = (
            pick(vps, &self.vps),
            pick(sps, &self.sps),
            pick(pps, &self.pps),
        );
        let record = match (self.codec, &vps, &sps, &pps) {
            (Codec::H264, _, Some(sps), Some(pps)) => {
                Some(AvcDecoderConfig::from_parameter_sets(sps, pps)?.encode())
            }
            (Codec::H265, Some(vps), Some(sps), Some(pps)) => {
                Some(HevcDecoderConfig::from_parameter_sets(vps, sps, pps)?.encode())
            }
            // Not all of them seen yet: keep what came and wait.
            _ => None,
        };
        (self.vps, self.sps, self.pps) = (vps, sps, pps);
        let Some(record) = record else {
            return Ok(None);
        };
        if self.config.as_deref() == Some(record.as_slice()) {
            return Ok(None);
        }
        let record = Bytes::from(record);
        self.config = Some(record.clone());
        Ok(Some(record))
    }
}

fn push_nal(out: &mut Vec<u8>, nal: &[u8]) -> Result<(), CodecError> {
    let len = u32::try_from(nal.len()).map_err(|_| CodecError::TooLarge("NAL unit length"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(nal);
    Ok(())
}
