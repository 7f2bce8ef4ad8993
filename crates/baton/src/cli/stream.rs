//! `baton stream …`: list the live streams, forbid and resume publishing a stream, kick its
//! publisher, list the forbidden streams.

use clap::{Args, Subcommand};
use reqwest::{Method, Url};
use serde_json::{Value, json};

use super::Ctx;
use super::client::{Failure, Request, list};
use super::model::{Block, LiveAudio, LiveStream, LiveVideo, list_items, view};
use super::output::{Table, bitrate, print_json};
use super::time::{self, When, elapsed, format_utc, with_hint};

#[derive(Subcommand, Debug)]
pub enum StreamCommand {
    /// Lists the live streams (published or played now) on your domains: publisher, codecs,
    /// fps, input bitrate, players, uptime, forbidden or not.
    List {
        /// Streams of this domain.
        #[arg(long)]
        domain: Option<String>,
        /// Streams of this app.
        #[arg(long)]
        app: Option<String>,
    },
    /// Forbids publishing a stream (its publisher is disconnected) until --until.
    Forbid {
        /// DOMAIN/APP/STREAM, or the publish URL rtmp://DOMAIN/APP/STREAM.
        #[arg(value_parser = StreamPath::parse, value_name = "DOMAIN/APP/STREAM")]
        stream: StreamPath,
        /// When publishing is allowed again: RFC 3339 or +DURATION (+2h, +7d)
        /// [server default: 6 months from now].
        #[arg(long, value_name = "TIME", value_parser = When::parse)]
        until: Option<When>,
    },
    /// Allows publishing a forbidden stream again.
    Resume {
        /// DOMAIN/APP/STREAM, or the publish URL rtmp://DOMAIN/APP/STREAM.
        #[arg(value_parser = StreamPath::parse, value_name = "DOMAIN/APP/STREAM")]
        stream: StreamPath,
    },
    /// Disconnects a stream's publisher (it may publish again).
    Kick {
        /// DOMAIN/APP/STREAM, or the publish URL rtmp://DOMAIN/APP/STREAM.
        #[arg(value_parser = StreamPath::parse, value_name = "DOMAIN/APP/STREAM")]
        stream: StreamPath,
    },
    /// Lists forbidden streams, latest end first.
    Blocklist(BlocklistArgs),
}

#[derive(Args, Debug)]
pub struct BlocklistArgs {
    /// Streams of this domain.
    #[arg(long)]
    pub domain: Option<String>,
    /// Streams of this app.
    #[arg(long)]
    pub app: Option<String>,
    /// This stream (with --contains: streams whose name contains it).
    #[arg(long)]
    pub stream: Option<String>,
    /// Match --stream as a substring.
    #[arg(long, requires = "stream")]
    pub contains: bool,
    /// Streams per page (1–500) [server default: 50].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: Option<u32>,
    /// Follow the pages to the end of the list (default: the first page).
    #[arg(long)]
    pub all: bool,
}

/// A stream's three names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPath {
    pub domain: String,
    pub app: String,
    pub stream: String,
}

impl StreamPath {
    /// `live.example.com/app/stream`, or `rtmp://live.example.com[:port]/app/stream[?query]`
    /// (the host is the domain; the query, a signed URL's `auth_key`, is dropped).
    pub fn parse(s: &str) -> Result<StreamPath, String> {
        let s = s.trim();
        let usage =
            || format!("{s:?} is not DOMAIN/APP/STREAM (e.g. live.example.com/live/stream1)");
        let parts: Vec<String> = if s.contains("://") {
            let url = Url::parse(s).map_err(|e| format!("{s:?}: {e}"))?;
            let host = url.host_str().ok_or_else(usage)?.to_string();
            let mut parts = vec![host];
            parts.extend(
                url.path_segments()
                    .ok_or_else(usage)?
                    .map(|p| percent_decode(p).unwrap_or_else(|| p.to_string())),
            );
            parts
        } else {
            s.split('/').map(str::to_string).collect()
        };
        let [domain, app, stream] = <[String; 3]>::try_from(parts).map_err(|_| usage())?;
        for (what, name) in [("domain", &domain), ("app", &app), ("stream", &stream)] {
            if name.is_empty() {
                return Err(usage());
            }
            if name.len() > 255 {
                return Err(format!("the {what} name is longer than 255 bytes"));
            }
            if let Some(c) = name
                .chars()
                .find(|c| matches!(c, '/' | '?' | '#' | '*') || c.is_whitespace())
            {
                return Err(format!("the {what} name {name:?} contains {c:?}"));
            }
        }
        Ok(StreamPath {
            domain: domain.to_ascii_lowercase(),
            app,
            stream,
        })
    }

    fn segments<'a>(&'a self, first: &'a str) -> [&'a str; 4] {
        [first, &self.domain, &self.app, &self.stream]
    }
}

impl std::fmt::Display for StreamPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.domain, self.app, self.stream)
    }
}

/// `%20` → ` ` in a URL path segment; None if the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The `baton stream blocklist` table.
pub fn block_table(blocks: &[Block], now: i64) -> String {
    let mut table = Table::new(&["DOMAIN", "APP", "STREAM", "FORBIDDEN", "RESUMES"]);
    for b in blocks {
        table.row(vec![
            b.domain.clone(),
            b.app.clone(),
            b.stream.clone(),
            with_hint(&b.created_at, now),
            with_hint(&b.resume_at, now),
        ]);
    }
    table.render()
}

/// The `baton stream list` table (cells are escaped by the table).
pub fn live_table(streams: &[LiveStream], now: i64) -> String {
    let mut table = Table::new(&[
        "STREAM",
        "PUBLISHER",
        "UPTIME",
        "VIDEO",
        "AUDIO",
        "BITRATE",
        "PLAYERS",
        "FORBIDDEN",
    ]);
    for s in streams {
        let publisher = match (&s.protocol, &s.publisher_addr) {
            (Some(p), Some(a)) => format!("{p} {a}"),
            (Some(p), None) => p.clone(),
            (None, _) if s.publishing => "(in server)".into(),
            (None, _) => "-".into(),
        };
        table.row(vec![
            format!("{}/{}/{}", s.domain, s.app, s.stream),
            publisher,
            s.uptime_seconds.map_or("-".into(), elapsed),
            s.video.as_ref().map_or("-".into(), video_cell),
            s.audio.as_ref().map_or("-".into(), audio_cell),
            if s.publishing {
                bitrate(s.bitrate_in_bps)
            } else {
                "-".into()
            },
            s.players.to_string(),
            match (&s.forbidden_until, s.forbidden) {
                (Some(until), _) => format!("until {}", with_hint(until, now)),
                (None, true) => "yes".into(),
                (None, false) => "-".into(),
            },
        ]);
    }
    table.render()
}

/// `H.264 1280x720 High 29.97fps`.
fn video_cell(v: &LiveVideo) -> String {
    let mut out = v.codec.clone();
    if let (Some(w), Some(h)) = (v.width, v.height) {
        out.push_str(&format!(" {w}x{h}"));
    }
    if let Some(p) = &v.profile {
        out.push_str(&format!(" {p}"));
    }
    out.push_str(&format!(" {:.2}fps", v.fps));
    out
}

/// `AAC 44100Hz 2ch`.
fn audio_cell(a: &LiveAudio) -> String {
    let mut out = a.codec.clone();
    if let Some(r) = a.sample_rate {
        out.push_str(&format!(" {r}Hz"));
    }
    if let Some(c) = a.channels {
        out.push_str(&format!(" {c}ch"));
    }
    out
}

pub async fn run(ctx: &Ctx, command: StreamCommand) -> Result<(), Failure> {
    match command {
        StreamCommand::List { domain, app } => {
            let req = Request::get(&["streams"])
                .query("domain", domain)
                .query("app", app);
            let what = req.describe();
            let body = ctx.client.send(&req).await?.into_body(&what)?;
            let items = list_items(&body, &what)?;
            if ctx.json {
                print_json(&Value::Array(items));
            } else if items.is_empty() {
                println!("no live streams");
            } else {
                let streams = items
                    .iter()
                    .map(|v| view(v, "stream"))
                    .collect::<Result<Vec<LiveStream>, _>>()?;
                print!("{}", live_table(&streams, time::now()));
            }
            Ok(())
        }
        StreamCommand::Forbid { stream, until } => {
            let now = time::now();
            let mut req = Request::new(Method::PUT, &stream.segments("blocks"));
            match until {
                Some(When::Now) => {
                    return Err(Failure::usage(
                        "--until now would not forbid anything; give a time or +DURATION",
                    ));
                }
                Some(w) => {
                    req = req.json(json!({ "resume_at": format_utc(w.resolve(now, now)) }));
                }
                None => {}
            }
            let what = req.describe();
            let body = ctx.client.send(&req).await?.into_body(&what)?;
            if ctx.json {
                print_json(&body);
            } else {
                let block: Block = view(&body, "block")?;
                println!(
                    "forbade {stream} until {}",
                    with_hint(&block.resume_at, time::now())
                );
            }
            Ok(())
        }
        StreamCommand::Resume { stream } => {
            let req = Request::new(Method::DELETE, &stream.segments("blocks"));
            ctx.client.send(&req).await?;
            if !ctx.json {
                println!("resumed {stream}: it may publish again");
            }
            Ok(())
        }
        StreamCommand::Kick { stream } => {
            let [_, domain, app, name] = stream.segments("");
            let req = Request::new(Method::POST, &["streams", domain, app, name, "kick"]);
            ctx.client.send(&req).await?;
            if !ctx.json {
                println!("kicked the publisher of {stream} (if there was one)");
            }
            Ok(())
        }
        StreamCommand::Blocklist(a) => {
            let req = Request::get(&["blocks"])
                .query("limit", a.limit)
                .query("domain", a.domain)
                .query("app", a.app)
                .query("stream", a.stream)
                .query("match", a.contains.then_some("contains"));
            let (values, rest) = list(&ctx.client, req, a.all).await?;
            if ctx.json {
                print_json(&Value::Array(values));
            } else if values.is_empty() {
                println!("no forbidden streams");
            } else {
                let blocks = values
                    .iter()
                    .map(|v| view(v, "block"))
                    .collect::<Result<Vec<Block>, _>>()?;
                print!("{}", block_table(&blocks, time::now()));
            }
            if rest.is_some() {
                eprintln!("(more forbidden streams: --all lists every page)");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        command: StreamCommand,
    }

    fn parse(args: &[&str]) -> Result<StreamCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("stream").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    fn path(d: &str, a: &str, s: &str) -> StreamPath {
        StreamPath {
            domain: d.into(),
            app: a.into(),
            stream: s.into(),
        }
    }

    #[test]
    fn splits_domain_app_stream() {
        assert_eq!(
            StreamPath::parse("live.example.com/live/s1"),
            Ok(path("live.example.com", "live", "s1"))
        );
        assert_eq!(
            StreamPath::parse("Live.Example.com/Live/S1"),
            Ok(path("live.example.com", "Live", "S1"))
        );
        assert_eq!(
            StreamPath::parse("rtmp://live.example.com:1935/live/s1?auth_key=1-2-3-4"),
            Ok(path("live.example.com", "live", "s1"))
        );
        assert_eq!(
            StreamPath::parse("rtmp://live.example.com/live/caf%C3%A9"),
            Ok(path("live.example.com", "live", "café"))
        );
        assert_eq!(
            StreamPath::parse("live.example.com/live/stream-ü"),
            Ok(path("live.example.com", "live", "stream-ü"))
        );
        for bad in [
            "",
            "live.example.com",
            "live.example.com/live",
            "live.example.com/live/",
            "/live/s1",
            "live.example.com//s1",
            "live.example.com/live/s1/extra",
            "live.example.com/live/s?1",
            "live.example.com/live/s*",
            "live.example.com/li ve/s1",
            "rtmp://live.example.com/s1",
        ] {
            assert!(StreamPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_stream_commands() {
        match parse(&["forbid", "live.example.com/live/s1", "--until", "+7d"]).unwrap() {
            StreamCommand::Forbid { stream, until } => {
                assert_eq!(stream, path("live.example.com", "live", "s1"));
                assert_eq!(
                    until,
                    Some(When::After(std::time::Duration::from_secs(7 * 86_400)))
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["forbid", "live.example.com/live"]).is_err());
        assert!(parse(&["kick", "a/b/c"]).is_ok());
        assert!(
            parse(&["blocklist", "--contains"]).is_err(),
            "--contains needs --stream"
        );
        match parse(&["blocklist", "--stream", "news", "--contains", "--all"]).unwrap() {
            StreamCommand::Blocklist(a) => {
                assert!(a.contains && a.all);
                assert_eq!(a.stream.as_deref(), Some("news"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn segments_are_encoded_by_the_client() {
        let base = super::super::client::parse_endpoint("http://127.0.0.1:8080").unwrap();
        let p = path("live.example.com", "live", "café");
        let segments: Vec<String> = p.segments("blocks").iter().map(|s| s.to_string()).collect();
        assert_eq!(
            super::super::client::url(&base, &segments).as_str(),
            "http://127.0.0.1:8080/v1/blocks/live.example.com/live/caf%C3%A9"
        );
    }

    #[test]
    fn renders_live_streams_escaping_what_the_server_sent() {
        let streams: Vec<LiveStream> = [
            json!({"domain": "live.example.com", "app": "live", "stream": "s1",
                "publishing": true, "protocol": "rtmp", "publisher_addr": "192.0.2.1:50000",
                "uptime_seconds": 3723.4, "bitrate_in_bps": 2_512_000, "players": 2,
                "video": {"codec": "H.264", "width": 1280, "height": 720, "profile": "High",
                          "fps": 29.97},
                "audio": {"codec": "AAC", "sample_rate": 44100, "channels": 2},
                "forbidden": false, "forbidden_until": null}),
            json!({"domain": "live.example.com", "app": "live", "stream": "evil\u{1b}[2J",
                "publishing": false, "players": 1, "forbidden": true,
                "forbidden_until": "2026-11-23T19:00:00Z"}),
        ]
        .iter()
        .map(|v| view(v, "stream").unwrap())
        .collect();
        assert_eq!(
            live_table(&streams, 1_795_374_478),
            "\
STREAM                               PUBLISHER             UPTIME    VIDEO                         AUDIO            BITRATE    PLAYERS  FORBIDDEN
live.example.com/live/s1             rtmp 192.0.2.1:50000  1h02m03s  H.264 1280x720 High 29.97fps  AAC 44100Hz 2ch  2.51 Mb/s  2        -
live.example.com/live/evil\\u{1b}[2J  -                     -         -                             -                -          1        until 2026-11-23T19:00:00Z (in 23h52m)
"
        );
        assert!(parse(&["list", "--domain", "live.example.com"]).is_ok());
    }

    #[test]
    fn renders_blocks() {
        let blocks: Vec<Block> = [json!({"domain": "live.example.com", "app": "live",
            "stream": "s1", "created_at": "2026-11-22T19:00:00Z",
            "resume_at": "2027-05-22T19:00:00Z"})]
        .iter()
        .map(|v| view(v, "block").unwrap())
        .collect();
        assert_eq!(
            block_table(&blocks, 1_795_374_478),
            "\
DOMAIN            APP   STREAM  FORBIDDEN                      RESUMES
live.example.com  live  s1      2026-11-22T19:00:00Z (7m ago)  2027-05-22T19:00:00Z (in 180d)
"
        );
    }
}
