//! Sample descriptions (`stsd`, ISO/IEC 14496-12 8.5.2): the codec of a track and its decoder
//! configuration. Video: `avc1`/`avc3` with `avcC` (ISO/IEC 14496-15 5.4), `hvc1`/`hev1` with
//! `hvcC` (14496-15 8.4). Audio: `mp4a` with `esds` (ISO/IEC 14496-14 5.6, descriptors from
//! 14496-1 7.2.6), also inside a QuickTime `wave` box.

use crate::header::{Children, Reader};
use crate::movie::{Codec, SkipReason};
use crate::{FourCc, Mp4Error};

/// What the first sample description of a track says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Supported(EntryInfo),
    Skipped(SkipReason),
}

/// A supported sample description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EntryInfo {
    pub(crate) codec: Codec,
    pub(crate) fourcc: [u8; 4],
    /// `avcC` / `hvcC` payload, or the AAC AudioSpecificConfig.
    pub(crate) config: Vec<u8>,
    pub(crate) width: u16,
    pub(crate) height: u16,
    pub(crate) sample_rate: u32,
    pub(crate) channels: u16,
}

/// Parses `stsd` and its first sample entry; returns it, its type and the number of entries.
pub(crate) fn parse_stsd(stsd: &[u8]) -> Result<(Entry, FourCc, u32), Mp4Error> {
    let mut r = Reader::new(stsd, "stsd");
    let (version, _) = r.full_box()?;
    if version > 1 {
        return Err(Mp4Error::Version {
            kind: "stsd",
            version,
        });
    }
    let count = r.u32()?;
    let (fourcc, payload) = Children::new(r.rest(), "stsd")
        .next()
        .ok_or(Mp4Error::Missing {
            kind: "sample entry",
            parent: "stsd",
        })??;
    let entry = match &fourcc {
        b"avc1" | b"avc3" => visual(fourcc, Codec::Avc, payload)?,
        b"hvc1" | b"hev1" => visual(fourcc, Codec::Hevc, payload)?,
        b"mp4a" => audio(payload)?,
        b"encv" | b"enca" => Entry::Skipped(SkipReason::Encrypted(FourCc(fourcc))),
        _ => Entry::Skipped(SkipReason::Codec(FourCc(fourcc))),
    };
    Ok((entry, FourCc(fourcc), count))
}

/// The child boxes of a sample entry, tolerating the trailing garbage some writers leave
/// (QuickTime's 4-byte zero terminator): children are read up to the first malformed one.
fn entry_child<'a>(children: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    Children::new(children, "sample entry")
        .map_while(Result::ok)
        .find(|(k, _)| k == kind)
        .map(|(_, payload)| payload)
}

/// VisualSampleEntry (14496-12 12.1.3): 78 bytes of fields, then child boxes.
fn visual(fourcc: [u8; 4], codec: Codec, payload: &[u8]) -> Result<Entry, Mp4Error> {
    let mut r = Reader::new(payload, "visual sample entry");
    r.skip(24)?; // reserved, data_reference_index, pre_defined, reserved
    let width = r.u16()?;
    let height = r.u16()?;
    r.skip(50)?; // resolutions, reserved, frame_count, compressorname, depth, pre_defined
    let children = r.rest();
    let config = match codec {
        Codec::Avc => {
            let Some(avcc) = entry_child(children, b"avcC") else {
                return Ok(Entry::Skipped(SkipReason::MissingConfig("avcC")));
            };
            // configurationVersion, profile, compatibility, level, lengthSizeMinusOne,
            // numOfSequenceParameterSets at least.
            if avcc.len() < 6 {
                return Err(Mp4Error::Truncated("avcC"));
            }
            if avcc[0] != 1 {
                return Err(Mp4Error::Invalid {
                    field: "avcC configurationVersion",
                    value: i128::from(avcc[0]),
                });
            }
            avcc
        }
        _ => {
            let Some(hvcc) = entry_child(children, b"hvcC") else {
                return Ok(Entry::Skipped(SkipReason::MissingConfig("hvcC")));
            };
            // The fixed part of HEVCDecoderConfigurationRecord is 23 bytes.
            if hvcc.len() < 23 {
                return Err(Mp4Error::Truncated("hvcC"));
            }
            hvcc
        }
    };
    Ok(Entry::Supported(EntryInfo {
        codec,
        fourcc,
        config: config.to_vec(),
        width,
        height,
        sample_rate: 0,
        channels: 0,
    }))
}

/// AudioSampleEntry (14496-12 12.2.3), with the QuickTime version 1 and 2 extensions.
fn audio(payload: &[u8]) -> Result<Entry, Mp4Error> {
    let mut r = Reader::new(payload, "mp4a");
    r.skip(8)?; // reserved, data_reference_index
    let version = r.u16()?;
    r.skip(6)?; // revision, vendor
    let mut channels = r.u16()?;
    r.skip(6)?; // samplesize, compression id, packet size
    let mut sample_rate = r.u32()? >> 16;
    match version {
        0 => {}
        1 => r.skip(16)?, // samples per packet, bytes per packet/frame/sample
        2 => {
            r.skip(4)?; // sizeOfStructOnly
            let rate = f64::from_bits(r.u64()?);
            sample_rate = if rate.is_finite() && rate > 0.0 && rate < f64::from(u32::MAX) {
                rate as u32
            } else {
                0
            };
            channels = u16::try_from(r.u32()?).unwrap_or(0);
            r.skip(20)?;
        }
        _ => {
            return Err(Mp4Error::Version {
                kind: "mp4a",
                version: u8::try_from(version).unwrap_or(u8::MAX),
            });
        }
    }
    let children = r.rest();
    let esds = entry_child(children, b"esds")
        .or_else(|| entry_child(children, b"wave").and_then(|w| entry_child(w, b"esds")));
    let Some(esds) = esds else {
        return Ok(Entry::Skipped(SkipReason::MissingConfig("esds")));
    };
    let (object_type, config) = parse_esds(esds)?;
    if !matches!(object_type, 0x40 | 0x66..=0x68) {
        return Ok(Entry::Skipped(SkipReason::AudioObjectType(object_type)));
    }
    let Some(config) = config else {
        return Ok(Entry::Skipped(SkipReason::MissingConfig(
            "esds DecoderSpecificInfo",
        )));
    };
    let (rate, channel_config) = audio_specific_config(config)?;
    if rate != 0 {
        sample_rate = rate;
    }
    match channel_config {
        1..=6 => channels = u16::from(channel_config),
        7 => channels = 8,
        _ => {} // 0: defined in the payload; the sample entry's count is the best guess.
    }
    Ok(Entry::Supported(EntryInfo {
        codec: Codec::Aac,
        fourcc: *b"mp4a",
        config: config.to_vec(),
        width: 0,
        height: 0,
        sample_rate,
        channels,
    }))
}

/// Sampling frequencies by samplingFrequencyIndex (ISO/IEC 14496-3 1.6.3.4).
const AAC_SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// The output sample rate (0 if unknown) and channelConfiguration of an AudioSpecificConfig
/// (ISO/IEC 14496-3 1.6.2.1), enough of it to describe the track: in an MP4 `mp4a` entry
/// the channel count and rate are template values (2, the container rate), the ASC is what
/// counts. With explicit SBR signalling (object type 5 or 29) the rate is the SBR rate.
fn audio_specific_config(asc: &[u8]) -> Result<(u32, u8), Mp4Error> {
    if asc.len() < 2 {
        return Err(Mp4Error::Truncated("AudioSpecificConfig"));
    }
    let mut bits = Bits { data: asc, pos: 0 };
    let mut object_type = bits.read(5);
    if object_type == 31 {
        object_type = 32 + bits.read(6);
    }
    let mut rate = bits.rate();
    let channel_config = bits.read(4) as u8;
    if object_type == 5 || object_type == 29 {
        rate = bits.rate();
    }
    Ok((rate, channel_config))
}

/// Reads bits most-significant first; past the end it reads zeros (the fields read here are
/// informational, so a short ASC degrades to "unknown" rather than failing).
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: usize) -> u32 {
        let mut v = 0u32;
        for _ in 0..n {
            let bit = self
                .data
                .get(self.pos / 8)
                .map_or(0, |b| (b >> (7 - self.pos % 8)) & 1);
            v = (v << 1) | u32::from(bit);
            self.pos += 1;
        }
        v
    }

    /// samplingFrequencyIndex, or 15 and an explicit 24-bit samplingFrequency.
    fn rate(&mut self) -> u32 {
        match self.read(4) {
            15 => self.read(24),
            i => AAC_SAMPLE_RATES.get(i as usize).copied().unwrap_or(0),
        }
    }
}

const ES_DESCRIPTOR: u8 = 0x03;
const DECODER_CONFIG_DESCRIPTOR: u8 = 0x04;
const DECODER_SPECIFIC_INFO: u8 = 0x05;

/// Reads one descriptor (14496-1 8.3.3: tag, then a size of up to four 7-bit groups).
fn descriptor<'a>(r: &mut Reader<'a>) -> Result<(u8, &'a [u8]), Mp4Error> {
    let tag = r.u8()?;
    let mut len = 0usize;
    for _ in 0..4 {
        let b = r.u8()?;
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            break;
        }
    }
    Ok((tag, r.bytes(len)?))
}

/// The objectTypeIndication and DecoderSpecificInfo of an `esds` box.
pub(crate) fn parse_esds(esds: &[u8]) -> Result<(u8, Option<&[u8]>), Mp4Error> {
    let mut r = Reader::new(esds, "esds");
    let (version, _) = r.full_box()?;
    if version != 0 {
        return Err(Mp4Error::Version {
            kind: "esds",
            version,
        });
    }
    let (tag, body) = descriptor(&mut r)?;
    let decoder_config = match tag {
        ES_DESCRIPTOR => {
            let mut es = Reader::new(body, "esds ES_Descriptor");
            es.skip(2)?; // ES_ID
            let flags = es.u8()?;
            if flags & 0x80 != 0 {
                es.skip(2)?; // dependsOn_ES_ID
            }
            if flags & 0x40 != 0 {
                let url_len = es.u8()?;
                es.skip(usize::from(url_len))?;
            }
            if flags & 0x20 != 0 {
                es.skip(2)?; // OCR_ES_Id
            }
            loop {
                if es.remaining() == 0 {
                    return Err(Mp4Error::Missing {
                        kind: "DecoderConfigDescriptor",
                        parent: "esds",
                    });
                }
                let (tag, body) = descriptor(&mut es)?;
                if tag == DECODER_CONFIG_DESCRIPTOR {
                    break body;
                }
            }
        }
        DECODER_CONFIG_DESCRIPTOR => body,
        _ => {
            return Err(Mp4Error::Invalid {
                field: "esds descriptor tag",
                value: i128::from(tag),
            });
        }
    };
    let mut dc = Reader::new(decoder_config, "esds DecoderConfigDescriptor");
    let object_type = dc.u8()?;
    dc.skip(12)?; // streamType, bufferSizeDB, maxBitrate, avgBitrate
    while dc.remaining() > 0 {
        let (tag, body) = descriptor(&mut dc)?;
        if tag == DECODER_SPECIFIC_INFO {
            return Ok((object_type, Some(body)));
        }
    }
    Ok((object_type, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esds(body: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 0];
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn esds_with_es_descriptor_and_long_sizes() {
        // ES_Descriptor with 4-byte sizes as some writers use, a URL flag, an SLConfig.
        let mut dsi = vec![0x05, 0x80, 0x80, 0x80, 0x02, 0x12, 0x10];
        let mut dcd = vec![0x04, 0x80, 0x80, 0x80, (13 + dsi.len()) as u8, 0x40, 0x15];
        dcd.extend_from_slice(&[0; 11]);
        dcd.append(&mut dsi);
        let mut es_body = vec![0x00, 0x01, 0x40, 2, b'a', b'b'];
        es_body.extend_from_slice(&dcd);
        es_body.extend_from_slice(&[0x06, 0x01, 0x02]);
        let mut body = vec![0x03, es_body.len() as u8];
        body.extend_from_slice(&es_body);
        assert_eq!(
            parse_esds(&esds(&body)).unwrap(),
            (0x40, Some(&[0x12, 0x10][..]))
        );
    }

    #[test]
    fn esds_errors_name_the_descriptor() {
        assert_eq!(
            parse_esds(&esds(&[0x03, 0x05, 0, 1, 0])).unwrap_err(),
            Mp4Error::Truncated("esds")
        );
        assert_eq!(
            parse_esds(&esds(&[0x03, 0x03, 0, 1, 0])).unwrap_err(),
            Mp4Error::Missing {
                kind: "DecoderConfigDescriptor",
                parent: "esds"
            }
        );
        assert_eq!(
            parse_esds(&esds(&[0x04, 0x02, 0x40, 0x15])).unwrap_err(),
            Mp4Error::Truncated("esds DecoderConfigDescriptor")
        );
        assert!(parse_esds(&[1, 0, 0, 0, 3, 0]).is_err());
        // A DecoderConfigDescriptor without DecoderSpecificInfo.
        let mut dcd = vec![0x04, 13, 0x6b];
        dcd.extend_from_slice(&[0; 12]);
        assert_eq!(parse_esds(&esds(&dcd)).unwrap(), (0x6b, None));
    }

    #[test]
    fn audio_specific_config_rate_and_channels() {
        assert_eq!(audio_specific_config(&[0x12, 0x10]).unwrap(), (44100, 2));
        assert_eq!(audio_specific_config(&[0x11, 0x98]).unwrap(), (48000, 3));
        // HE-AAC (object type 5): 24 kHz core, 48 kHz SBR, stereo.
        assert_eq!(
            audio_specific_config(&[0x2b, 0x11, 0x88]).unwrap(),
            (48000, 2)
        );
        // Explicit frequency.
        assert_eq!(
            audio_specific_config(&[0x17, 0x80, 0x3e, 0x80, 0x08]).unwrap(),
            (32000, 1)
        );
        assert!(audio_specific_config(&[0x12]).is_err());
    }

    #[test]
    fn unknown_sample_entries_are_skipped_not_errors() {
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 16];
        stsd.extend_from_slice(b"Opus");
        stsd.extend_from_slice(&[0; 8]);
        assert_eq!(
            parse_stsd(&stsd).unwrap(),
            (
                Entry::Skipped(SkipReason::Codec(FourCc(*b"Opus"))),
                FourCc(*b"Opus"),
                1
            )
        );
        stsd[12..16].copy_from_slice(b"encv");
        assert_eq!(
            parse_stsd(&stsd).unwrap().0,
            Entry::Skipped(SkipReason::Encrypted(FourCc(*b"encv")))
        );
        assert_eq!(
            parse_stsd(&stsd[..8]).unwrap_err(),
            Mp4Error::Missing {
                kind: "sample entry",
                parent: "stsd"
            }
        );
    }

    #[test]
    fn visual_entry_without_config_is_skipped() {
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 86];
        stsd.extend_from_slice(b"avc1");
        stsd.extend_from_slice(&[0; 78]);
        assert_eq!(
            parse_stsd(&stsd).unwrap().0,
            Entry::Skipped(SkipReason::MissingConfig("avcC"))
        );
        stsd[11] = 85;
        stsd.pop();
        assert_eq!(
            parse_stsd(&stsd).unwrap_err(),
            Mp4Error::Truncated("visual sample entry")
        );
    }
}
