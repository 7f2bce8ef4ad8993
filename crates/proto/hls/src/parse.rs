//! The playlist parser: one pass over the lines, tags applied to the state they carry forward
//! (RFC 8216 §4). Unknown tags and comments are ignored (§4.1: "Clients MUST ignore unknown
//! tags"); anything the parser cannot make sense of is a [`ParseError`] naming its line.

use std::time::Duration;

use url::Url;

use crate::attr::{self, AttributeList};
use crate::playlist::{
    ByteRange, InitSection, MasterPlaylist, MediaPlaylist, MediaType, Playlist, PlaylistType,
    Rendition, Resolution, Segment, SegmentKey, Variant,
};
use crate::{MAX_DURATION_SECS, MAX_ENTRIES, MAX_PLAYLIST_BYTES, ParseError};

/// Parses a playlist's text. `base` is the URL the playlist was loaded from (after redirects):
/// every URI in it is resolved against it (RFC 3986 §5 via [`Url::join`]).
///
/// A leading UTF-8 byte-order mark is skipped; lines may end in LF or CRLF.
pub fn parse(text: &str, base: &Url) -> Result<Playlist, ParseError> {
    if text.len() > MAX_PLAYLIST_BYTES {
        return Err(ParseError::TooLarge {
            bytes: text.len(),
            limit: MAX_PLAYLIST_BYTES,
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    match lines.next() {
        Some((_, "#EXTM3U")) => {}
        _ => return Err(ParseError::NotAPlaylist),
    }
    let mut parser = Parser::new(base);
    for (line, content) in lines {
        if content.is_empty() {
            continue;
        }
        if content.starts_with("#EXT") {
            let (name, value) = content.split_once(':').unwrap_or((content, ""));
            parser.tag(line, name, value)?;
        } else if !content.starts_with('#') {
            parser.uri(line, content)?;
        }
    }
    parser.finish()
}

/// Which kind of playlist the tags seen so far make this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unknown,
    Master,
    Media,
}

/// A key tag in effect: the key's URI and its explicit IV, if any.
type KeyState = Option<(Url, Option<[u8; 16]>)>;

#[derive(Debug)]
struct Parser<'b> {
    base: &'b Url,
    kind: Kind,
    // Master playlist.
    variants: Vec<Variant>,
    renditions: Vec<Rendition>,
    pending_variant: Option<(usize, Variant)>,
    // Media playlist.
    target_duration: Option<Duration>,
    media_sequence: u64,
    discontinuity_sequence: u64,
    playlist_type: Option<PlaylistType>,
    ended: bool,
    segments: Vec<Segment>,
    pending_extinf: Option<(usize, Duration)>,
    pending_byte_range: Option<(usize, u64, Option<u64>)>,
    pending_discontinuity: bool,
    pending_date_time: Option<String>,
    key: KeyState,
    map: Option<InitSection>,
}

impl<'b> Parser<'b> {
    fn new(base: &'b Url) -> Self {
        Self {
            base,
            kind: Kind::Unknown,
            variants: Vec::new(),
            renditions: Vec::new(),
            pending_variant: None,
            target_duration: None,
            media_sequence: 0,
            discontinuity_sequence: 0,
            playlist_type: None,
            ended: false,
            segments: Vec::new(),
            pending_extinf: None,
            pending_byte_range: None,
            pending_discontinuity: false,
            pending_date_time: None,
            key: None,
            map: None,
        }
    }

    fn tag(&mut self, line: usize, name: &str, value: &str) -> Result<(), ParseError> {
        match name {
            "#EXT-X-STREAM-INF" => self.stream_inf(line, value),
            "#EXT-X-MEDIA" => self.media(line, value),
            "#EXT-X-I-FRAME-STREAM-INF" | "#EXT-X-SESSION-DATA" | "#EXT-X-SESSION-KEY" => {
                self.set_kind(Kind::Master, line, "a master playlist tag")
            }
            "#EXT-X-TARGETDURATION" => {
                self.set_kind(Kind::Media, line, "EXT-X-TARGETDURATION")?;
                let secs = attr::decimal_integer(value)
                    .and_then(|s| match s {
                        0 => Err("must be at least 1 s".to_owned()),
                        s if s > MAX_DURATION_SECS => {
                            Err(format!("{s} s exceeds {MAX_DURATION_SECS} s"))
                        }
                        s => Ok(s),
                    })
                    .map_err(|reason| bad(line, "EXT-X-TARGETDURATION", reason))?;
                self.target_duration = Some(Duration::from_secs(secs));
                Ok(())
            }
            "#EXT-X-MEDIA-SEQUENCE" => {
                self.before_segments(line, "EXT-X-MEDIA-SEQUENCE")?;
                self.media_sequence = attr::decimal_integer(value)
                    .map_err(|reason| bad(line, "EXT-X-MEDIA-SEQUENCE", reason))?;
                Ok(())
            }
            "#EXT-X-DISCONTINUITY-SEQUENCE" => {
                self.before_segments(line, "EXT-X-DISCONTINUITY-SEQUENCE")?;
                self.discontinuity_sequence = attr::decimal_integer(value)
                    .map_err(|reason| bad(line, "EXT-X-DISCONTINUITY-SEQUENCE", reason))?;
                Ok(())
            }
            "#EXT-X-PLAYLIST-TYPE" => {
                self.set_kind(Kind::Media, line, "EXT-X-PLAYLIST-TYPE")?;
                self.playlist_type = Some(match value {
                    "EVENT" => PlaylistType::Event,
                    "VOD" => PlaylistType::Vod,
                    other => {
                        return Err(bad(
                            line,
                            "EXT-X-PLAYLIST-TYPE",
                            format!("{:?} is neither EVENT nor VOD", attr::clip(other)),
                        ));
                    }
                });
                Ok(())
            }
            "#EXT-X-ENDLIST" => {
                self.set_kind(Kind::Media, line, "EXT-X-ENDLIST")?;
                self.ended = true;
                Ok(())
            }
            "#EXT-X-I-FRAMES-ONLY" => Err(ParseError::Unsupported {
                line,
                feature: "EXT-X-I-FRAMES-ONLY",
            }),
            "#EXTINF" => {
                self.set_kind(Kind::Media, line, "EXTINF")?;
                let duration = value.split_once(',').map_or(value, |(d, _title)| d).trim();
                let duration = attr::seconds(duration, MAX_DURATION_SECS)
                    .map_err(|reason| bad(line, "EXTINF", reason))?;
                self.pending_extinf = Some((line, duration));
                Ok(())
            }
            "#EXT-X-BYTERANGE" => {
                self.set_kind(Kind::Media, line, "EXT-X-BYTERANGE")?;
                let (length, offset) =
                    byte_range(value).map_err(|reason| bad(line, "EXT-X-BYTERANGE", reason))?;
                self.pending_byte_range = Some((line, length, offset));
                Ok(())
            }
            "#EXT-X-DISCONTINUITY" => {
                self.set_kind(Kind::Media, line, "EXT-X-DISCONTINUITY")?;
                self.pending_discontinuity = true;
                Ok(())
            }
            "#EXT-X-PROGRAM-DATE-TIME" => {
                self.set_kind(Kind::Media, line, "EXT-X-PROGRAM-DATE-TIME")?;
                self.pending_date_time = Some(value.to_owned());
                Ok(())
            }
            "#EXT-X-KEY" => self.key(line, value),
            "#EXT-X-MAP" => self.map(line, value),
            // EXT-X-VERSION, EXT-X-INDEPENDENT-SEGMENTS, EXT-X-START, EXT-X-DATERANGE and tags
            // this parser does not know: nothing Baton acts on (§4.1: ignore unknown tags).
            _ => Ok(()),
        }
    }

    fn uri(&mut self, line: usize, uri: &str) -> Result<(), ParseError> {
        if let Some((_, mut variant)) = self.pending_variant.take() {
            variant.uri = self.resolve(line, uri)?;
            self.push_entry()?;
            self.variants.push(variant);
            return Ok(());
        }
        let Some((_, duration)) = self.pending_extinf.take() else {
            let tag = match self.kind {
                Kind::Master => "EXT-X-STREAM-INF",
                Kind::Media | Kind::Unknown => "EXTINF",
            };
            return Err(ParseError::UriWithoutTag { line, tag });
        };
        let uri = self.resolve(line, uri)?;
        let sequence = self
            .media_sequence
            .checked_add(self.segments.len() as u64)
            .ok_or_else(|| {
                bad(
                    line,
                    "EXT-X-MEDIA-SEQUENCE",
                    "sequence numbers overflow".into(),
                )
            })?;
        let byte_range = match self.pending_byte_range.take() {
            None => None,
            Some((_, length, Some(offset))) => Some(ByteRange { offset, length }),
            Some((tag_line, length, None)) => {
                // §4.3.2.2: without an offset the range continues the previous segment's,
                // which must be a sub-range of the same resource.
                let previous = self
                    .segments
                    .last()
                    .filter(|s| s.uri == uri)
                    .and_then(|s| s.byte_range)
                    .ok_or(ParseError::ByteRangeWithoutOffset { line: tag_line })?;
                Some(ByteRange {
                    offset: previous.end(),
                    length,
                })
            }
        };
        if let Some(range) = byte_range
            && range.offset.checked_add(range.length).is_none()
        {
            return Err(bad(line, "EXT-X-BYTERANGE", "range ends past 2^64".into()));
        }
        let key = self.key.as_ref().map(|(key_uri, iv)| SegmentKey {
            uri: key_uri.clone(),
            // §5.2: without an IV attribute, the sequence number is the IV.
            iv: iv.unwrap_or_else(|| u128::from(sequence).to_be_bytes()),
        });
        self.push_entry()?;
        self.segments.push(Segment {
            sequence,
            uri,
            duration,
            byte_range,
            discontinuity: std::mem::take(&mut self.pending_discontinuity),
            key,
            map: self.map.clone(),
            program_date_time: self.pending_date_time.take(),
        });
        Ok(())
    }

    fn finish(self) -> Result<Playlist, ParseError> {
        if let Some((line, _)) = self.pending_variant {
            return Err(ParseError::MissingUri {
                line,
                tag: "EXT-X-STREAM-INF",
            });
        }
        if let Some((line, _)) = self.pending_extinf {
            return Err(ParseError::MissingUri {
                line,
                tag: "EXTINF",
            });
        }
        if self.kind == Kind::Master {
            return Ok(Playlist::Master(MasterPlaylist {
                variants: self.variants,
                renditions: self.renditions,
            }));
        }
        let target_duration = self
            .target_duration
            .ok_or(ParseError::MissingTargetDuration)?;
        Ok(Playlist::Media(MediaPlaylist {
            target_duration,
            media_sequence: self.media_sequence,
            discontinuity_sequence: self.discontinuity_sequence,
            playlist_type: self.playlist_type,
            ended: self.ended,
            segments: self.segments,
        }))
    }

    fn stream_inf(&mut self, line: usize, value: &str) -> Result<(), ParseError> {
        const TAG: &str = "EXT-X-STREAM-INF";
        self.set_kind(Kind::Master, line, TAG)?;
        let attrs = AttributeList::parse(value).map_err(|reason| bad(line, TAG, reason))?;
        let number = |name: &str| -> Result<Option<u64>, ParseError> {
            attrs
                .token(name)
                .map(attr::decimal_integer)
                .transpose()
                .map_err(|reason| bad(line, TAG, format!("{name}: {reason}")))
        };
        let bandwidth = number("BANDWIDTH")?.ok_or(ParseError::MissingAttribute {
            line,
            tag: TAG,
            attribute: "BANDWIDTH",
        })?;
        let average_bandwidth = number("AVERAGE-BANDWIDTH")?;
        let codecs = attrs
            .quoted("CODECS")
            .map_err(|reason| bad(line, TAG, reason))?
            .map(|c| c.split(',').map(|s| s.trim().to_owned()).collect());
        let resolution = attrs
            .token("RESOLUTION")
            .map(attr::resolution)
            .transpose()
            .map_err(|reason| bad(line, TAG, format!("RESOLUTION: {reason}")))?
            .map(|(width, height)| Resolution { width, height });
        let frame_rate = match attrs.token("FRAME-RATE") {
            None => None,
            Some(rate) => {
                attr::seconds(rate, 1000)
                    .map_err(|reason| bad(line, TAG, format!("FRAME-RATE: {reason}")))?;
                Some(rate.to_owned())
            }
        };
        let audio = attrs
            .quoted("AUDIO")
            .map_err(|reason| bad(line, TAG, reason))?
            .map(str::to_owned);
        let variant = Variant {
            // Replaced by the URI line that follows.
            uri: self.base.clone(),
            bandwidth,
            average_bandwidth,
            codecs,
            resolution,
            frame_rate,
            audio,
        };
        self.pending_variant = Some((line, variant));
        Ok(())
    }

    fn media(&mut self, line: usize, value: &str) -> Result<(), ParseError> {
        const TAG: &str = "EXT-X-MEDIA";
        self.set_kind(Kind::Master, line, TAG)?;
        let attrs = AttributeList::parse(value).map_err(|reason| bad(line, TAG, reason))?;
        let missing = |attribute| ParseError::MissingAttribute {
            line,
            tag: TAG,
            attribute,
        };
        let media_type = match attrs.token("TYPE").ok_or_else(|| missing("TYPE"))? {
            "AUDIO" => MediaType::Audio,
            "VIDEO" => MediaType::Video,
            "SUBTITLES" => MediaType::Subtitles,
            "CLOSED-CAPTIONS" => MediaType::ClosedCaptions,
            other => {
                return Err(bad(
                    line,
                    TAG,
                    format!("unknown TYPE {:?}", attr::clip(other)),
                ));
            }
        };
        let quoted = |name| attrs.quoted(name).map_err(|reason| bad(line, TAG, reason));
        let group_id = quoted("GROUP-ID")?.ok_or_else(|| missing("GROUP-ID"))?;
        let name = quoted("NAME")?.ok_or_else(|| missing("NAME"))?;
        let default = match attrs.token("DEFAULT") {
            None | Some("NO") => false,
            Some("YES") => true,
            Some(other) => {
                return Err(bad(line, TAG, format!("DEFAULT={:?}", attr::clip(other))));
            }
        };
        let uri = quoted("URI")?
            .map(|uri| self.resolve(line, uri))
            .transpose()?;
        self.push_entry()?;
        self.renditions.push(Rendition {
            media_type,
            group_id: group_id.to_owned(),
            name: name.to_owned(),
            default,
            uri,
        });
        Ok(())
    }

    fn key(&mut self, line: usize, value: &str) -> Result<(), ParseError> {
        const TAG: &str = "EXT-X-KEY";
        self.set_kind(Kind::Media, line, TAG)?;
        let attrs = AttributeList::parse(value).map_err(|reason| bad(line, TAG, reason))?;
        let method = attrs.token("METHOD").ok_or(ParseError::MissingAttribute {
            line,
            tag: TAG,
            attribute: "METHOD",
        })?;
        match method {
            "NONE" => {
                self.key = None;
                return Ok(());
            }
            "AES-128" => {}
            other => {
                return Err(ParseError::UnsupportedEncryption {
                    line,
                    method: attr::clip(other).to_owned(),
                });
            }
        }
        let format = attrs
            .quoted("KEYFORMAT")
            .map_err(|reason| bad(line, TAG, reason))?;
        if let Some(format) = format
            && format != "identity"
        {
            return Err(ParseError::UnsupportedEncryption {
                line,
                method: format!("AES-128 with KEYFORMAT {:?}", attr::clip(format)),
            });
        }
        let uri = required_quoted(&attrs, line, TAG, "URI")?;
        let iv = attrs
            .token("IV")
            .map(attr::hex128)
            .transpose()
            .map_err(|reason| bad(line, TAG, format!("IV: {reason}")))?;
        self.key = Some((self.resolve(line, uri)?, iv));
        Ok(())
    }

    fn map(&mut self, line: usize, value: &str) -> Result<(), ParseError> {
        const TAG: &str = "EXT-X-MAP";
        self.set_kind(Kind::Media, line, TAG)?;
        let attrs = AttributeList::parse(value).map_err(|reason| bad(line, TAG, reason))?;
        let uri = required_quoted(&attrs, line, TAG, "URI")?;
        let byte_range = attrs
            .quoted("BYTERANGE")
            .map_err(|reason| bad(line, TAG, reason))?
            .map(|range| {
                let (length, offset) =
                    byte_range(range).map_err(|reason| bad(line, TAG, reason))?;
                // No offset: the section starts the resource (as hls.js and ffmpeg read it).
                let offset = offset.unwrap_or(0);
                offset
                    .checked_add(length)
                    .map(|_| ByteRange { offset, length })
                    .ok_or_else(|| bad(line, TAG, "range ends past 2^64".into()))
            })
            .transpose()?;
        // §4.3.2.5: an AES-128-encrypted section needs the key tag's IV attribute.
        let key = match &self.key {
            None => None,
            Some((key_uri, Some(iv))) => Some(SegmentKey {
                uri: key_uri.clone(),
                iv: *iv,
            }),
            Some((_, None)) => {
                return Err(ParseError::MissingAttribute {
                    line,
                    tag: "EXT-X-KEY (for an encrypted EXT-X-MAP)",
                    attribute: "IV",
                });
            }
        };
        self.map = Some(InitSection {
            uri: self.resolve(line, uri)?,
            byte_range,
            key,
        });
        Ok(())
    }

    fn set_kind(&mut self, kind: Kind, line: usize, tag: &'static str) -> Result<(), ParseError> {
        match self.kind {
            Kind::Unknown => {
                self.kind = kind;
                Ok(())
            }
            current if current == kind => Ok(()),
            _ => Err(ParseError::MixedPlaylist { line, tag }),
        }
    }

    fn before_segments(&mut self, line: usize, tag: &'static str) -> Result<(), ParseError> {
        self.set_kind(Kind::Media, line, tag)?;
        if self.segments.is_empty() && self.pending_extinf.is_none() {
            Ok(())
        } else {
            Err(ParseError::TagAfterSegments { line, tag })
        }
    }

    fn push_entry(&self) -> Result<(), ParseError> {
        if self.segments.len() + self.variants.len() + self.renditions.len() >= MAX_ENTRIES {
            return Err(ParseError::TooManyEntries { limit: MAX_ENTRIES });
        }
        Ok(())
    }

    fn resolve(&self, line: usize, uri: &str) -> Result<Url, ParseError> {
        self.base.join(uri).map_err(|e| ParseError::BadUri {
            line,
            uri: attr::clip(uri).to_owned(),
            reason: e.to_string(),
        })
    }
}

/// `<length>[@<offset>]` (§4.3.2.2).
fn byte_range(value: &str) -> Result<(u64, Option<u64>), String> {
    let (length, offset) = match value.split_once('@') {
        Some((length, offset)) => (length, Some(attr::decimal_integer(offset)?)),
        None => (value, None),
    };
    Ok((attr::decimal_integer(length)?, offset))
}

/// The quoted-string attribute `name`, which the tag must have.
fn required_quoted<'a>(
    attrs: &AttributeList<'a>,
    line: usize,
    tag: &'static str,
    name: &'static str,
) -> Result<&'a str, ParseError> {
    attrs
        .quoted(name)
        .map_err(|reason| bad(line, tag, reason))?
        .ok_or(ParseError::MissingAttribute {
            line,
            tag,
            attribute: name,
        })
}

fn bad(line: usize, tag: &'static str, reason: String) -> ParseError {
    ParseError::BadValue { line, tag, reason }
}
