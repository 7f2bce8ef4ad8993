//! The demuxer: packet sync, PID routing, continuity counters, the PAT/PMT and the streams.

use std::collections::{BTreeMap, VecDeque};

use crate::packet::{Continuity, Packet, continuity, find_sync, parse_packet};
use crate::psi::{self, Pmt, SectionAssembler, SectionError};
use crate::stream::Stream;
use crate::timestamp::Unwrapper;
use crate::{Codec, Discontinuity, DropReason, Event, MAX_STREAMS, PACKET_LEN, SYNC_BYTE};

/// The PID of the program association table.
const PID_PAT: u16 = 0x0000;
/// The PID of null packets (stuffing).
const PID_NULL: u16 = 0x1fff;

/// Demuxer limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemuxerConfig {
    /// The largest PES packet reassembled, in bytes (default 4 MiB: a high-bitrate 4K
    /// keyframe fits). A larger one is dropped with [`DropReason::PesTooLarge`].
    pub max_pes_bytes: usize,
}

impl Default for DemuxerConfig {
    fn default() -> Self {
        DemuxerConfig {
            max_pes_bytes: 4 << 20,
        }
    }
}

/// Counters over the demuxer's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DemuxStats {
    /// TS packets read.
    pub packets: u64,
    /// Bytes skipped while out of sync.
    pub bytes_skipped: u64,
    /// Packets with transport_error_indicator set (ignored).
    pub transport_errors: u64,
    /// Continuity-counter errors on tracked PIDs.
    pub continuity_errors: u64,
    /// Access units emitted.
    pub units: u64,
    /// PES packets (or access units) thrown away.
    pub dropped: u64,
}

/// A sans-IO MPEG-TS demuxer.
///
/// Calling order: [`push`](Self::push) bytes as they arrive (any split), then
/// [`poll_event`](Self::poll_event) until it returns `None` before pushing more (events queue
/// up otherwise); at the end of the input call [`finish`](Self::finish) and poll again, which
/// completes the last PES of each stream. The same bytes give the same events however they are
/// split. No input makes it panic.
#[derive(Debug)]
pub struct Demuxer {
    config: DemuxerConfig,
    /// Unconsumed input: at most one packet (and a byte) while in sync, under three packets
    /// while looking for it.
    buf: Vec<u8>,
    synced: bool,
    /// Bytes skipped since sync was last held.
    skipped: u64,
    finished: bool,
    events: VecDeque<Event>,
    pat: Psi,
    program: Option<Program>,
    streams: BTreeMap<u16, Stream>,
    /// Skipped streams already reported: PID → stream_type.
    reported: BTreeMap<u16, u8>,
    clock: Unwrapper,
    stats: DemuxStats,
}

/// A PSI PID's continuity and section assembly.
#[derive(Debug, Default)]
struct Psi {
    cc: Option<u8>,
    sections: SectionAssembler,
}

/// The program being demuxed (the first in the PAT).
#[derive(Debug)]
struct Program {
    number: u16,
    pmt_pid: u16,
    pmt: Psi,
    /// The PMT last applied.
    current: Option<Pmt>,
}

impl Default for Demuxer {
    fn default() -> Self {
        Demuxer::new(DemuxerConfig::default())
    }
}

impl Demuxer {
    /// A demuxer with the given limits.
    pub fn new(config: DemuxerConfig) -> Self {
        Demuxer {
            config,
            buf: Vec::new(),
            synced: false,
            skipped: 0,
            finished: false,
            events: VecDeque::new(),
            pat: Psi::default(),
            program: None,
            streams: BTreeMap::new(),
            reported: BTreeMap::new(),
            clock: Unwrapper::default(),
            stats: DemuxStats::default(),
        }
    }

    /// Takes the next piece of the transport stream. Ignored after [`finish`](Self::finish).
    pub fn push(&mut self, data: &[u8]) {
        if self.finished {
            return;
        }
        self.buf.extend_from_slice(data);
        self.drain(false);
    }

    /// Ends the input: a last partial sync check, then every stream's PES in progress is
    /// completed (an unbounded video PES ends here) and audio tails are dropped.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.drain(true);
        self.finished = true;
        let leftover = self.buf.len() as u64;
        self.buf.clear();
        self.skip(leftover);
        self.report_skipped();
        for stream in self.streams.values_mut() {
            let produced = stream.finish(&mut self.clock, &mut self.events);
            self.stats.units += produced.units;
            self.stats.dropped += produced.dropped;
        }
    }

    /// The next event, in stream order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Drains the queued events.
    pub fn events(&mut self) -> impl Iterator<Item = Event> + '_ {
        self.events.drain(..)
    }

    /// Counters so far.
    pub fn stats(&self) -> DemuxStats {
        self.stats
    }

    /// Consumes whole packets from `buf`, finding sync where it is lost. At the end of the
    /// input (`eof`) sync is accepted with fewer confirmations than three.
    fn drain(&mut self, eof: bool) {
        let mut pos = 0;
        loop {
            let rest = self.buf.get(pos..).unwrap_or(&[]);
            if self.synced {
                let Some(packet) = rest.first_chunk::<PACKET_LEN>() else {
                    break;
                };
                // The next packet's sync byte must follow too: garbage that starts with 0x47
                // is not taken for a packet (and the real packet after it lost).
                let next_ok = match rest.get(PACKET_LEN) {
                    Some(&byte) => byte == SYNC_BYTE,
                    None if eof => true,
                    None => break,
                };
                if packet[0] == SYNC_BYTE && next_ok {
                    let packet = *packet;
                    pos += PACKET_LEN;
                    self.packet(&packet);
                    continue;
                }
                self.synced = false;
            }
            match find_sync(rest, eof) {
                Ok(offset) => {
                    pos += offset;
                    self.skip(offset as u64);
                    self.synced = true;
                    self.report_skipped();
                }
                Err(discard) => {
                    pos += discard;
                    self.skip(discard as u64);
                    break;
                }
            }
        }
        self.buf.drain(..pos.min(self.buf.len()));
    }

    fn skip(&mut self, bytes: u64) {
        self.skipped += bytes;
        self.stats.bytes_skipped += bytes;
    }

    fn report_skipped(&mut self) {
        if self.skipped > 0 {
            self.events.push_back(Event::SyncLost {
                skipped: self.skipped,
            });
            self.skipped = 0;
        }
    }

    fn packet(&mut self, raw: &[u8; PACKET_LEN]) {
        self.stats.packets += 1;
        // transport_error_indicator: the packet is known bad; the counter check on the next
        // one reports the loss.
        if raw[1] & 0x80 != 0 {
            self.stats.transport_errors += 1;
            return;
        }
        let Some(packet) = parse_packet(raw) else {
            return;
        };
        if packet.pid == PID_NULL {
            return;
        }
        if packet.pid == PID_PAT {
            self.pat_packet(&packet);
        } else if self
            .program
            .as_ref()
            .is_some_and(|p| p.pmt_pid == packet.pid)
        {
            self.pmt_packet(&packet);
        } else if self.streams.contains_key(&packet.pid) {
            self.es_packet(&packet);
        }
    }

    fn pat_packet(&mut self, packet: &Packet<'_>) {
        let sections = match psi_payload(&mut self.pat, packet) {
            Some(sections) => sections,
            None => return,
        };
        for section in sections {
            match section
                .map_err(section_error)
                .and_then(|s| psi::parse_pat(&s).map_err(section_error))
            {
                Ok(Some((number, pmt_pid))) => self.apply_pat(number, pmt_pid),
                Ok(None) => {}
                Err(what) => self.drop_section(PID_PAT, what),
            }
        }
    }

    fn pmt_packet(&mut self, packet: &Packet<'_>) {
        let Some(program) = &mut self.program else {
            return;
        };
        let pid = program.pmt_pid;
        let sections = match psi_payload(&mut program.pmt, packet) {
            Some(sections) => sections,
            None => return,
        };
        for section in sections {
            match section
                .map_err(section_error)
                .and_then(|s| psi::parse_pmt(&s).map_err(section_error))
            {
                Ok(Some(pmt)) => self.apply_pmt(pmt),
                Ok(None) => {}
                Err(what) => self.drop_section(pid, what),
            }
        }
    }

    fn drop_section(&mut self, pid: u16, what: &'static str) {
        self.stats.dropped += 1;
        self.events.push_back(Event::Dropped {
            pid,
            reason: DropReason::BadSection(what),
        });
    }

    fn apply_pat(&mut self, number: u16, pmt_pid: u16) {
        if self
            .program
            .as_ref()
            .is_some_and(|p| p.number == number && p.pmt_pid == pmt_pid)
        {
            return;
        }
        // A new program: its PMT says which streams follow.
        self.program = Some(Program {
            number,
            pmt_pid,
            pmt: Psi::default(),
            current: None,
        });
    }

    /// Applies a PMT: streams whose PID and stream_type stay keep their state (and their
    /// record, so nothing is re-sent); new or retyped ones start afresh and announce their
    /// configuration with their first access unit; streams no longer listed are dropped.
    fn apply_pmt(&mut self, pmt: Pmt) {
        let Some(program) = &mut self.program else {
            return;
        };
        if pmt.program_number != program.number || program.current.as_ref() == Some(&pmt) {
            return;
        }
        let pmt_pid = program.pmt_pid;
        let mut old = std::mem::take(&mut self.streams);
        // Streams that go or change type end here: their last PES is complete.
        for (pid, stream) in old.iter_mut() {
            if !pmt
                .streams
                .iter()
                .any(|es| es.pid == *pid && es.stream_type == stream.stream_type)
            {
                let produced = stream.finish(&mut self.clock, &mut self.events);
                self.stats.units += produced.units;
                self.stats.dropped += produced.dropped;
            }
        }
        for es in &pmt.streams {
            let codec = Codec::from_stream_type(es.stream_type);
            let reserved = es.pid == PID_PAT || es.pid == pmt_pid || es.pid >= PID_NULL;
            match codec {
                Some(codec)
                    if !reserved
                        && self.streams.len() < MAX_STREAMS
                        && !self.streams.contains_key(&es.pid) =>
                {
                    match old.remove(&es.pid) {
                        Some(stream) if stream.stream_type == es.stream_type => {
                            self.streams.insert(es.pid, stream);
                        }
                        _ => {
                            self.reported.remove(&es.pid);
                            self.streams
                                .insert(es.pid, Stream::new(es.pid, es.stream_type, codec));
                            self.events
                                .push_back(Event::StreamAdded { pid: es.pid, codec });
                        }
                    }
                }
                _ => {
                    if self.reported.get(&es.pid) == Some(&es.stream_type) {
                        continue;
                    }
                    self.reported.insert(es.pid, es.stream_type);
                    let name = if codec.is_some() {
                        if reserved {
                            "stream on a reserved PID"
                        } else if self.streams.contains_key(&es.pid) {
                            "PID listed twice"
                        } else {
                            "too many streams"
                        }
                    } else {
                        psi::stream_type_name(es.stream_type, &es.descriptors)
                    };
                    self.events.push_back(Event::StreamSkipped {
                        pid: es.pid,
                        stream_type: es.stream_type,
                        name,
                    });
                }
            }
        }
        program.current = Some(pmt);
    }

    fn es_packet(&mut self, packet: &Packet<'_>) {
        let max_pes = self.config.max_pes_bytes;
        let Some(stream) = self.streams.get_mut(&packet.pid) else {
            return;
        };
        if stream.refused {
            return;
        }
        if packet.discontinuity {
            self.events.push_back(Event::Discontinuity {
                pid: packet.pid,
                cause: Discontinuity::Signalled,
            });
        }
        match continuity(&mut stream.cc, packet) {
            Continuity::Next => {}
            Continuity::Duplicate => return,
            Continuity::Lost { expected, found } => {
                self.stats.continuity_errors += 1;
                stream.lose();
                self.events.push_back(Event::Discontinuity {
                    pid: packet.pid,
                    cause: Discontinuity::ContinuityError { expected, found },
                });
            }
        }
        if !packet.has_payload {
            return;
        }
        if packet.scrambled {
            stream.lose();
            if !stream.scrambled_reported {
                stream.scrambled_reported = true;
                self.events.push_back(Event::Dropped {
                    pid: packet.pid,
                    reason: DropReason::Scrambled,
                });
            }
            return;
        }
        let produced = stream.payload(
            packet.pusi,
            packet.random_access,
            packet.payload,
            max_pes,
            &mut self.clock,
            &mut self.events,
        );
        self.stats.units += produced.units;
        self.stats.dropped += produced.dropped;
        if stream.refused {
            stream.lose();
        }
    }
}

/// Checks and feeds one PSI packet; `None` when it carries nothing to parse.
fn psi_payload(psi: &mut Psi, packet: &Packet<'_>) -> Option<Vec<Result<Vec<u8>, SectionError>>> {
    match continuity(&mut psi.cc, packet) {
        Continuity::Next => {}
        Continuity::Duplicate => return None,
        Continuity::Lost { .. } => psi.sections.reset(),
    }
    if !packet.has_payload || packet.scrambled {
        return None;
    }
    Some(psi.sections.push(packet.pusi, packet.payload))
}

fn section_error(e: SectionError) -> &'static str {
    match e {
        SectionError::Crc => "CRC_32 mismatch",
        SectionError::Malformed => "malformed section",
        SectionError::TooLong => "section longer than 1024 bytes",
    }
}
