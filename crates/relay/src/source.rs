//! Relay sources: RTMP play, HTTP(S)-FLV, HLS live playlists, SRT (MPEG-TS), RTSP cameras and
//! playlists of files, behind one interface.

use std::sync::Arc;

use baton_media::Frame;
use baton_media::timeline::{TimelineConfig, TimestampUnwrapper};
use baton_net::client::{ClientError, ClientOptions, PlayEvent, RtmpConnection};
use baton_net::egress::{Egress, EgressDialer};
use baton_net::http_flv::{FlvSource, FlvSourceError};
use baton_net::rtsp::{RtspConnection, RtspUrl};
use baton_net::srt_client::{SrtStats, SrtUrl};
use baton_net::{RtmpUrl, tag_type};
use baton_rtmp::session::ClientMode;

use crate::error::{ErrorKind, RelayError, Side};
pub use crate::event::SourceEvent;
use crate::hls::{HlsSource, Resume};
use crate::playlist::{Player, PlayerConfig, PlayerEvent, Playlist};
use crate::rtsp::from_rtsp;
use crate::srt::{SrtSource, from_srt};
use crate::status::Transport;

/// A parsed source address.
#[derive(Clone, Debug)]
pub enum SourceUrl {
    Rtmp(RtmpUrl),
    HttpFlv(String),
    /// An HLS playlist (a URL whose path ends in `.m3u8`); what its connections share.
    Hls(String, Arc<Resume>),
    /// An MPEG-TS stream over SRT (caller or listener mode).
    Srt(Box<SrtUrl>),
    /// An RTSP camera (RTP over TCP, or UDP where the URL asks).
    Rtsp(Box<RtspUrl>),
    /// Files played as one live stream; the position is shared across reconnects.
    Playlist(Arc<Playlist>, PlayerConfig),
}

impl SourceUrl {
    pub fn parse(url: &str) -> Result<SourceUrl, RelayError> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("rtmp" | "rtmps") => RtmpUrl::parse(url).map(SourceUrl::Rtmp).map_err(|e| {
                RelayError::new(Side::Source, ErrorKind::InvalidUrl, format!("{url}: {e}"))
            }),
            Some("http" | "https") => match reqwest::Url::parse(url) {
                Ok(u) if u.path().to_ascii_lowercase().ends_with(".m3u8") => {
                    Ok(SourceUrl::Hls(url.to_string(), Arc::default()))
                }
                Ok(_) => Ok(SourceUrl::HttpFlv(url.to_string())),
                Err(e) => Err(RelayError::new(
                    Side::Source,
                    ErrorKind::InvalidUrl,
                    format!("{url}: {e}"),
                )),
            },
            Some("srt") => SrtUrl::parse(url)
                .map(|u| SourceUrl::Srt(Box::new(u)))
                .map_err(|e| from_srt(&e)),
            Some("rtsp" | "rtsps") => RtspUrl::parse(url)
                .map(|u| SourceUrl::Rtsp(Box::new(u)))
                .map_err(|e| from_rtsp(&e)),
            _ => Err(RelayError::new(
                Side::Source,
                ErrorKind::Unsupported,
                format!(
                    "source {}: only rtmp://, http:// and https:// (FLV, HLS), srt:// and rtsp:// sources are supported",
                    baton_net::rtsp::mask_userinfo(url)
                ),
            )),
        }
    }
}

impl SourceUrl {
    /// `url` as the relay reads it: with `hls` (SourceProtocol=hls) any http(s) URL is a
    /// playlist ([`parse_hls`](Self::parse_hls)); otherwise the URL's form decides
    /// ([`parse`](Self::parse)).
    pub fn parse_as(url: &str, hls: bool) -> Result<SourceUrl, RelayError> {
        if hls {
            SourceUrl::parse_hls(url)
        } else {
            SourceUrl::parse(url)
        }
    }

    /// `url` as an HLS playlist, whatever its path (SourceProtocol=hls).
    pub fn parse_hls(url: &str) -> Result<SourceUrl, RelayError> {
        match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                Ok(SourceUrl::Hls(url.to_string(), Arc::default()))
            }
            Ok(_) => Err(RelayError::new(
                Side::Source,
                ErrorKind::InvalidUrl,
                format!("{url}: an HLS playlist is an http:// or https:// URL"),
            )),
            Err(e) => Err(RelayError::new(
                Side::Source,
                ErrorKind::InvalidUrl,
                format!("{url}: {e}"),
            )),
        }
    }
}

/// A connected source.
#[derive(Debug)]
pub enum Source {
    Rtmp {
        conn: Box<RtmpConnection>,
        unwrapper: TimestampUnwrapper,
    },
    HttpFlv(Box<FlvSource>),
    Hls(Box<HlsSource>),
    Srt(Box<SrtSource>),
    Rtsp(Box<RtspConnection>),
    Playlist(Box<Player>),
}

impl Source {
    /// Connects to the source, only where `egress` allows.
    pub async fn connect(
        url: &SourceUrl,
        options: &ClientOptions,
        egress: &Egress,
        timeline: &TimelineConfig,
    ) -> Result<Source, RelayError> {
        match url {
            SourceUrl::Rtmp(u) => {
                RtmpConnection::connect(u, ClientMode::Play, &egress_options(options, egress))
                    .await
                    .map(|conn| Source::Rtmp {
                        conn: Box::new(conn),
                        unwrapper: TimestampUnwrapper::new(),
                    })
                    .map_err(|e| RelayError::from_client(Side::Source, &e))
            }
            SourceUrl::Playlist(playlist, config) => Ok(Source::Playlist(Box::new(Player::new(
                Arc::clone(playlist),
                egress.clone(),
                config.clone(),
            )))),
            SourceUrl::Hls(u, resume) => {
                let connect = HlsSource::connect(egress, u, Arc::clone(resume), timeline.clone());
                match tokio::time::timeout(options.connect_timeout, connect).await {
                    Ok(Ok(s)) => Ok(Source::Hls(Box::new(s))),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(RelayError::new(
                        Side::Source,
                        ErrorKind::Timeout,
                        format!(
                            "HLS playlist {u}: not loaded within {:?}",
                            options.connect_timeout
                        ),
                    )),
                }
            }
            // A caller's handshake is bounded by the connect timeout; a listener waits for its
            // peer as long as the relay's grace period lets it.
            SourceUrl::Srt(u) => SrtSource::connect(u, egress, options.connect_timeout)
                .await
                .map(|s| Source::Srt(Box::new(s))),
            SourceUrl::Rtsp(u) => RtspConnection::connect(u, egress, options.connect_timeout)
                .await
                .map(|c| Source::Rtsp(Box::new(c)))
                .map_err(|e| from_rtsp(&e)),
            SourceUrl::HttpFlv(u) => {
                let connect = FlvSource::connect(egress, u);
                match tokio::time::timeout(options.connect_timeout, connect).await {
                    Ok(Ok(s)) => Ok(Source::HttpFlv(Box::new(s))),
                    Ok(Err(e)) => Err(RelayError::from_flv(&e)),
                    Err(_) => Err(RelayError::new(
                        Side::Source,
                        ErrorKind::Timeout,
                        format!("no HTTP response within {:?}", options.connect_timeout),
                    )),
                }
            }
        }
    }

    /// The next frame (timestamps unwrapped past 32 bits, on this connection's own timeline).
    /// Cancel-safe.
    pub async fn next(&mut self) -> Result<SourceEvent, RelayError> {
        match self {
            Source::Rtmp { conn, unwrapper } => {
                let event = conn.next_media().await;
                rtmp_event(event, unwrapper)
            }
            Source::HttpFlv(s) => flv_event(s.next_frame().await),
            Source::Hls(s) => s.next().await,
            Source::Srt(s) => s.next().await,
            Source::Rtsp(c) => c
                .next_frame()
                .await
                .map(SourceEvent::Frame)
                .map_err(|e| from_rtsp(&e)),
            Source::Playlist(p) => match p.next().await? {
                PlayerEvent::Frame(frame) => Ok(SourceEvent::Frame(frame)),
                PlayerEvent::Finished => Ok(SourceEvent::Finished),
            },
        }
    }

    /// A frame already received, without waiting (what the last read brought in).
    pub fn try_next(&mut self) -> Option<Result<SourceEvent, RelayError>> {
        match self {
            Source::Rtmp { conn, unwrapper } => {
                let event = conn.try_next_media()?;
                Some(rtmp_event(event, unwrapper))
            }
            Source::HttpFlv(s) => Some(flv_event(s.try_next_frame()?)),
            // Paced: frames due within a batch of the one `next` waited for.
            Source::Hls(s) => s.try_next(),
            Source::Srt(s) => s.try_next(),
            Source::Rtsp(c) => Some(
                c.try_next_frame()?
                    .map(SourceEvent::Frame)
                    .map_err(|e| from_rtsp(&e)),
            ),
            // Paced: frames come from `next` when their time has come.
            Source::Playlist(_) => None,
        }
    }

    pub fn bytes_in(&self) -> u64 {
        match self {
            Source::Rtmp { conn, .. } => conn.bytes_in(),
            Source::HttpFlv(s) => s.bytes_in(),
            Source::Hls(s) => s.bytes_in(),
            Source::Srt(s) => s.bytes_in(),
            Source::Rtsp(c) => c.bytes_in(),
            Source::Playlist(p) => p.bytes_in(),
        }
    }

    /// What this source runs over (with TLS details for `rtmps://`).
    pub fn transport(&self) -> Transport {
        let (protocol, tls) = match self {
            Source::Rtmp { conn, .. } => match conn.tls() {
                Some(tls) => ("rtmps", Some(tls.clone())),
                None => ("rtmp", None),
            },
            Source::HttpFlv(_) => ("http-flv", None),
            Source::Hls(_) => ("hls", None),
            Source::Srt(_) => ("srt", None),
            Source::Rtsp(_) => ("rtsp", None),
            Source::Playlist(_) => ("playlist", None),
        };
        Transport { protocol, tls }
    }

    /// The SRT connection's statistics, for an SRT source.
    pub fn srt_stats(&mut self) -> Option<SrtStats> {
        match self {
            Source::Srt(s) => Some(s.stats()),
            _ => None,
        }
    }

    /// How long the relay waits for a frame before it drops the source as stalled: at least
    /// `configured`; longer for a source that detects and names its own stalls (HLS).
    pub fn stall_timeout(&self, configured: std::time::Duration) -> std::time::Duration {
        match self {
            Source::Hls(s) => configured.max(s.stall_timeout()),
            // The source names its own stalls after `NO_MEDIA` (what it received, if anything).
            Source::Srt(_) => {
                configured.max(crate::srt::NO_MEDIA + std::time::Duration::from_secs(1))
            }
            // The connection names a silent camera after `rtsp::NO_MEDIA` and one whose video
            // never becomes decodable after `rtsp::NO_KEYFRAME` (it sends frames, but the
            // ones before a keyframe are not handed out).
            Source::Rtsp(_) => {
                configured.max(baton_net::rtsp::NO_KEYFRAME + std::time::Duration::from_secs(1))
            }
            _ => configured,
        }
    }
}

/// `options` with its dialer behind `egress` (unchanged when unrestricted): RTMP connections
/// of either side go only where the account may connect.
pub(crate) fn egress_options(options: &ClientOptions, egress: &Egress) -> ClientOptions {
    let mut options = options.clone();
    if egress.is_restricted() {
        options.dialer = Arc::new(EgressDialer::new(options.dialer, egress.clone()));
    }
    options
}

fn rtmp_event(
    event: Result<PlayEvent, ClientError>,
    unwrapper: &mut TimestampUnwrapper,
) -> Result<SourceEvent, RelayError> {
    match event {
        Ok(PlayEvent::Media {
            kind,
            timestamp,
            payload,
        }) => Ok(SourceEvent::Frame(Frame::new(
            tag_type(kind),
            unwrapper.unwrap(timestamp),
            payload,
        ))),
        Ok(PlayEvent::Ended { .. }) => {
            // A later publisher starts its own timeline.
            unwrapper.reset();
            Ok(SourceEvent::Ended)
        }
        Err(e) => Err(RelayError::from_client(Side::Source, &e)),
    }
}

fn flv_event(event: Result<Frame, FlvSourceError>) -> Result<SourceEvent, RelayError> {
    match event {
        Ok(frame) => Ok(SourceEvent::Frame(frame)),
        Err(FlvSourceError::Ended) => Err(RelayError::new(
            Side::Source,
            ErrorKind::Ended,
            "the HTTP-FLV response ended",
        )),
        Err(e) => Err(RelayError::from_flv(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hls_task_probes_a_playlist_whatever_its_path() {
        let url = "http://cdn.example/live?id=1";
        assert!(matches!(
            SourceUrl::parse_as(url, true),
            Ok(SourceUrl::Hls(..))
        ));
        assert!(matches!(
            SourceUrl::parse_as(url, false),
            Ok(SourceUrl::HttpFlv(_))
        ));
        assert!(matches!(
            SourceUrl::parse_as("http://cdn.example/a.m3u8", false),
            Ok(SourceUrl::Hls(..))
        ));
    }
}
