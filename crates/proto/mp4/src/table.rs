//! Sample tables (ISO/IEC 14496-12 8.6, 8.7): `stts`, `ctts`, `stss`, `stsc`, `stsz`/`stz2`,
//! `stco`/`co64`, kept run-length encoded as stored, and [`Walker`], which expands them sample
//! by sample without allocating.
//!
//! Everything a walker relies on is checked once by [`SampleTable::parse`]: the tables describe
//! at least `count` samples, and no sample's end offset overflows (checked by the movie's first
//! walk). A walker still never indexes blindly: on an inconsistency it just ends.

use crate::header::{Children, Reader};
use crate::{MAX_SAMPLES_PER_TRACK, Mp4Error};

/// A run of `count` consecutive samples sharing `value` (an `stts` delta or a `ctts` offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run<T> {
    count: u32,
    value: T,
}

/// An `stsc` entry: from chunk `first_chunk` (1-based) on, `per_chunk` samples per chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ChunkRun {
    first_chunk: u32,
    per_chunk: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Sizes {
    Fixed(u32),
    Table(Vec<u32>),
}

impl Sizes {
    fn get(&self, index: u32) -> Option<u32> {
        match self {
            Sizes::Fixed(size) => Some(*size),
            Sizes::Table(sizes) => sizes.get(index as usize).copied(),
        }
    }
}

/// The sample tables of one track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SampleTable {
    /// Number of samples (`stsz`/`stz2` sample_count).
    pub(crate) count: u32,
    stts: Vec<Run<u32>>,
    ctts: Vec<Run<i32>>,
    /// 1-based sync sample numbers, sorted; `None`: every sample is a sync sample.
    sync: Option<Vec<u32>>,
    stsc: Vec<ChunkRun>,
    sizes: Sizes,
    chunks: Vec<u64>,
    /// The most negative composition offset applying to a sample (0 when none is negative).
    pub(crate) min_composition_offset: i32,
    /// The largest `stsc` sample_description_index.
    pub(crate) max_description_index: u32,
}

impl SampleTable {
    /// Parses the tables of an `stbl` payload (`stsd` is read elsewhere).
    pub(crate) fn parse(stbl: &[u8]) -> Result<SampleTable, Mp4Error> {
        let mut boxes: [Option<&[u8]>; 8] = [None; 8];
        const KINDS: [&[u8; 4]; 8] = [
            b"stts", b"ctts", b"stss", b"stsc", b"stsz", b"stz2", b"stco", b"co64",
        ];
        for child in Children::new(stbl, "stbl") {
            let (kind, payload) = child?;
            if let Some(i) = KINDS.iter().position(|k| **k == kind) {
                boxes[i].get_or_insert(payload);
            }
        }
        let [stts, ctts, stss, stsc, stsz, stz2, stco, co64] = boxes;
        let missing = |kind| Mp4Error::Missing {
            kind,
            parent: "stbl",
        };

        let (count, sizes) = match (stsz, stz2) {
            (Some(stsz), _) => parse_stsz(stsz)?,
            (None, Some(stz2)) => parse_stz2(stz2)?,
            (None, None) => return Err(missing("stsz")),
        };
        let stts = parse_stts(stts.ok_or(missing("stts"))?)?;
        let described: u64 = stts.iter().map(|r| u64::from(r.count)).sum();
        if described < u64::from(count) {
            return Err(Mp4Error::TableMismatch {
                table: "stts",
                described,
                samples: count,
            });
        }
        let ctts = ctts.map(parse_ctts).transpose()?.unwrap_or_default();
        let mut min_composition_offset = 0;
        let mut covered = 0u64;
        for run in &ctts {
            if covered >= u64::from(count) {
                break;
            }
            min_composition_offset = min_composition_offset.min(run.value);
            covered += u64::from(run.count);
        }
        let sync = stss.map(|s| parse_stss(s, count)).transpose()?;
        let chunks = match (stco, co64) {
            (Some(stco), _) => parse_chunk_offsets(stco, "stco", false)?,
            (None, Some(co64)) => parse_chunk_offsets(co64, "co64", true)?,
            (None, None) => return Err(missing("stco")),
        };
        let (stsc, max_description_index) = parse_stsc(stsc.ok_or(missing("stsc"))?)?;
        let addressed = addressed_samples(&stsc, chunks.len() as u64);
        if addressed < u64::from(count) {
            return Err(Mp4Error::TableMismatch {
                table: "stsc and stco",
                described: addressed,
                samples: count,
            });
        }
        Ok(SampleTable {
            count,
            stts,
            ctts,
            sync,
            stsc,
            sizes,
            chunks,
            min_composition_offset,
            max_description_index,
        })
    }
}

fn check_version(r: &mut Reader<'_>, kind: &'static str, max: u8) -> Result<u8, Mp4Error> {
    let (version, _) = r.full_box()?;
    if version > max {
        return Err(Mp4Error::Version { kind, version });
    }
    Ok(version)
}

fn check_count(count: u32) -> Result<u32, Mp4Error> {
    if count > MAX_SAMPLES_PER_TRACK {
        return Err(Mp4Error::Limit {
            what: "sample count",
            value: u64::from(count),
            max: u64::from(MAX_SAMPLES_PER_TRACK),
        });
    }
    Ok(count)
}

fn parse_stsz(payload: &[u8]) -> Result<(u32, Sizes), Mp4Error> {
    let mut r = Reader::new(payload, "stsz");
    check_version(&mut r, "stsz", 0)?;
    let sample_size = r.u32()?;
    if sample_size != 0 {
        return Ok((check_count(r.u32()?)?, Sizes::Fixed(sample_size)));
    }
    let count = r.entry_count(4)?;
    // entry_count() checked the entries are present, so count fits a u32 read.
    let count = check_count(count as u32)?;
    let sizes = (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?;
    Ok((count, Sizes::Table(sizes)))
}

fn parse_stz2(payload: &[u8]) -> Result<(u32, Sizes), Mp4Error> {
    let mut r = Reader::new(payload, "stz2");
    check_version(&mut r, "stz2", 0)?;
    r.skip(3)?;
    let field_size = r.u8()?;
    let count = check_count(r.u32()?)?;
    if !matches!(field_size, 4 | 8 | 16) {
        return Err(Mp4Error::Invalid {
            field: "stz2 field_size",
            value: i128::from(field_size),
        });
    }
    let bytes = (u64::from(count) * u64::from(field_size)).div_ceil(8);
    if bytes > r.remaining() as u64 {
        return Err(Mp4Error::Truncated("stz2"));
    }
    let table = r.rest();
    let sizes = (0..count as usize)
        .map(|i| match field_size {
            4 => {
                let b = table[i / 2];
                u32::from(if i % 2 == 0 { b >> 4 } else { b & 0x0f })
            }
            8 => u32::from(table[i]),
            _ => u32::from(u16::from_be_bytes([table[2 * i], table[2 * i + 1]])),
        })
        .collect();
    Ok((count, Sizes::Table(sizes)))
}

fn parse_stts(payload: &[u8]) -> Result<Vec<Run<u32>>, Mp4Error> {
    let mut r = Reader::new(payload, "stts");
    check_version(&mut r, "stts", 0)?;
    let entries = r.entry_count(8)?;
    let mut runs = Vec::with_capacity(entries);
    for _ in 0..entries {
        let count = r.u32()?;
        let value = r.u32()?;
        if count > 0 {
            runs.push(Run { count, value });
        }
    }
    Ok(runs)
}

fn parse_ctts(payload: &[u8]) -> Result<Vec<Run<i32>>, Mp4Error> {
    let mut r = Reader::new(payload, "ctts");
    // Version 0 offsets are unsigned in the specification, but writers put negative values
    // there too; like ffmpeg, both versions are read as signed.
    check_version(&mut r, "ctts", 1)?;
    let entries = r.entry_count(8)?;
    let mut runs = Vec::with_capacity(entries);
    for _ in 0..entries {
        let count = r.u32()?;
        let value = r.i32()?;
        if count > 0 {
            runs.push(Run { count, value });
        }
    }
    Ok(runs)
}

fn parse_stss(payload: &[u8], count: u32) -> Result<Vec<u32>, Mp4Error> {
    let mut r = Reader::new(payload, "stss");
    check_version(&mut r, "stss", 0)?;
    let entries = r.entry_count(4)?;
    let mut sync = Vec::with_capacity(entries);
    for _ in 0..entries {
        let n = r.u32()?;
        if n == 0 || n > count {
            return Err(Mp4Error::Invalid {
                field: "stss sample_number",
                value: i128::from(n),
            });
        }
        sync.push(n);
    }
    // Sorted by the specification; tolerate writers that do not.
    sync.sort_unstable();
    sync.dedup();
    Ok(sync)
}

fn parse_chunk_offsets(
    payload: &[u8],
    kind: &'static str,
    wide: bool,
) -> Result<Vec<u64>, Mp4Error> {
    let mut r = Reader::new(payload, kind);
    check_version(&mut r, kind, 0)?;
    let entries = r.entry_count(if wide { 8 } else { 4 })?;
    (0..entries)
        .map(|_| {
            if wide {
                r.u64()
            } else {
                r.u32().map(u64::from)
            }
        })
        .collect()
}

fn parse_stsc(payload: &[u8]) -> Result<(Vec<ChunkRun>, u32), Mp4Error> {
    let mut r = Reader::new(payload, "stsc");
    check_version(&mut r, "stsc", 0)?;
    let entries = r.entry_count(12)?;
    let mut runs: Vec<ChunkRun> = Vec::with_capacity(entries);
    let mut max_description_index = 0;
    for _ in 0..entries {
        let first_chunk = r.u32()?;
        let per_chunk = r.u32()?;
        let description = r.u32()?;
        let ok = match runs.last() {
            None => first_chunk == 1,
            Some(last) => first_chunk > last.first_chunk,
        };
        if !ok {
            return Err(Mp4Error::Invalid {
                field: if runs.is_empty() {
                    "stsc first_chunk of the first entry (must be 1)"
                } else {
                    "stsc first_chunk (must increase)"
                },
                value: i128::from(first_chunk),
            });
        }
        if description == 0 {
            return Err(Mp4Error::Invalid {
                field: "stsc sample_description_index",
                value: 0,
            });
        }
        max_description_index = max_description_index.max(description);
        runs.push(ChunkRun {
            first_chunk,
            per_chunk,
        });
    }
    Ok((runs, max_description_index))
}

/// How many samples `stsc` places in the `chunk_count` chunks of `stco`/`co64`.
fn addressed_samples(stsc: &[ChunkRun], chunk_count: u64) -> u64 {
    let mut total = 0u64;
    for (i, run) in stsc.iter().enumerate() {
        let end = stsc
            .get(i + 1)
            .map_or(chunk_count + 1, |next| u64::from(next.first_chunk))
            .min(chunk_count + 1);
        let chunks = end.saturating_sub(u64::from(run.first_chunk));
        total = total.saturating_add(chunks.saturating_mul(u64::from(run.per_chunk)));
    }
    total
}

/// One sample as the tables describe it, in track units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawSample {
    pub(crate) index: u32,
    /// Decode time: the sum of the `stts` deltas before this sample.
    pub(crate) dts: u64,
    /// This sample's `stts` delta.
    pub(crate) delta: u32,
    /// Composition offset (`ctts`; 0 without one).
    pub(crate) composition_offset: i32,
    pub(crate) sync: bool,
    pub(crate) offset: u64,
    pub(crate) size: u32,
}

/// Where a [`Walker`] is in its table: plain data, so a position can be kept without
/// borrowing the table (an owned cursor stores it and rebuilds the walker per sample).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WalkerPos {
    index: u32,
    stts_i: usize,
    stts_left: u32,
    dts: u64,
    ctts_i: usize,
    ctts_left: u32,
    stsc_i: usize,
    chunk: usize,
    chunk_left: u32,
    offset: u64,
    started: bool,
    sync_i: usize,
}

/// Expands a [`SampleTable`] in decode order. Cheap to clone (no heap), which is how positions
/// are remembered.
#[derive(Clone, Debug)]
pub(crate) struct Walker<'a> {
    table: &'a SampleTable,
    p: WalkerPos,
}

impl<'a> Walker<'a> {
    pub(crate) fn new(table: &'a SampleTable) -> Self {
        Walker {
            table,
            p: WalkerPos {
                stts_left: table.stts.first().map_or(0, |r| r.count),
                ctts_left: table.ctts.first().map_or(0, |r| r.count),
                ..WalkerPos::default()
            },
        }
    }

    /// A walker of `table` at `pos` (taken from a walker of the same table).
    pub(crate) fn at(table: &'a SampleTable, pos: WalkerPos) -> Self {
        Walker { table, p: pos }
    }

    pub(crate) fn pos(&self) -> WalkerPos {
        self.p
    }

    /// Makes chunk `chunk` (0-based) the current one.
    fn enter_chunk(&mut self, chunk: usize) -> Option<()> {
        let number = chunk as u64 + 1;
        while self
            .table
            .stsc
            .get(self.p.stsc_i + 1)
            .is_some_and(|next| u64::from(next.first_chunk) <= number)
        {
            self.p.stsc_i += 1;
        }
        self.p.offset = *self.table.chunks.get(chunk)?;
        self.p.chunk = chunk;
        self.p.chunk_left = self.table.stsc.get(self.p.stsc_i)?.per_chunk;
        Some(())
    }
}

impl Iterator for Walker<'_> {
    type Item = RawSample;

    fn next(&mut self) -> Option<RawSample> {
        let t = self.table;
        if self.p.index >= t.count {
            return None;
        }
        while self.p.stts_left == 0 {
            self.p.stts_i += 1;
            self.p.stts_left = t.stts.get(self.p.stts_i)?.count;
        }
        let delta = t.stts.get(self.p.stts_i)?.value;
        let composition_offset = match t.ctts.get(self.p.ctts_i) {
            Some(run) => {
                self.p.ctts_left -= 1;
                if self.p.ctts_left == 0 {
                    self.p.ctts_i += 1;
                    self.p.ctts_left = t.ctts.get(self.p.ctts_i).map_or(0, |r| r.count);
                }
                run.value
            }
            None => 0,
        };
        if !self.p.started {
            self.enter_chunk(0)?;
            self.p.started = true;
        }
        while self.p.chunk_left == 0 {
            self.enter_chunk(self.p.chunk + 1)?;
        }
        let size = t.sizes.get(self.p.index)?;
        let offset = self.p.offset;
        self.p.offset = offset.checked_add(u64::from(size))?;
        self.p.chunk_left -= 1;
        let number = self.p.index + 1;
        let sync = match &t.sync {
            None => true,
            Some(list) => {
                while list.get(self.p.sync_i).is_some_and(|&s| s < number) {
                    self.p.sync_i += 1;
                }
                list.get(self.p.sync_i) == Some(&number)
            }
        };
        let sample = RawSample {
            index: self.p.index,
            dts: self.p.dts,
            delta,
            composition_offset,
            sync,
            offset,
            size,
        };
        self.p.stts_left -= 1;
        // At most 10^7 samples of at most 2^32 units: no overflow.
        self.p.dts += u64::from(delta);
        self.p.index += 1;
        Some(sample)
    }
}

#[cfg(test)]
mod tests;
