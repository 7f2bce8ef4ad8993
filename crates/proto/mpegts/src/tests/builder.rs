//! Hand-built transport streams: packets, PAT/PMT sections, PES packets, and elementary stream
//! samples made from the codec crate's test records.

use baton_codec::avc::AvcDecoderConfig;
use baton_codec::hevc::HevcDecoderConfig;

use crate::pes::encode_timestamp;
use crate::psi::crc32_mpeg2;
use crate::{AccessUnit, Demuxer, DemuxerConfig, Event, PACKET_LEN};

pub(crate) const PMT_PID: u16 = 0x1000;
pub(crate) const VIDEO_PID: u16 = 0x100;
pub(crate) const AUDIO_PID: u16 = 0x101;

/// Adaptation-field flags of a packet.
#[derive(Clone, Copy, Default)]
pub(crate) struct Flags {
    pub(crate) discontinuity: bool,
    pub(crate) random_access: bool,
}

/// One 188-byte packet; the payload (at most 184 bytes, less an adaptation field) is padded
/// with adaptation-field stuffing.
pub(crate) fn packet(pid: u16, pusi: bool, cc: u8, flags: Flags, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x47, (pusi as u8) << 6 | (pid >> 8) as u8 & 0x1f, pid as u8];
    let need_af = flags.discontinuity || flags.random_access || payload.len() < 184;
    let control = if payload.is_empty() {
        0x20
    } else if need_af {
        0x30
    } else {
        0x10
    };
    p.push(control | (cc & 0x0f));
    if need_af {
        let af_len = 183 - payload.len();
        p.push(af_len as u8);
        if af_len > 0 {
            p.push((flags.discontinuity as u8) << 7 | (flags.random_access as u8) << 6);
            p.resize(5 + af_len, 0xff);
        }
    }
    p.extend_from_slice(payload);
    assert_eq!(p.len(), PACKET_LEN);
    p
}

/// Counts continuity counters per PID while writing packets.
#[derive(Default)]
pub(crate) struct Writer {
    cc: std::collections::HashMap<u16, u8>,
    pub(crate) out: Vec<u8>,
}

impl Writer {
    fn next_cc(&mut self, pid: u16) -> u8 {
        let cc = self.cc.entry(pid).or_insert(15);
        *cc = (*cc + 1) & 0x0f;
        *cc
    }

    /// Writes a PSI section (pointer_field 0), over as many packets as it needs.
    pub(crate) fn section(&mut self, pid: u16, section: &[u8]) {
        let mut data = vec![0];
        data.extend_from_slice(section);
        for (i, chunk) in data.chunks(184).enumerate() {
            let cc = self.next_cc(pid);
            let mut payload = chunk.to_vec();
            // PSI packets are filled with 0xFF after the section.
            payload.resize(184, 0xff);
            self.out
                .extend(packet(pid, i == 0, cc, Flags::default(), &payload));
        }
    }

    /// Writes a PES over as many packets as it needs, each packet's packets returned too.
    pub(crate) fn pes(&mut self, pid: u16, pes: &[u8], flags: Flags) -> Vec<Vec<u8>> {
        let mut packets = Vec::new();
        let mut rest = pes;
        let mut first = true;
        while !rest.is_empty() {
            let room = if first && (flags.random_access || flags.discontinuity) {
                182
            } else {
                184
            };
            let take = rest.len().min(room);
            let flags = if first { flags } else { Flags::default() };
            let cc = self.next_cc(pid);
            let p = packet(pid, first, cc, flags, &rest[..take]);
            self.out.extend_from_slice(&p);
            packets.push(p);
            rest = &rest[take..];
            first = false;
        }
        packets
    }

    pub(crate) fn pat_pmt(&mut self, version: u8, streams: &[(u8, u16, &[u8])]) {
        self.section(0, &pat(1, PMT_PID));
        self.section(PMT_PID, &pmt(1, version, streams));
    }
}

/// Appends the CRC_32 to a section whose section_length already counts it.
fn seal(mut section: Vec<u8>) -> Vec<u8> {
    let crc = crc32_mpeg2(&section);
    section.extend_from_slice(&crc.to_be_bytes());
    section
}

fn long_header(table_id: u8, id: u16, version: u8, body_len: usize) -> Vec<u8> {
    let section_length = 5 + body_len + 4;
    vec![
        table_id,
        0xb0 | (section_length >> 8) as u8,
        section_length as u8,
        (id >> 8) as u8,
        id as u8,
        0xc1 | (version & 0x1f) << 1,
        0,
        0,
    ]
}

pub(crate) fn pat(program: u16, pmt_pid: u16) -> Vec<u8> {
    let mut s = long_header(0x00, 1, 0, 4);
    s.extend_from_slice(&program.to_be_bytes());
    s.extend_from_slice(&(0xe000 | pmt_pid).to_be_bytes());
    seal(s)
}

pub(crate) fn pmt(program: u16, version: u8, streams: &[(u8, u16, &[u8])]) -> Vec<u8> {
    let mut body = vec![0xe0 | (VIDEO_PID >> 8) as u8, VIDEO_PID as u8, 0xf0, 0];
    for (stream_type, pid, descriptors) in streams {
        body.push(*stream_type);
        body.extend_from_slice(&(0xe000 | pid).to_be_bytes());
        body.extend_from_slice(&(0xf000 | descriptors.len() as u16).to_be_bytes());
        body.extend_from_slice(descriptors);
    }
    let mut s = long_header(0x02, program, version, body.len());
    s.extend_from_slice(&body);
    seal(s)
}

/// A PES packet; `bounded` writes PES_packet_length, otherwise 0 (video only).
pub(crate) fn pes(stream_id: u8, pts: u64, dts: Option<u64>, es: &[u8], bounded: bool) -> Vec<u8> {
    let mut header = match dts {
        Some(dts) => {
            let mut h = vec![0x80, 0xc0, 10];
            h.extend_from_slice(&encode_timestamp(0b0011, pts));
            h.extend_from_slice(&encode_timestamp(0b0001, dts));
            h
        }
        None => {
            let mut h = vec![0x80, 0x80, 5];
            h.extend_from_slice(&encode_timestamp(0b0010, pts));
            h
        }
    };
    let len = if bounded { header.len() + es.len() } else { 0 };
    let mut p = vec![0, 0, 1, stream_id, (len >> 8) as u8, len as u8];
    p.append(&mut header);
    p.extend_from_slice(es);
    p
}

/// SPS and PPS of a 1280x720 stream and of a baseline stream, from baton-codec's test data.
pub(crate) fn avc_params(which: usize) -> (Vec<u8>, Vec<u8>) {
    let record: &[u8] = match which {
        0 => include_bytes!("../../../codec/testdata/h264_720p.avcc"),
        _ => include_bytes!("../../../codec/testdata/h264_baseline.avcc"),
    };
    let c = AvcDecoderConfig::parse(record).unwrap();
    (c.sps[0].to_vec(), c.pps[0].to_vec())
}

pub(crate) fn hevc_params() -> [Vec<u8>; 3] {
    let c =
        HevcDecoderConfig::parse(include_bytes!("../../../codec/testdata/hevc_720p.hvcc")).unwrap();
    [32, 33, 34].map(|t| c.nals_of_type(t).next().unwrap().to_vec())
}

/// Annex B: each NAL behind a 4-byte start code.
pub(crate) fn annexb(nals: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in nals {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    out
}

/// AVCC: each NAL behind its 4-byte length.
pub(crate) fn avcc(nals: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in nals {
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

/// An ADTS frame (AAC LC, 48 kHz, stereo) around `payload`.
pub(crate) fn adts(payload: &[u8]) -> Vec<u8> {
    let len = payload.len() + 7;
    let mut f = vec![
        0xff,
        0xf1,
        0x40 | 3 << 2, // LC, 48 kHz (index 3), channel config high bit 0
        0x80 | (len >> 11) as u8,
        (len >> 3) as u8,
        ((len & 7) << 5) as u8 | 0x1f,
        0xfc,
    ];
    f.extend_from_slice(payload);
    f
}

/// Demuxes `ts` in `chunk`-byte pieces, then finishes.
pub(crate) fn demux_with(config: DemuxerConfig, ts: &[u8], chunk: usize) -> Vec<Event> {
    let mut d = Demuxer::new(config);
    let mut events = Vec::new();
    for piece in ts.chunks(chunk.max(1)) {
        d.push(piece);
        events.extend(d.events());
    }
    d.finish();
    events.extend(d.events());
    events
}

pub(crate) fn demux(ts: &[u8]) -> Vec<Event> {
    demux_with(DemuxerConfig::default(), ts, PACKET_LEN)
}

/// The access units among demuxer events.
pub(crate) fn units(events: &[Event]) -> Vec<&AccessUnit> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Unit(u) => Some(u),
            _ => None,
        })
        .collect()
}
