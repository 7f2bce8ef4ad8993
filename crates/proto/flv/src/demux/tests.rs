use super::*;
use crate::{FlvMuxer, VideoPacket, parse_audio_tag_header, parse_video_tag_header};
use proptest::prelude::*;

const SAMPLE_FLV: &[u8] = include_bytes!("../../testdata/h264_aac_160x120.flv");

fn demux_all(d: &mut FlvDemuxer) -> Result<Vec<FlvTag>, FlvError> {
    let mut tags = Vec::new();
    while let Some(tag) = d.poll_tag()? {
        tags.push(tag);
    }
    Ok(tags)
}

fn tag_bytes(tag_type_byte: u8, timestamp: u32, data: &[u8], prev_size: u32) -> Vec<u8> {
    let mut v = vec![tag_type_byte];
    v.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(&timestamp.to_be_bytes()[1..]);
    v.push((timestamp >> 24) as u8);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(data);
    v.extend_from_slice(&prev_size.to_be_bytes());
    v
}

fn muxed(tags: &[(TagType, u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.extend_from_slice(&FlvMuxer::header(true, true));
    for (t, ts, data) in tags {
        FlvMuxer::write_tag(*t, *ts, data, &mut out);
    }
    out.to_vec()
}

#[test]
fn demuxes_ffmpeg_file() {
    let mut d = FlvDemuxer::new(DemuxLimits::default());
    d.push(SAMPLE_FLV);
    let tags = demux_all(&mut d).unwrap();
    assert_eq!(
        d.header(),
        Some(&FlvHeader {
            has_audio: true,
            has_video: true
        })
    );
    // Counted independently with ffprobe: 30 video and 45 audio packets, plus ffmpeg's
    // onMetaData, the AVC and AAC sequence headers and an AVC end-of-sequence tag.
    let count = |t| tags.iter().filter(|tag| tag.tag_type == t).count();
    assert_eq!(count(TagType::Script), 1);
    assert_eq!(count(TagType::Video), 32);
    assert_eq!(count(TagType::Audio), 46);
    assert_eq!(tags[0].tag_type, TagType::Script);
    assert_eq!(&tags[0].data[..13], b"\x02\x00\x0aonMetaData");
    let v = parse_video_tag_header(&tags[1].data).unwrap();
    assert_eq!(v.packet, VideoPacket::SequenceHeader);
    assert!(
        parse_audio_tag_header(&tags[2].data)
            .unwrap()
            .sequence_header
    );
    assert_eq!(tags.last().unwrap().timestamp, 1979);
    for t in [TagType::Audio, TagType::Video] {
        let ts: Vec<u32> = tags
            .iter()
            .filter(|g| g.tag_type == t)
            .map(|g| g.timestamp)
            .collect();
        assert!(
            ts.windows(2).all(|w| w[0] <= w[1]),
            "{t:?} timestamps go back"
        );
    }
    let s = d.stats();
    assert_eq!(s.tags, 79);
    assert_eq!(s.skipped_tags, 0);
    assert_eq!(s.previous_tag_size_mismatches, 0);
    assert_eq!(s.bytes, SAMPLE_FLV.len() as u64);
    assert_eq!(d.remaining(), 0);
}

#[test]
fn remuxing_ffmpeg_file_is_byte_identical() {
    let mut d = FlvDemuxer::new(DemuxLimits::default());
    d.push(SAMPLE_FLV);
    let tags = demux_all(&mut d).unwrap();
    let mut out = BytesMut::from(&FlvMuxer::header(true, true)[..]);
    for tag in &tags {
        FlvMuxer::write_tag(tag.tag_type, tag.timestamp, &tag.data, &mut out);
    }
    assert_eq!(&out[..], SAMPLE_FLV);
}

#[test]
fn data_offset_padding_is_skipped() {
    let mut input = vec![
        b'F', b'L', b'V', 1, 5, 0, 0, 0, 15, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0,
    ];
    input.extend(tag_bytes(9, 7, &[0x17, 0x01], 13));
    let mut d = FlvDemuxer::new(DemuxLimits::default());
    for b in &input {
        d.push(&[*b]);
        if let Some(tag) = d.poll_tag().unwrap() {
            assert_eq!(tag.timestamp, 7);
            assert_eq!(&tag.data[..], &[0x17, 0x01]);
        }
    }
    assert_eq!(d.stats().tags, 1);
    assert_eq!(d.stats().previous_tag_size_mismatches, 0);
}

#[test]
fn previous_tag_size_mismatches_are_counted_not_fatal() {
    let mut input = FlvMuxer::header(true, false).to_vec();
    input.extend(tag_bytes(8, 0, &[0xaf, 0x01, 0x21], 3)); // DataSize without the 11
    input.extend(tag_bytes(8, 23, &[0xaf, 0x01, 0x22], 14));
    let mut d = FlvDemuxer::new(DemuxLimits::default());
    d.push(&input);
    let tags = demux_all(&mut d).unwrap();
    assert_eq!(tags.len(), 2);
    assert_eq!(d.stats().previous_tag_size_mismatches, 1);
}

#[test]
fn encrypted_unknown_and_empty_tags_are_skipped() {
    let mut input = FlvMuxer::header(true, true).to_vec();
    input.extend(tag_bytes(0x20 | 9, 0, &[1, 2, 3], 14)); // Filter bit: encrypted
    input.extend(tag_bytes(15, 0, &[1, 2, 3, 4], 15)); // unknown TagType
    input.extend(tag_bytes(9, 0, &[], 11)); // DataSize 0
    input.extend(tag_bytes(18, 40, &[2, 0, 0], 14));
    let mut d = FlvDemuxer::new(DemuxLimits::default());
    d.push(&input);
    let tags = demux_all(&mut d).unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].tag_type, TagType::Script);
    assert_eq!(tags[0].timestamp, 40);
    assert_eq!(d.stats().skipped_tags, 3);
    assert_eq!(d.stats().previous_tag_size_mismatches, 0);
}

#[test]
fn skipped_tag_data_is_discarded_as_it_arrives() {
    let mut d = FlvDemuxer::new(DemuxLimits::default());
    d.push(&FlvMuxer::header(false, true));
    let mut header = tag_bytes(15, 0, &[], 0);
    header.truncate(TAG_HEADER_LEN);
    header[1..4].copy_from_slice(&[0x10, 0, 0]); // 1 MiB of an unknown tag type
    d.push(&header);
    for _ in 0..16 {
        d.push(&[0u8; 64 * 1024]);
        assert_eq!(d.poll_tag(), Ok(None));
        assert_eq!(d.remaining(), 0);
    }
    assert_eq!(d.stats().skipped_tags, 1);
}

#[test]
fn tag_too_large_is_a_sticky_error() {
    let limits = DemuxLimits {
        max_tag_size: 100,
        ..DemuxLimits::default()
    };
    let mut d = FlvDemuxer::new(limits);
    d.push(&muxed(&[(TagType::Video, 0, vec![0x17; 101])]));
    let err = FlvError::TagTooLarge {
        size: 101,
        max: 100,
    };
    assert_eq!(d.poll_tag(), Err(err.clone()));
    d.push(&[0; 1000]);
    assert_eq!(d.poll_tag(), Err(err));
    assert_eq!(d.remaining(), 0);
}

#[test]
fn not_flv_fails_on_the_first_byte() {
    let mut d = FlvDemuxer::new(DemuxLimits::default());
    d.push(b"G");
    assert!(matches!(d.poll_tag(), Err(FlvError::NotFlv(_))));
}

#[test]
fn headerless_body_as_in_rtmp_aggregates() {
    let limits = DemuxLimits {
        expect_header: false,
        ..DemuxLimits::default()
    };
    let mut d = FlvDemuxer::new(limits);
    let mut input = tag_bytes(9, 0x0100_0000, &[0x27, 1, 0, 0, 0], 16);
    input.extend(tag_bytes(8, 0x0100_0010, &[0xaf, 1], 13));
    d.push(&input);
    let tags = demux_all(&mut d).unwrap();
    assert_eq!(d.header(), None);
    assert_eq!(tags.len(), 2);
    assert_eq!(tags[0].timestamp, 0x0100_0000);
    assert_eq!(tags[1].timestamp, 0x0100_0010);
    assert_eq!(d.stats().previous_tag_size_mismatches, 0);
}

#[test]
fn push_bytes_takes_unique_buffers_and_copies_shared_ones() {
    let input = Bytes::from(muxed(&[(TagType::Audio, 5, vec![0xaf, 1, 2])]));
    let mut d = FlvDemuxer::new(DemuxLimits::default());
    let keep = input.clone(); // shared: must be copied
    d.push_bytes(input.slice(..20));
    d.push_bytes(input.slice(20..));
    let tags = demux_all(&mut d).unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(&tags[0].data[..], &[0xaf, 1, 2]);
    drop(keep);

    let mut d = FlvDemuxer::new(DemuxLimits::default());
    d.push_bytes(Bytes::from(muxed(&[(TagType::Audio, 5, vec![0xaf, 1, 2])])));
    assert_eq!(demux_all(&mut d).unwrap(), tags);
}

fn arb_tags() -> impl Strategy<Value = Vec<(TagType, u32, Vec<u8>)>> {
    let tag_type = prop_oneof![
        Just(TagType::Audio),
        Just(TagType::Video),
        Just(TagType::Script)
    ];
    prop::collection::vec(
        (
            tag_type,
            any::<u32>(),
            prop::collection::vec(any::<u8>(), 0..300),
        ),
        0..20,
    )
}

proptest! {
    #[test]
    fn mux_demux_round_trip_at_random_split_points(
        tags in arb_tags(),
        splits in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let stream = muxed(&tags);
        let mut cuts: Vec<usize> = splits.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.push(0);
        cuts.push(stream.len());
        cuts.sort_unstable();
        let mut d = FlvDemuxer::new(DemuxLimits::default());
        let mut out = Vec::new();
        for w in cuts.windows(2) {
            d.push(&stream[w[0]..w[1]]);
            out.extend(demux_all(&mut d).unwrap());
        }
        let expected: Vec<FlvTag> = tags
            .iter()
            .filter(|(_, _, data)| !data.is_empty())
            .map(|(t, ts, data)| FlvTag { tag_type: *t, timestamp: *ts, data: Bytes::from(data.clone()) })
            .collect();
        prop_assert_eq!(&out, &expected);
        let s = d.stats();
        prop_assert_eq!(s.tags as usize, expected.len());
        prop_assert_eq!(s.skipped_tags as usize, tags.len() - expected.len());
        prop_assert_eq!(s.previous_tag_size_mismatches, 0);
        prop_assert_eq!(s.bytes as usize, stream.len());
        prop_assert_eq!(d.remaining(), 0);
    }

    #[test]
    fn byte_by_byte_equals_all_at_once(tags in arb_tags(), expect_header: bool) {
        let mut stream = muxed(&tags);
        if !expect_header {
            stream.drain(..13);
        }
        let limits = DemuxLimits { expect_header, ..DemuxLimits::default() };
        let mut whole = FlvDemuxer::new(limits);
        whole.push(&stream);
        let all = demux_all(&mut whole).unwrap();
        let mut bytewise = FlvDemuxer::new(limits);
        let mut one = Vec::new();
        for b in &stream {
            bytewise.push(std::slice::from_ref(b));
            one.extend(demux_all(&mut bytewise).unwrap());
        }
        prop_assert_eq!(all, one);
        prop_assert_eq!(whole.stats(), bytewise.stats());
    }

    #[test]
    fn garbage_never_panics(
        prefix_header: bool,
        expect_header: bool,
        max_tag_size in 0u32..2000,
        garbage in prop::collection::vec(any::<u8>(), 0..2000),
        chunk in 1usize..64,
    ) {
        let limits = DemuxLimits { max_tag_size, expect_header };
        let mut d = FlvDemuxer::new(limits);
        let mut input = if prefix_header { FlvMuxer::header(true, true).to_vec() } else { Vec::new() };
        input.extend_from_slice(&garbage);
        let mut returned = 0usize;
        for piece in input.chunks(chunk) {
            d.push(piece);
            while let Ok(Some(tag)) = d.poll_tag() {
                prop_assert!(tag.data.len() <= max_tag_size as usize);
                prop_assert!(!tag.data.is_empty());
                returned += tag.data.len();
            }
        }
        prop_assert!(d.remaining() <= input.len());
        prop_assert!(returned + d.remaining() <= input.len());
    }
}
