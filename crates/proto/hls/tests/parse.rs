//! Every tag `parse` acts on, and every `ParseError`.

use std::time::Duration;

use baton_hls::{
    ByteRange, MediaPlaylist, MediaType, ParseError, Playlist, PlaylistType, Resolution, parse,
};
use url::Url;

fn base() -> Url {
    Url::parse("https://cdn.example/live/chan/index.m3u8?token=abc").unwrap()
}

fn media(text: &str) -> MediaPlaylist {
    match parse(text, &base()).unwrap() {
        Playlist::Media(m) => m,
        other => panic!("not a media playlist: {other:?}"),
    }
}

fn error(text: &str) -> ParseError {
    parse(text, &base()).expect_err("parsed")
}

#[test]
fn media_playlist_basics() {
    let m = media(
        "#EXTM3U\r\n#EXT-X-VERSION:3\r\n#EXT-X-TARGETDURATION:6\r\n#EXT-X-MEDIA-SEQUENCE:41\r\n\
         #EXT-X-DISCONTINUITY-SEQUENCE:2\r\n#EXT-X-PLAYLIST-TYPE:EVENT\r\n# a comment\r\n\
         #EXT-X-UNKNOWN-TAG:whatever,\"x\"\r\n#EXTINF:5.005,title, with comma\r\nseg41.ts\r\n\
         \r\n#EXTINF:6\r\n/abs/seg42.ts\r\n#EXTINF:4.5,\r\nhttps://other.example/seg43.ts\r\n",
    );
    assert_eq!(m.target_duration, Duration::from_secs(6));
    assert_eq!(m.media_sequence, 41);
    assert_eq!(m.discontinuity_sequence, 2);
    assert_eq!(m.playlist_type, Some(PlaylistType::Event));
    assert!(!m.ended);
    assert_eq!(m.end_sequence(), 44);
    let uris: Vec<_> = m.segments.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "https://cdn.example/live/chan/seg41.ts",
            "https://cdn.example/abs/seg42.ts",
            "https://other.example/seg43.ts"
        ]
    );
    let seqs: Vec<_> = m.segments.iter().map(|s| s.sequence).collect();
    assert_eq!(seqs, [41, 42, 43]);
    assert_eq!(m.segments[0].duration, Duration::from_millis(5005));
    assert_eq!(m.segments[1].duration, Duration::from_secs(6));
    assert_eq!(m.segment(43).unwrap().duration, Duration::from_millis(4500));
    assert!(m.segment(40).is_none() && m.segment(44).is_none());
    assert!(
        m.segments.iter().all(|s| s.key.is_none()
            && s.map.is_none()
            && s.byte_range.is_none()
            && !s.discontinuity)
    );
}

#[test]
fn defaults_and_endlist_and_vod() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n",
    );
    assert_eq!(m.media_sequence, 0);
    assert_eq!(m.discontinuity_sequence, 0);
    assert_eq!(m.playlist_type, Some(PlaylistType::Vod));
    assert!(m.ended);
    let empty = media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
    assert!(empty.segments.is_empty());
}

#[test]
fn byte_ranges_continue_the_previous_range() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n#EXT-X-BYTERANGE:100@0\nall.ts\n\
         #EXTINF:1,\n#EXT-X-BYTERANGE:50\nall.ts\n#EXTINF:1,\n#EXT-X-BYTERANGE:25\nall.ts\n\
         #EXTINF:1,\n#EXT-X-BYTERANGE:10@5\nother.ts\n#EXTINF:1,\nwhole.ts\n",
    );
    let ranges: Vec<_> = m.segments.iter().map(|s| s.byte_range).collect();
    assert_eq!(
        ranges,
        [
            Some(ByteRange {
                offset: 0,
                length: 100
            }),
            Some(ByteRange {
                offset: 100,
                length: 50
            }),
            Some(ByteRange {
                offset: 150,
                length: 25
            }),
            Some(ByteRange {
                offset: 5,
                length: 10
            }),
            None,
        ]
    );
    assert_eq!(
        ranges[1].unwrap().http_range().as_deref(),
        Some("bytes=100-149")
    );
    assert_eq!(
        ByteRange {
            offset: 3,
            length: 0
        }
        .http_range(),
        None
    );
}

#[test]
fn byte_range_without_offset_needs_the_same_resource() {
    for text in [
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n#EXT-X-BYTERANGE:100\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n#EXT-X-BYTERANGE:100@0\na.ts\n\
         #EXTINF:1,\n#EXT-X-BYTERANGE:100\nb.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\na.ts\n#EXTINF:1,\n#EXT-X-BYTERANGE:100\na.ts\n",
    ] {
        assert!(
            matches!(error(text), ParseError::ByteRangeWithoutOffset { .. }),
            "{text}"
        );
    }
    let overflow = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n\
                    #EXT-X-BYTERANGE:18446744073709551615@1\na.ts\n";
    assert!(matches!(
        error(overflow),
        ParseError::BadValue {
            tag: "EXT-X-BYTERANGE",
            ..
        }
    ));
    let bad = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n#EXT-X-BYTERANGE:1@x\na.ts\n";
    assert!(matches!(
        error(bad),
        ParseError::BadValue {
            tag: "EXT-X-BYTERANGE",
            line: 4,
            ..
        }
    ));
}

#[test]
fn discontinuity_and_program_date_time_apply_to_the_next_segment() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PROGRAM-DATE-TIME:2026-12-07T09:00:00.000Z\n\
         #EXTINF:1,\na.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1,\nb.ts\n#EXTINF:1,\nc.ts\n",
    );
    let flags: Vec<_> = m.segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, [false, true, false]);
    assert_eq!(
        m.segments[0].program_date_time.as_deref(),
        Some("2026-12-07T09:00:00.000Z")
    );
    assert_eq!(m.segments[1].program_date_time, None);
}

#[test]
fn aes128_keys_with_and_without_iv() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:258\n#EXTINF:1,\nclear.ts\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"keys/k1?x=1,2\"\n#EXTINF:1,\nseq-iv.ts\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k2\",IV=0x000102030405060708090a0b0c0d0e0f,KEYFORMAT=\"identity\"\n\
         #EXTINF:1,\nexplicit-iv.ts\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:1,\nclear-again.ts\n",
    );
    assert!(m.segments[0].key.is_none());
    let k1 = m.segments[1].key.as_ref().unwrap();
    assert_eq!(
        k1.uri.as_str(),
        "https://cdn.example/live/chan/keys/k1?x=1,2"
    );
    let mut iv = [0u8; 16];
    iv[14] = 1;
    iv[15] = 3; // sequence 259, big-endian
    assert_eq!(k1.iv, iv);
    let k2 = m.segments[2].key.as_ref().unwrap();
    assert_eq!(k2.uri.as_str(), "https://keys.example/k2");
    assert_eq!(k2.iv, core::array::from_fn(|i| i as u8));
    assert!(m.segments[3].key.is_none());
}

#[test]
fn unsupported_encryption_is_refused_by_name() {
    for (key, method) in [
        ("METHOD=SAMPLE-AES,URI=\"k\"", "SAMPLE-AES"),
        ("METHOD=SAMPLE-AES-CTR,URI=\"k\"", "SAMPLE-AES-CTR"),
        ("METHOD=AES-256,URI=\"k\"", "AES-256"),
    ] {
        let text =
            format!("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:{key}\n#EXTINF:1,\na.ts\n");
        match error(&text) {
            ParseError::UnsupportedEncryption { line: 3, method: m } => assert_eq!(m, method),
            other => panic!("{other:?}"),
        }
    }
    let drm = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n\
               #EXT-X-KEY:METHOD=AES-128,URI=\"k\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\n";
    let err = error(drm);
    assert!(matches!(err, ParseError::UnsupportedEncryption { .. }));
    assert!(err.to_string().contains("streamingkeydelivery"), "{err}");
    let no_uri = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:METHOD=AES-128\n";
    assert_eq!(
        error(no_uri),
        ParseError::MissingAttribute {
            line: 3,
            tag: "EXT-X-KEY",
            attribute: "URI"
        }
    );
    let no_method = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:URI=\"k\"\n";
    assert!(matches!(
        error(no_method),
        ParseError::MissingAttribute {
            attribute: "METHOD",
            ..
        }
    ));
    let bad_iv = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=12\n";
    assert!(matches!(
        error(bad_iv),
        ParseError::BadValue {
            tag: "EXT-X-KEY",
            ..
        }
    ));
}

#[test]
fn map_applies_to_following_segments() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nbare.m4s\n\
         #EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"\n#EXTINF:1,\na.m4s\n#EXTINF:1,\nb.m4s\n\
         #EXT-X-MAP:URI=\"init2.mp4\",BYTERANGE=\"500\"\n#EXTINF:1,\nc.m4s\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0x1\n#EXT-X-MAP:URI=\"init3.mp4\"\n#EXTINF:1,\nd.m4s\n",
    );
    assert!(m.segments[0].map.is_none());
    let a = m.segments[1].map.as_ref().unwrap();
    assert_eq!(a.uri.as_str(), "https://cdn.example/live/chan/init.mp4");
    assert_eq!(
        a.byte_range,
        Some(ByteRange {
            offset: 0,
            length: 720
        })
    );
    assert!(a.key.is_none());
    assert_eq!(m.segments[2].map, m.segments[1].map);
    let c = m.segments[3].map.as_ref().unwrap();
    assert_eq!(
        c.byte_range,
        Some(ByteRange {
            offset: 0,
            length: 500
        })
    );
    let d = m.segments[4].map.as_ref().unwrap();
    assert_eq!(d.uri.as_str(), "https://cdn.example/live/chan/init3.mp4");
    assert_eq!(d.key.as_ref().unwrap().iv[15], 1);

    let no_iv = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n\
                 #EXT-X-MAP:URI=\"init.mp4\"\n";
    assert!(matches!(
        error(no_iv),
        ParseError::MissingAttribute {
            line: 4,
            attribute: "IV",
            ..
        }
    ));
    let no_uri = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:BYTERANGE=\"1@0\"\n";
    assert!(matches!(
        error(no_uri),
        ParseError::MissingAttribute {
            attribute: "URI",
            ..
        }
    ));
    let unquoted = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI=init.mp4\n";
    assert!(matches!(
        error(unquoted),
        ParseError::BadValue {
            tag: "EXT-X-MAP",
            ..
        }
    ));
}

#[test]
fn master_playlist() {
    let text = "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"English, main\",DEFAULT=NO,URI=\"audio/en.m3u8\"\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"Main\",DEFAULT=YES,URI=\"audio/main.m3u8\"\n\
        #EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"en\"\n\
        #EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"cc1\",INSTREAM-ID=\"CC1\"\n\
        #EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"v\",NAME=\"alt\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=2560000,AVERAGE-BANDWIDTH=2000000,CODECS=\"avc1.4d401f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=29.970,AUDIO=\"aac\"\n\
        hi/index.m3u8\n\
        #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI=\"iframes.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=640000\n\n\
        https://other.example/lo.m3u8\n";
    let Playlist::Master(master) = parse(text, &base()).unwrap() else {
        panic!("not master");
    };
    assert_eq!(master.variants.len(), 2);
    let hi = &master.variants[0];
    assert_eq!(
        hi.uri.as_str(),
        "https://cdn.example/live/chan/hi/index.m3u8"
    );
    assert_eq!(hi.bandwidth, 2_560_000);
    assert_eq!(hi.average_bandwidth, Some(2_000_000));
    assert_eq!(
        hi.codecs.as_deref(),
        Some(&["avc1.4d401f".to_owned(), "mp4a.40.2".to_owned()][..])
    );
    assert_eq!(
        hi.resolution,
        Some(Resolution {
            width: 1280,
            height: 720
        })
    );
    assert_eq!(hi.frame_rate.as_deref(), Some("29.970"));
    assert_eq!(hi.audio.as_deref(), Some("aac"));
    let lo = &master.variants[1];
    assert_eq!(lo.uri.as_str(), "https://other.example/lo.m3u8");
    assert_eq!(
        (lo.codecs.as_ref(), lo.resolution, lo.audio.as_ref()),
        (None, None, None)
    );
    assert_eq!(master.renditions.len(), 5);
    let kinds: Vec<_> = master.renditions.iter().map(|r| r.media_type).collect();
    assert_eq!(
        kinds,
        [
            MediaType::Audio,
            MediaType::Audio,
            MediaType::Subtitles,
            MediaType::ClosedCaptions,
            MediaType::Video
        ]
    );
    assert_eq!(master.renditions[0].name, "English, main");
    assert!(!master.renditions[0].default && master.renditions[1].default);
    assert!(master.renditions[2].uri.is_none());
    let audio = master.audio_rendition(hi).unwrap();
    assert_eq!(
        audio.uri.as_ref().unwrap().as_str(),
        "https://cdn.example/live/chan/audio/main.m3u8"
    );
    assert!(master.audio_rendition(lo).is_none());
}

#[test]
fn master_playlist_errors() {
    let cases: &[(&str, ParseError)] = &[
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:CODECS=\"avc1\"\nv.m3u8\n",
            ParseError::MissingAttribute {
                line: 2,
                tag: "EXT-X-STREAM-INF",
                attribute: "BANDWIDTH",
            },
        ),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\nw.m3u8\n",
            ParseError::UriWithoutTag {
                line: 4,
                tag: "EXT-X-STREAM-INF",
            },
        ),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n",
            ParseError::MissingUri {
                line: 2,
                tag: "EXT-X-STREAM-INF",
            },
        ),
        (
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"a\"\n",
            ParseError::MissingAttribute {
                line: 2,
                tag: "EXT-X-MEDIA",
                attribute: "GROUP-ID",
            },
        ),
        (
            "#EXTM3U\n#EXT-X-MEDIA:GROUP-ID=\"a\",NAME=\"a\"\n",
            ParseError::MissingAttribute {
                line: 2,
                tag: "EXT-X-MEDIA",
                attribute: "TYPE",
            },
        ),
        (
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\"\n",
            ParseError::MissingAttribute {
                line: 2,
                tag: "EXT-X-MEDIA",
                attribute: "NAME",
            },
        ),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXT-X-TARGETDURATION:1\n",
            ParseError::MixedPlaylist {
                line: 4,
                tag: "EXT-X-TARGETDURATION",
            },
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n",
            ParseError::MixedPlaylist {
                line: 3,
                tag: "EXT-X-STREAM-INF",
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(&error(text), expected, "{text}");
    }
    for bad in [
        "BANDWIDTH=x",
        "BANDWIDTH=1,RESOLUTION=big",
        "BANDWIDTH=1,FRAME-RATE=fast",
        "BANDWIDTH=1,CODECS=avc1",
        "BANDWIDTH=1,AVERAGE-BANDWIDTH=-1",
        "BANDWIDTH=1,AUDIO=\"unterminated",
    ] {
        let text = format!("#EXTM3U\n#EXT-X-STREAM-INF:{bad}\nv.m3u8\n");
        assert!(
            matches!(
                error(&text),
                ParseError::BadValue {
                    line: 2,
                    tag: "EXT-X-STREAM-INF",
                    ..
                }
            ),
            "{bad}"
        );
    }
    for bad in [
        "TYPE=DATA,GROUP-ID=\"a\",NAME=\"a\"",
        "TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"a\",DEFAULT=MAYBE",
    ] {
        let text = format!("#EXTM3U\n#EXT-X-MEDIA:{bad}\n");
        assert!(
            matches!(
                error(&text),
                ParseError::BadValue {
                    tag: "EXT-X-MEDIA",
                    ..
                }
            ),
            "{bad}"
        );
    }
}

#[test]
fn media_playlist_errors() {
    let cases: &[(&str, ParseError)] = &[
        ("", ParseError::NotAPlaylist),
        ("<html>404</html>", ParseError::NotAPlaylist),
        ("\n#EXTM3U\n", ParseError::NotAPlaylist),
        ("#EXTM3U\n", ParseError::MissingTargetDuration),
        (
            "#EXTM3U\n#EXTINF:1,\na.ts\n",
            ParseError::MissingTargetDuration,
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\na.ts\n",
            ParseError::UriWithoutTag {
                line: 3,
                tag: "EXTINF",
            },
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n",
            ParseError::MissingUri {
                line: 3,
                tag: "EXTINF",
            },
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\na.ts\n#EXT-X-MEDIA-SEQUENCE:5\n",
            ParseError::TagAfterSegments {
                line: 5,
                tag: "EXT-X-MEDIA-SEQUENCE",
            },
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n#EXT-X-DISCONTINUITY-SEQUENCE:5\na.ts\n",
            ParseError::TagAfterSegments {
                line: 4,
                tag: "EXT-X-DISCONTINUITY-SEQUENCE",
            },
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-I-FRAMES-ONLY\n",
            ParseError::Unsupported {
                line: 3,
                feature: "EXT-X-I-FRAMES-ONLY",
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(&error(text), expected, "{text:?}");
    }
    for (tag, value) in [
        ("EXT-X-TARGETDURATION", "six"),
        ("EXT-X-TARGETDURATION", "0"),
        ("EXT-X-TARGETDURATION", "86401"),
        ("EXT-X-TARGETDURATION", "-1"),
        ("EXT-X-TARGETDURATION", "99999999999999999999999"),
        ("EXT-X-MEDIA-SEQUENCE", "x"),
        ("EXT-X-MEDIA-SEQUENCE", "18446744073709551616"),
        ("EXT-X-DISCONTINUITY-SEQUENCE", "1.5"),
        ("EXT-X-PLAYLIST-TYPE", "LIVE"),
        ("EXTINF", "-1,"),
        ("EXTINF", "NaN,"),
        ("EXTINF", "100000,"),
        ("EXTINF", ","),
    ] {
        let text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#{tag}:{value}\n");
        match error(&text) {
            ParseError::BadValue {
                line: 3, tag: t, ..
            } => assert_eq!(t, tag, "{value}"),
            other => panic!("{tag}:{value}: {other:?}"),
        }
    }
    let overflow = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n\
                    #EXTINF:1,\na.ts\n#EXTINF:1,\nb.ts\n";
    assert!(matches!(
        error(overflow),
        ParseError::BadValue {
            tag: "EXT-X-MEDIA-SEQUENCE",
            ..
        }
    ));
    let bad_uri = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://[::1\n";
    assert!(matches!(error(bad_uri), ParseError::BadUri { line: 4, .. }));
}

#[test]
fn bom_and_crlf_are_accepted() {
    let m = media("\u{feff}#EXTM3U\r\n#EXT-X-TARGETDURATION:1\r\n#EXTINF:1,\r\na.ts\r\n");
    assert_eq!(
        m.segments[0].uri.as_str(),
        "https://cdn.example/live/chan/a.ts"
    );
}

#[test]
fn limits() {
    let huge = format!("#EXTM3U\n#{}\n", "x".repeat(baton_hls::MAX_PLAYLIST_BYTES));
    assert!(matches!(error(&huge), ParseError::TooLarge { .. }));
    let mut many = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:1\n");
    for i in 0..=baton_hls::MAX_ENTRIES {
        many.push_str(&format!("#EXTINF:1,\n{i}\n"));
    }
    assert!(many.len() < baton_hls::MAX_PLAYLIST_BYTES);
    assert_eq!(
        error(&many),
        ParseError::TooManyEntries {
            limit: baton_hls::MAX_ENTRIES
        }
    );
}

#[test]
fn errors_read_well() {
    let err = error("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"k\"\n");
    assert_eq!(
        err.to_string(),
        "line 3: unsupported encryption SAMPLE-AES (only NONE and AES-128 with \
         KEYFORMAT=\"identity\" are supported)"
    );
    assert_eq!(
        error("#EXTM3U\n").to_string(),
        "media playlist has no EXT-X-TARGETDURATION"
    );
}
