//! `baton task …`: create, list, describe (and watch), update, stop, start, restart, delete
//! tasks, and read their events.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::Ctx;
use super::client::{Failure, Request, Retry, list};
use super::model::{Event, Task, view};
use super::output::{
    Table, bitrate, bytes, escape, json_text, key_values, or_dash, print_json, shorten,
};
use super::time::{self, When, elapsed, format_utc, with_hint};

/// Path extensions of an http(s) source that make it a file (`url` task) rather than a live
/// stream. `.flv` is not one: HTTP-FLV live streams end in `.flv` too.
const FILE_EXTENSIONS: [&str; 4] = [".mp4", ".m4v", ".mov", ".ts"];

const TYPE_RULE: &str = "\
Source type, unless --type says: several --source → url (a playlist); one source that is an \
absolute path (/srv/media/a.mp4) or an http(s) URL whose path ends in .mp4, .m4v, .mov or \
.ts → url; anything else → live (rtmp://, srt://, rtsp://, http(s)://….flv as HTTP-FLV, \
….m3u8 as live HLS). A .flv file or a VOD .m3u8 playlist over HTTP played as a file needs \
--type url; media IDs need --type vod.

Times: RFC 3339 (2026-11-23T20:00:00Z, 2026-11-23T21:00:00+01:00), now, or +DURATION \
(+30m, +2h, +7d, +90s). --end +DURATION counts from --start when it is given, else from now.";

#[derive(Subcommand, Debug)]
pub enum TaskCommand {
    /// Creates a task: relays a live source, or plays files as one live stream, to an RTMP
    /// destination until its end time.
    #[command(after_help = TYPE_RULE)]
    Create(CreateArgs),
    /// Lists tasks, newest first.
    List(ListArgs),
    /// Shows one task with its live relay status.
    Describe(DescribeArgs),
    /// Changes a task: only the options given (JSON merge patch).
    #[command(after_help = TYPE_RULE)]
    Update(UpdateArgs),
    /// Stops a running or not yet started task.
    Stop {
        /// The task's ID.
        id: String,
    },
    /// Starts a stopped task again; a playlist continues where it stopped.
    Start {
        /// The task's ID.
        id: String,
        /// Play a playlist from its first item instead.
        #[arg(long)]
        from_start: bool,
    },
    /// Stops (if running) and starts a task afresh with its latest configuration.
    Restart {
        /// The task's ID.
        id: String,
    },
    /// Stops and deletes a task.
    Delete {
        /// The task's ID.
        id: String,
    },
    /// Shows a task's recent events (callbacks and their delivery), newest first.
    Events(EventsArgs),
}

/// `--type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceKind {
    /// One live stream.
    Live,
    /// 1–30 files (http(s) URLs or local paths) played as one live stream.
    Url,
    /// 1–30 media IDs of the server's media library.
    Vod,
}

impl SourceKind {
    fn as_str(self) -> &'static str {
        match self {
            SourceKind::Live => "live",
            SourceKind::Url => "url",
            SourceKind::Vod => "vod",
        }
    }
}

/// `--protocol` (live sources; the server tells it from the URL when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    Rtmp,
    #[value(name = "http-flv")]
    HttpFlv,
    Hls,
    Srt,
    Rtsp,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Protocol::Rtmp => "rtmp",
            Protocol::HttpFlv => "http-flv",
            Protocol::Hls => "hls",
            Protocol::Srt => "srt",
            Protocol::Rtsp => "rtsp",
        }
    }
}

/// `--state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    #[value(name = "not_started")]
    NotStarted,
    Running,
    Recovering,
    Stopped,
    Ended,
}

impl StateArg {
    fn as_str(self) -> &'static str {
        match self {
            StateArg::NotStarted => "not_started",
            StateArg::Running => "running",
            StateArg::Recovering => "recovering",
            StateArg::Stopped => "stopped",
            StateArg::Ended => "ended",
        }
    }
}

/// Options `create` and `update` share.
#[derive(Args, Debug, Default)]
pub struct CommonArgs {
    /// The source type [default: inferred; see below].
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub kind: Option<SourceKind>,
    /// The live source's protocol [default: told by the URL].
    #[arg(long, value_enum)]
    pub protocol: Option<Protocol>,
    /// A name for the task (list filters match it).
    #[arg(long)]
    pub name: Option<String>,
    /// When the task starts: RFC 3339, now, or +DURATION [default: now].
    #[arg(long, value_name = "TIME", value_parser = When::parse)]
    pub start: Option<When>,
    /// Extra passes over a playlist: 0 plays it once, -1 forever.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub repeat: Option<i64>,
    /// How often a failed task is retried [server default: 3].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Seconds between retries (60–300), or a duration: 90s, 2m [server default: 60].
    #[arg(long, value_name = "SECONDS", value_parser = whole_seconds)]
    pub retry_interval: Option<u64>,
    /// URL the task's events are POSTed to (update: '' removes it).
    #[arg(long, value_name = "URL")]
    pub callback: Option<String>,
    /// The playlist item to start at (0-based).
    #[arg(long, value_name = "N")]
    pub file_index: Option<u32>,
    /// Where in that item to start: seconds, or a duration (90s, 2m).
    #[arg(long, value_name = "SECONDS", value_parser = whole_seconds)]
    pub offset: Option<u64>,
    /// Also send item started / finished events to the callback.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub notify_item_switch: Option<bool>,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Source URL; repeat it for a playlist. rtmp://…, http(s)://….flv, srt://…, rtsp://…,
    /// file URLs or paths, or media IDs (--type vod).
    #[arg(long = "source", value_name = "URL", required = true)]
    pub sources: Vec<String>,
    /// Where the task pushes: rtmp://…, rtmps://… or srt://HOST:PORT?streamid=… (MPEG-TS over
    /// SRT). Repeat it to push to several at once (at most 8; each reconnects on its own, and
    /// the task fails only when every one has).
    #[arg(long = "destination", value_name = "URL", required = true)]
    pub destinations: Vec<String>,
    /// When the task ends: RFC 3339 or +DURATION (+2h, +30m, +7d).
    #[arg(long, value_name = "TIME", value_parser = When::parse)]
    pub end: When,
    /// The task group [server default: default].
    #[arg(long)]
    pub group: Option<String>,
    /// Makes retries of this create return the first task instead of a second one
    /// [default: a new random key per invocation; the CLI's own retries reuse it].
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The task's ID.
    pub id: String,
    /// New source URLs (the source is replaced as a whole; --type/--protocol apply to it).
    #[arg(long = "source", value_name = "URL")]
    pub sources: Vec<String>,
    /// New destination (rtmp://, rtmps:// or srt://): once replaces the first destination
    /// only; repeated, replaces them all.
    #[arg(long = "destination", value_name = "URL")]
    pub destinations: Vec<String>,
    /// New end time: RFC 3339 or +DURATION (from --start if given, else from now).
    #[arg(long, value_name = "TIME", value_parser = When::parse)]
    pub end: Option<When>,
    /// Change the task only if it is still at this version: its ETag (`"v3"`, v3 or 3).
    #[arg(long, value_name = "ETAG")]
    pub if_match: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Tasks whose name contains this (case-insensitive).
    #[arg(long)]
    pub name: Option<String>,
    /// Tasks of this group.
    #[arg(long)]
    pub group: Option<String>,
    /// Tasks in this state.
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,
    /// Tasks per page (1–500) [server default: 50].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: Option<u32>,
    /// Follow the pages to the end of the list (default: the first page).
    #[arg(long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// The task's ID.
    pub id: String,
    /// Redraw until Ctrl-C (or until the task is deleted). With --json: one JSON line per
    /// poll.
    #[arg(long)]
    pub watch: bool,
    /// How often --watch polls.
    #[arg(long, default_value = "1s", value_parser = crate::duration::parse, requires = "watch")]
    pub interval: Duration,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// The task's ID (events outlive a deleted task for the retention period).
    pub id: String,
    /// Events per page (1–500) [server default: 50].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: Option<u32>,
    /// Follow the pages to the end of the list (default: the first page).
    #[arg(long)]
    pub all: bool,
}

/// `90`, `90s`, `2m` → 90, 120 whole seconds.
fn whole_seconds(s: &str) -> Result<u64, String> {
    let d = crate::duration::parse(s)?;
    if d.subsec_nanos() != 0 {
        return Err(format!("{s:?} is not a whole number of seconds"));
    }
    Ok(d.as_secs())
}

/// The source type of `sources` when `--type` is not given (see [`TYPE_RULE`]).
pub fn infer_kind(sources: &[String]) -> SourceKind {
    let [one] = sources else {
        return SourceKind::Url;
    };
    let s = one.trim().to_ascii_lowercase();
    if s.starts_with('/') {
        return SourceKind::Url;
    }
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    if let Some(rest) = rest {
        let path = rest.split(['?', '#']).next().unwrap_or("");
        if FILE_EXTENSIONS.iter().any(|ext| path.ends_with(ext)) {
            return SourceKind::Url;
        }
    }
    SourceKind::Live
}

fn source_json(
    kind: Option<SourceKind>,
    protocol: Option<Protocol>,
    sources: &[String],
) -> Result<Value, String> {
    let kind = kind.unwrap_or_else(|| infer_kind(sources));
    let mut source = Map::new();
    source.insert("type".into(), json!(kind.as_str()));
    if let Some(p) = protocol {
        if kind != SourceKind::Live {
            return Err(format!(
                "--protocol applies to live sources; this source is {} (--type)",
                kind.as_str()
            ));
        }
        source.insert("protocol".into(), json!(p.as_str()));
    }
    source.insert("urls".into(), json!(sources));
    Ok(Value::Object(source))
}

fn end_time(end: When, base: i64, now: i64) -> Result<i64, String> {
    if end == When::Now {
        return Err("--end cannot be now: give a time or +DURATION (+2h)".into());
    }
    Ok(end.resolve(now, base))
}

/// The options both bodies take the same way.
fn common_fields(c: &CommonArgs, body: &mut Map<String, Value>) {
    if let Some(name) = &c.name {
        body.insert("name".into(), json!(name));
    }
    if let Some(repeat) = c.repeat {
        body.insert("repeat".into(), json!(repeat));
    }
    if c.retries.is_some() || c.retry_interval.is_some() {
        let mut retry = Map::new();
        if let Some(n) = c.retries {
            retry.insert("count".into(), json!(n));
        }
        if let Some(s) = c.retry_interval {
            retry.insert("interval_seconds".into(), json!(s));
        }
        body.insert("retry".into(), Value::Object(retry));
    }
    if c.file_index.is_some() || c.offset.is_some() {
        let mut start = Map::new();
        if let Some(i) = c.file_index {
            start.insert("file_index".into(), json!(i));
        }
        if let Some(s) = c.offset {
            start.insert("offset_seconds".into(), json!(s));
        }
        body.insert("playlist_start".into(), Value::Object(start));
    }
    if let Some(b) = c.notify_item_switch {
        body.insert("notify_item_switch".into(), json!(b));
    }
}

/// One `--destination` is the API's `destination`; several are its `destinations`.
fn insert_destinations(body: &mut Map<String, Value>, destinations: &[String]) {
    match destinations {
        [] => {}
        [one] => {
            body.insert("destination".into(), json!(one));
        }
        several => {
            body.insert("destinations".into(), json!(several));
        }
    }
}

/// The `TaskCreate` document of `baton task create`, at local time `now`. `--start now` (or
/// none) leaves start_time to the server's clock.
pub fn create_body(a: &CreateArgs, now: i64) -> Result<Value, String> {
    let mut body = Map::new();
    body.insert(
        "source".into(),
        source_json(a.common.kind, a.common.protocol, &a.sources)?,
    );
    insert_destinations(&mut body, &a.destinations);
    let start = match a.common.start {
        None | Some(When::Now) => None,
        Some(w) => Some(w.resolve(now, now)),
    };
    if let Some(t) = start {
        body.insert("start_time".into(), json!(format_utc(t)));
    }
    let end = end_time(a.end, start.unwrap_or(now), now)?;
    body.insert("end_time".into(), json!(format_utc(end)));
    if let Some(group) = &a.group {
        body.insert("group".into(), json!(group));
    }
    if let Some(url) = a.common.callback.as_deref().filter(|u| !u.is_empty()) {
        body.insert("callback_url".into(), json!(url));
    }
    common_fields(&a.common, &mut body);
    Ok(Value::Object(body))
}

/// The `TaskPatch` document of `baton task update`: only what was given; `--callback ''`
/// is null (removes the callback).
pub fn patch_body(a: &UpdateArgs, now: i64) -> Result<Value, String> {
    let mut body = Map::new();
    if !a.sources.is_empty() {
        body.insert(
            "source".into(),
            source_json(a.common.kind, a.common.protocol, &a.sources)?,
        );
    } else if a.common.kind.is_some() || a.common.protocol.is_some() {
        return Err(
            "--type and --protocol describe a new source: give its --source URLs too".into(),
        );
    }
    insert_destinations(&mut body, &a.destinations);
    let start = a.common.start.map(|w| w.resolve(now, now));
    if let Some(t) = start {
        body.insert("start_time".into(), json!(format_utc(t)));
    }
    if let Some(end) = a.end {
        let end = end_time(end, start.unwrap_or(now), now)?;
        body.insert("end_time".into(), json!(format_utc(end)));
    }
    match a.common.callback.as_deref() {
        Some("") => {
            body.insert("callback_url".into(), Value::Null);
        }
        Some(url) => {
            body.insert("callback_url".into(), json!(url));
        }
        None => {}
    }
    common_fields(&a.common, &mut body);
    if body.is_empty() {
        return Err(
            "nothing to change: give at least one option (baton task update --help)".into(),
        );
    }
    Ok(Value::Object(body))
}

/// An Idempotency-Key the API accepts: 1–255 printable ASCII characters, no spaces.
fn check_idempotency_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(format!(
            "--idempotency-key {key:?}: use 1 to 255 printable ASCII characters without spaces"
        ));
    }
    Ok(())
}

/// `--if-match`: an ETag as the server sends it (`"v3"`), or what a shell leaves of it (`v3`),
/// or the task's version (`3`).
pub fn etag(s: &str) -> String {
    let s = s.trim();
    if s.starts_with('"') || s.starts_with("W/") || s == "*" {
        s.to_string()
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("\"v{s}\"")
    } else {
        format!("\"{s}\"")
    }
}

/// The first source and how many more: `rtmp://a/b/c (+2)`.
fn source_cell(t: &Task) -> String {
    match t.source.urls.as_slice() {
        [] => "-".to_string(),
        [one] => shorten(one, 40),
        [first, rest @ ..] => format!("{} (+{})", shorten(first, 36), rest.len()),
    }
}

/// The `baton task list` table.
pub fn task_table(tasks: &[Task]) -> String {
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "STATE",
        "SOURCE",
        "DESTINATION",
        "UPTIME",
        "BITRATE",
    ]);
    for t in tasks {
        let relay = t.relay.as_ref().filter(|_| t.state == "running");
        table.row(vec![
            t.id.clone(),
            or_dash(Some(&shorten(&t.name, 24))),
            t.state.clone(),
            source_cell(t),
            shorten(&t.destination, 40),
            relay
                .and_then(|r| r.uptime_seconds)
                .map_or("-".into(), elapsed),
            relay
                .and_then(|r| r.bitrate_out_bps.or(r.bitrate_in_bps))
                .map_or("-".into(), bitrate),
        ]);
    }
    table.render()
}

fn opt_time(t: Option<&str>, now: i64) -> String {
    match t {
        Some(s) if !s.is_empty() => with_hint(s, now),
        _ => "-".to_string(),
    }
}

fn count(v: Option<f64>) -> String {
    v.map_or("-".into(), |n| format!("{n:.0}"))
}

/// The `baton task describe` view.
pub fn describe_view(t: &Task, etag: Option<&str>, now: i64) -> String {
    // Values from the server are escaped before any is joined with the view's own newlines.
    let esc = |s: &str| escape(s).into_owned();
    let mut kv: Vec<(&str, String)> = vec![
        ("ID", esc(&t.id)),
        ("Name", or_dash(Some(&esc(&t.name)))),
        ("Group", or_dash(Some(&esc(&t.group)))),
    ];
    if let Some(region) = t.region.as_deref().filter(|r| !r.is_empty()) {
        kv.push(("Region", region.to_string()));
    }
    kv.push(("State", t.state.clone()));
    kv.push(("Reason", or_dash(t.reason.as_deref())));
    if t.exit_reason.is_some() || t.exit_time.is_some() {
        kv.push((
            "Exit",
            format!(
                "{} at {}",
                or_dash(t.exit_reason.as_deref()),
                opt_time(t.exit_time.as_deref(), now)
            ),
        ));
    }
    let kind = match t.source.protocol.as_deref() {
        Some(p) => format!("{} ({p})", t.source.kind),
        None => t.source.kind.clone(),
    };
    kv.push(("Source type", kind));
    let urls = if t.source.urls.len() > 1 {
        t.source
            .urls
            .iter()
            .enumerate()
            .map(|(i, u)| format!("{i}: {}", esc(u)))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        or_dash(t.source.urls.first().map(|u| esc(u)).as_deref())
    };
    kv.push(("Source", urls));
    if t.destinations.len() > 1 {
        let all = t.destinations.iter().enumerate();
        let lines: Vec<String> = all.map(|(i, u)| format!("{i}: {}", esc(u))).collect();
        kv.push(("Destinations", lines.join("\n")));
    } else {
        kv.push(("Destination", t.destination.clone()));
    }
    kv.push(("Start", opt_time(Some(&t.start_time), now)));
    kv.push(("End", opt_time(Some(&t.end_time), now)));
    kv.push(("Callback", or_dash(t.callback_url.as_deref())));
    if let Some(retry) = &t.retry {
        kv.push((
            "Retry policy",
            format!(
                "{} times, every {}",
                retry.count.map_or("-".into(), |n| n.to_string()),
                retry
                    .interval_seconds
                    .map_or("-".into(), |s| format!("{s}s"))
            ),
        ));
    }
    kv.push(("Retries used", t.retries.to_string()));
    kv.push(("Next retry", opt_time(t.next_retry_at.as_deref(), now)));
    kv.push((
        "Last error",
        match &t.last_error {
            Some(e) => format!(
                "{} {}: {}\nat {}",
                esc(&e.side),
                esc(&e.code),
                esc(&e.message),
                opt_time(Some(&e.at), now)
            ),
            None => "-".into(),
        },
    ));
    match &t.relay {
        Some(r) => {
            kv.push(("Relay", or_dash(r.state.as_deref())));
            kv.push(("Uptime", r.uptime_seconds.map_or("-".into(), elapsed)));
            kv.push((
                "Bitrate",
                format!(
                    "in {}, out {}",
                    r.bitrate_in_bps.map_or("-".into(), bitrate),
                    r.bitrate_out_bps.map_or("-".into(), bitrate)
                ),
            ));
            kv.push(("FPS", r.fps.map_or("-".into(), |f| format!("{f:.1}"))));
            // The slate: playing now (no source delivers), or how often it played.
            match (r.slate_active, r.slate_starts) {
                (Some(true), starts) => kv.push((
                    "Slate",
                    format!("on: no source delivers (start {})", count(starts)),
                )),
                (_, Some(starts)) if starts > 0.0 => kv.push((
                    "Slate",
                    format!("off, started {} times", count(Some(starts))),
                )),
                _ => {}
            }
            kv.push((
                "Frames",
                format!(
                    "{} out, {} dropped",
                    count(r.frames_out),
                    count(r.frames_dropped)
                ),
            ));
            kv.push((
                "Bytes",
                format!(
                    "in {}, out {}",
                    r.bytes_in.map_or("-".into(), bytes),
                    r.bytes_out.map_or("-".into(), bytes)
                ),
            ));
            kv.push((
                "Connections",
                format!(
                    "{} to the source, {} destination sessions",
                    count(r.source_connections),
                    count(r.destination_sessions)
                ),
            ));
            // Backup sources: which one is in use.
            if t.source.urls.len() > 1 && t.source.kind == "live" {
                kv.push((
                    "Sources",
                    format!(
                        "using {} of {}, {} switches",
                        r.active_source.map_or("-".into(), |i| format!("#{i}")),
                        t.source.urls.len(),
                        count(r.source_switches)
                    ),
                ));
            }
            // Several destinations: each one's own state (one line each, in the relay's order).
            if r.destinations.len() > 1 {
                for d in &r.destinations {
                    let mut line = format!(
                        "#{} {} {}, out {}, {} frames ({} dropped), {} sessions",
                        d.id,
                        escape(&d.url),
                        escape(&d.state),
                        d.bitrate_out_bps.map_or("-".into(), bitrate),
                        count(d.frames_out),
                        count(d.frames_dropped),
                        count(d.sessions)
                    );
                    if let Some(e) = &d.last_error {
                        line.push_str(&format!(
                            "; last error {}: {}",
                            escape(&e.code),
                            escape(&e.message)
                        ));
                    }
                    kv.push(("Pushing", line));
                }
            }
            if r.source_transport.is_some() || r.destination_transport.is_some() {
                let side = |t: &Option<super::model::Transport>| {
                    t.as_ref()
                        .map_or("-".into(), |t| escape(&t.describe()).into_owned())
                };
                kv.push((
                    "Transport",
                    format!(
                        "source {}, destination {}",
                        side(&r.source_transport),
                        side(&r.destination_transport)
                    ),
                ));
            }
            if let Some(srt) = &r.srt {
                let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0} ms"));
                kv.push((
                    "SRT",
                    format!(
                        "rtt {}, latency {}, {} packets: {} lost, {} retransmitted, {} dropped, {} undecryptable",
                        ms(srt.rtt_ms),
                        ms(srt.latency_ms),
                        count(srt.packets_received),
                        count(srt.packets_lost),
                        count(srt.packets_retransmitted),
                        count(srt.packets_dropped),
                        count(srt.decrypt_errors)
                    ),
                ));
            }
            if let Some(srt) = &r.destination_srt {
                let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0} ms"));
                kv.push((
                    "SRT out",
                    format!(
                        "rtt {}, latency {}, {} packets sent: {} retransmitted, {} reported lost, {} dropped too late; {} buffered",
                        ms(srt.rtt_ms),
                        ms(srt.latency_ms),
                        count(srt.packets_sent),
                        count(srt.packets_retransmitted),
                        count(srt.packets_lost),
                        count(srt.packets_dropped),
                        ms(srt.send_buffer_ms)
                    ),
                ));
            }
        }
        None => kv.push(("Relay", "-".into())),
    }
    if t.source.kind != "live" {
        kv.push(("Repeat", t.repeat.to_string()));
        if let Some(p) = &t.playlist {
            let items = t.source.urls.len();
            let passes = p.passes.map_or("∞".to_string(), |n| n.to_string());
            kv.push((
                "Playlist",
                format!(
                    "item {} of {items} (file_index {}), at {}, pass {} of {passes}",
                    p.file_index + 1,
                    p.file_index,
                    elapsed(p.offset_seconds as f64),
                    p.pass.unwrap_or(p.passes_done + 1),
                ),
            ));
        }
        if let Some(s) = &t.playlist_start {
            kv.push((
                "Start item",
                format!("file_index {}, offset {}s", s.file_index, s.offset_seconds),
            ));
        }
        if let Some(n) = t.notify_item_switch {
            kv.push(("Item events", if n { "on" } else { "off" }.to_string()));
        }
    }
    kv.push((
        "Version",
        match etag {
            Some(e) => format!("{} (ETag {e})", t.version),
            None => t.version.to_string(),
        },
    ));
    kv.push(("Created", opt_time(Some(&t.created_at), now)));
    kv.push(("Updated", opt_time(Some(&t.updated_at), now)));
    key_values(&kv)
}

/// The `baton task events` table.
pub fn events_table(events: &[Event], now: i64) -> String {
    let mut table = Table::new(&["SEQ", "TIME", "STATE", "REASON", "ITEM", "DELIVERY"]);
    for e in events {
        // A log-only event has no reason; its detail says what it is about.
        let reason = e
            .reason
            .as_deref()
            .or(e.exit_reason.as_deref())
            .or(e.detail.as_deref())
            .filter(|r| !r.is_empty());
        let item = e.item.as_ref().map_or("-".into(), |i| {
            let mut s = i.kind.clone();
            if let Some(n) = i.file_index {
                s.push_str(&format!(" #{n}"));
            }
            if let Some(src) = &i.source {
                s.push_str(&format!(" {}", shorten(src, 32)));
            }
            s
        });
        let mut delivery = e.delivery.replace('_', " ");
        if let Some(at) = e.delivered_at.as_deref().filter(|t| !t.is_empty()) {
            delivery.push_str(&format!(" {at}"));
        }
        if let Some(n) = e.attempts.filter(|n| *n > 0) {
            let s = if n == 1 { "" } else { "s" };
            delivery.push_str(&format!(" ({n} failed attempt{s}"));
            if let Some(error) = e.last_error.as_deref().filter(|m| !m.is_empty()) {
                delivery.push_str(&format!(", last: {error}"));
            }
            delivery.push(')');
        }
        table.row(vec![
            e.seq.to_string(),
            with_hint(&e.time, now),
            e.state.clone(),
            or_dash(reason),
            item,
            delivery,
        ]);
    }
    table.render()
}

fn items<T: serde::de::DeserializeOwned>(values: &[Value], what: &str) -> Result<Vec<T>, Failure> {
    values.iter().map(|v| view(v, what)).collect()
}

/// Prints a task the API answered with: the document with --json, else `headline` and the
/// view.
fn show_task(ctx: &Ctx, body: &Value, etag: Option<&str>, headline: &str) -> Result<(), Failure> {
    if ctx.json {
        print_json(body);
        return Ok(());
    }
    let task: Task = view(body, "task")?;
    if !headline.is_empty() {
        println!("{}", headline.replace("{id}", &task.id));
    }
    print!("{}", describe_view(&task, etag, time::now()));
    Ok(())
}

/// stop / start / restart: POST, then `task <id> stopped; state: stopped`.
async fn action(
    ctx: &Ctx,
    id: &str,
    verb: &str,
    past: &str,
    body: Option<Value>,
) -> Result<(), Failure> {
    let mut req = Request::new(Method::POST, &["tasks", id, verb]);
    if let Some(b) = body {
        req = req.json(b);
    }
    let what = req.describe();
    let body = ctx.client.send(&req).await?.into_body(&what)?;
    if ctx.json {
        print_json(&body);
        return Ok(());
    }
    let task: Task = view(&body, "task")?;
    let mut line = format!("task {} {past}; state: {}", task.id, task.state);
    if let Some(r) = task.reason.as_deref().filter(|r| !r.is_empty()) {
        line.push_str(&format!(" ({r})"));
    }
    println!("{}", escape(&line));
    Ok(())
}

pub async fn run(ctx: &Ctx, command: TaskCommand) -> Result<(), Failure> {
    match command {
        TaskCommand::Create(a) => {
            let body = create_body(&a, time::now()).map_err(Failure::usage)?;
            let key = match a.idempotency_key {
                Some(k) => {
                    check_idempotency_key(&k).map_err(Failure::usage)?;
                    k
                }
                None => format!("baton-cli-{}", uuid::Uuid::new_v4()),
            };
            let req = Request::new(Method::POST, &["tasks"])
                .header("Idempotency-Key", Some(key))
                .json(body)
                .retry(Retry::Safe);
            let reply = ctx.client.send(&req).await?;
            let (etag, replayed) = (reply.etag.clone(), reply.replayed);
            let replayed = replayed || reply.status == StatusCode::OK;
            let body = reply.into_body(&req.describe())?;
            let headline = if replayed {
                "task {id} already exists (created earlier with this Idempotency-Key)"
            } else {
                "created task {id}"
            };
            show_task(ctx, &body, etag.as_deref(), headline)
        }
        TaskCommand::List(a) => {
            let req = Request::get(&["tasks"])
                .query("limit", a.limit)
                .query("name", a.name)
                .query("group", a.group)
                .query("state", a.state.map(StateArg::as_str));
            let (values, rest) = list(&ctx.client, req, a.all).await?;
            if ctx.json {
                print_json(&Value::Array(values));
            } else if values.is_empty() {
                println!("no tasks");
            } else {
                print!("{}", task_table(&items::<Task>(&values, "task")?));
            }
            if rest.is_some() {
                eprintln!("(more tasks: --all lists every page)");
            }
            Ok(())
        }
        TaskCommand::Describe(a) if a.watch => watch(ctx, &a.id, a.interval).await,
        TaskCommand::Describe(a) => {
            let req = Request::get(&["tasks", &a.id]);
            let reply = ctx.client.send(&req).await?;
            let etag = reply.etag.clone();
            let body = reply.into_body(&req.describe())?;
            show_task(ctx, &body, etag.as_deref(), "")
        }
        TaskCommand::Update(a) => {
            let body = patch_body(&a, time::now()).map_err(Failure::usage)?;
            let req = Request::new(Method::PATCH, &["tasks", &a.id])
                .header("If-Match", a.if_match.as_deref().map(etag))
                .json(body);
            let reply = ctx.client.send(&req).await?;
            let etag = reply.etag.clone();
            let body = reply.into_body(&req.describe())?;
            show_task(ctx, &body, etag.as_deref(), "updated task {id}")
        }
        TaskCommand::Stop { id } => action(ctx, &id, "stop", "stopped", None).await,
        TaskCommand::Start { id, from_start } => {
            let body = from_start.then(|| json!({ "from_start": true }));
            action(ctx, &id, "start", "started", body).await
        }
        TaskCommand::Restart { id } => action(ctx, &id, "restart", "restarted", None).await,
        TaskCommand::Delete { id } => {
            ctx.client
                .send(&Request::new(Method::DELETE, &["tasks", &id]))
                .await?;
            if !ctx.json {
                println!("task {id} deleted");
            }
            Ok(())
        }
        TaskCommand::Events(a) => {
            let req = Request::get(&["tasks", &a.id, "events"]).query("limit", a.limit);
            let (values, rest) = list(&ctx.client, req, a.all).await?;
            if ctx.json {
                print_json(&Value::Array(values));
            } else if values.is_empty() {
                println!("no events");
            } else {
                print!(
                    "{}",
                    events_table(&items::<Event>(&values, "event")?, time::now())
                );
            }
            if rest.is_some() {
                eprintln!("(more events: --all lists every page)");
            }
            Ok(())
        }
    }
}

/// `describe --watch`: polls and redraws until Ctrl-C (exit 0) or until the task is deleted
/// (exit 0). A task that never existed is an error; a server that is away for a moment is
/// shown and polled again.
async fn watch(ctx: &Ctx, id: &str, interval: Duration) -> Result<(), Failure> {
    let interval = interval.max(Duration::from_millis(200));
    let tty = std::io::stdout().is_terminal();
    let req = Request::get(&["tasks", id]);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut seen = false;
    loop {
        let result = tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            r = ctx.client.send(&req) => r,
        };
        let now = time::now();
        let frame = match result {
            Ok(reply) => {
                seen = true;
                let etag = reply.etag.clone();
                let body = reply.into_body(&req.describe())?;
                if ctx.json {
                    println!("{}", json_text(&body.to_string()));
                    None
                } else {
                    let task: Task = view(&body, "task")?;
                    Some(describe_view(&task, etag.as_deref(), now))
                }
            }
            Err(Failure::Api {
                status: StatusCode::NOT_FOUND,
                ..
            }) if seen => {
                if !ctx.json {
                    println!("task {id} was deleted");
                }
                return Ok(());
            }
            Err(f @ Failure::Unreachable { .. }) if seen => {
                Some(format!("{}\n(polling again)\n", f.render()))
            }
            Err(f) => return Err(f),
        };
        if let Some(frame) = frame {
            let mut out = std::io::stdout().lock();
            let every = if interval.subsec_millis() == 0 {
                format!("{}s", interval.as_secs())
            } else {
                format!("{}ms", interval.as_millis())
            };
            let header = format!(
                "Every {every}: baton task describe {id}    {}    (Ctrl-C quits)",
                format_utc(now)
            );
            let _ = if tty {
                write!(out, "\x1b[H\x1b[2J{header}\n\n{frame}")
            } else {
                write!(out, "{header}\n\n{frame}\n")
            };
            let _ = out.flush();
        } else {
            let _ = std::io::stdout().flush();
        }
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
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
        command: TaskCommand,
    }

    fn parse(args: &[&str]) -> Result<TaskCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("task").chain(args.iter().copied())).map(|c| c.command)
    }

    fn create(args: &[&str]) -> CreateArgs {
        match parse(args).unwrap() {
            TaskCommand::Create(a) => a,
            other => panic!("{other:?}"),
        }
    }

    fn update(args: &[&str]) -> UpdateArgs {
        match parse(args).unwrap() {
            TaskCommand::Update(a) => a,
            other => panic!("{other:?}"),
        }
    }

    const NOW: i64 = 1_795_374_478; // 2026-11-22T19:07:58Z

    #[test]
    fn infers_the_source_type() {
        let one = |s: &str| infer_kind(&[s.to_string()]);
        assert_eq!(one("rtmp://src.example.com/live/a"), SourceKind::Live);
        assert_eq!(one("http://cdn.example.com/live/a.flv"), SourceKind::Live);
        assert_eq!(one("https://cdn.example.com/live/a.m3u8"), SourceKind::Live);
        assert_eq!(one("srt://src.example.com:9000"), SourceKind::Live);
        assert_eq!(one("https://cdn.example.com/v/a.mp4"), SourceKind::Url);
        assert_eq!(
            one("https://cdn.example.com/v/A.MP4?sig=1"),
            SourceKind::Url
        );
        assert_eq!(one("http://cdn.example.com/v/a.mov#t=1"), SourceKind::Url);
        assert_eq!(one("http://cdn.example.com/v/a.mp4.flv"), SourceKind::Live);
        assert_eq!(one("http://cdn.example.com/a?file=a.mp4"), SourceKind::Live);
        assert_eq!(one("/srv/media/a.flv"), SourceKind::Url);
        assert_eq!(
            infer_kind(&["rtmp://a/b/c".into(), "rtmp://a/b/d".into()]),
            SourceKind::Url
        );
    }

    #[test]
    fn create_bodies() {
        let a = create(&[
            "create",
            "--source",
            "rtmp://src.example.com/live/a",
            "--destination",
            "rtmp://dst.example.com/live/b",
            "--end",
            "+2h",
        ]);
        assert!(a.idempotency_key.is_none());
        assert_eq!(
            create_body(&a, NOW).unwrap(),
            json!({
                "source": {"type": "live", "urls": ["rtmp://src.example.com/live/a"]},
                "destination": "rtmp://dst.example.com/live/b",
                "end_time": "2026-11-22T21:07:58Z",
            })
        );

        // Several destinations: the API's `destinations`, in order.
        let a = create(&[
            "create",
            "--source",
            "rtmp://src.example.com/live/a",
            "--destination",
            "rtmp://dst.example.com/live/b",
            "--destination",
            "srt://dst2.example.com:9000?streamid=b",
            "--end",
            "+2h",
        ]);
        assert_eq!(
            create_body(&a, NOW).unwrap(),
            json!({
                "source": {"type": "live", "urls": ["rtmp://src.example.com/live/a"]},
                "destinations": ["rtmp://dst.example.com/live/b",
                                 "srt://dst2.example.com:9000?streamid=b"],
                "end_time": "2026-11-22T21:07:58Z",
            })
        );

        let a = create(&[
            "create",
            "--source",
            "https://cdn.example.com/a.mp4",
            "--source",
            "/srv/media/b.flv",
            "--destination",
            "rtmp://dst.example.com/live/b",
            "--name",
            "evening show",
            "--group",
            "shows",
            "--start",
            "2026-11-23T20:00:00+01:00",
            "--end",
            "+30m",
            "--repeat",
            "-1",
            "--retries",
            "5",
            "--retry-interval",
            "2m",
            "--callback",
            "https://hooks.example.com/baton",
            "--file-index",
            "1",
            "--offset",
            "90",
            "--notify-item-switch",
            "--idempotency-key",
            "show-2026-11-23",
        ]);
        assert_eq!(a.idempotency_key.as_deref(), Some("show-2026-11-23"));
        assert_eq!(
            create_body(&a, NOW).unwrap(),
            json!({
                "source": {"type": "url",
                           "urls": ["https://cdn.example.com/a.mp4", "/srv/media/b.flv"]},
                "destination": "rtmp://dst.example.com/live/b",
                "name": "evening show",
                "group": "shows",
                "start_time": "2026-11-23T19:00:00Z",
                "end_time": "2026-11-23T19:30:00Z",
                "repeat": -1,
                "retry": {"count": 5, "interval_seconds": 120},
                "callback_url": "https://hooks.example.com/baton",
                "playlist_start": {"file_index": 1, "offset_seconds": 90},
                "notify_item_switch": true,
            })
        );

        // --type and --protocol; --start now is the server's now; an absolute --end.
        let a = create(&[
            "create",
            "--source",
            "http://cdn.example.com/live/a.flv",
            "--type",
            "live",
            "--protocol",
            "http-flv",
            "--destination",
            "rtmp://d/e/f",
            "--start",
            "now",
            "--end",
            "2026-11-23T00:00:00Z",
            "--callback",
            "",
        ]);
        assert_eq!(
            create_body(&a, NOW).unwrap(),
            json!({
                "source": {"type": "live", "protocol": "http-flv",
                           "urls": ["http://cdn.example.com/live/a.flv"]},
                "destination": "rtmp://d/e/f",
                "end_time": "2026-11-23T00:00:00Z",
            })
        );

        let a = create(&[
            "create",
            "--source",
            "abc123",
            "--type",
            "vod",
            "--protocol",
            "rtmp",
            "--destination",
            "rtmp://d/e/f",
            "--end",
            "+1h",
        ]);
        assert!(create_body(&a, NOW).unwrap_err().contains("--protocol"));
        let a = create(&[
            "create",
            "--source",
            "rtmp://a/b/c",
            "--destination",
            "rtmp://d/e/f",
            "--end",
            "now",
        ]);
        assert!(create_body(&a, NOW).unwrap_err().contains("--end"));
    }

    #[test]
    fn create_needs_source_destination_and_end() {
        assert!(parse(&["create", "--destination", "rtmp://d/e/f", "--end", "+1h"]).is_err());
        assert!(parse(&["create", "--source", "rtmp://a/b/c", "--end", "+1h"]).is_err());
        assert!(
            parse(&[
                "create",
                "--source",
                "rtmp://a/b/c",
                "--destination",
                "rtmp://d/e/f"
            ])
            .is_err()
        );
        let bad_end = parse(&[
            "create",
            "--source",
            "rtmp://a/b/c",
            "--destination",
            "rtmp://d/e/f",
            "--end",
            "2h",
        ])
        .unwrap_err();
        assert!(bad_end.to_string().contains("+DURATION"), "{bad_end}");
        assert!(
            parse(&[
                "create",
                "--source",
                "rtmp://a/b/c",
                "--destination",
                "rtmp://d/e/f",
                "--end",
                "+1h",
                "--type",
                "file",
            ])
            .is_err()
        );
        assert!(
            parse(&[
                "create",
                "--source",
                "rtmp://a/b/c",
                "--destination",
                "rtmp://d/e/f",
                "--end",
                "+1h",
                "--retry-interval",
                "1.5",
            ])
            .is_err()
        );
    }

    #[test]
    fn update_bodies() {
        let a = update(&["update", "t1", "--name", "renamed", "--callback", ""]);
        assert_eq!(
            patch_body(&a, NOW).unwrap(),
            json!({"name": "renamed", "callback_url": null})
        );
        let a = update(&[
            "update",
            "t1",
            "--start",
            "+1h",
            "--end",
            "+2h",
            "--retries",
            "0",
            "--if-match",
            "v3",
        ]);
        assert_eq!(a.if_match.as_deref(), Some("v3"));
        assert_eq!(
            patch_body(&a, NOW).unwrap(),
            json!({"start_time": "2026-11-22T20:07:58Z", "end_time": "2026-11-22T22:07:58Z",
                   "retry": {"count": 0}})
        );
        let a = update(&["update", "t1", "--end", "+2h", "--start", "now"]);
        assert_eq!(
            patch_body(&a, NOW).unwrap(),
            json!({"start_time": "2026-11-22T19:07:58Z", "end_time": "2026-11-22T21:07:58Z"})
        );
        let a = update(&[
            "update",
            "t1",
            "--source",
            "https://cdn/a.mp4",
            "--destination",
            "rtmp://x/y/z",
            "--notify-item-switch=false",
        ]);
        assert_eq!(
            patch_body(&a, NOW).unwrap(),
            json!({"source": {"type": "url", "urls": ["https://cdn/a.mp4"]},
                   "destination": "rtmp://x/y/z", "notify_item_switch": false})
        );
        let a = update(&["update", "t1"]);
        assert!(
            patch_body(&a, NOW)
                .unwrap_err()
                .contains("nothing to change")
        );
        let a = update(&["update", "t1", "--type", "url"]);
        assert!(patch_body(&a, NOW).unwrap_err().contains("--source"));
    }

    #[test]
    fn other_commands_parse() {
        match parse(&["list", "--state", "not_started", "--limit", "10", "--all"]).unwrap() {
            TaskCommand::List(a) => {
                assert_eq!(a.state, Some(StateArg::NotStarted));
                assert_eq!(a.limit, Some(10));
                assert!(a.all);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["list", "--limit", "0"]).is_err());
        assert!(parse(&["list", "--limit", "501"]).is_err());
        assert!(parse(&["list", "--state", "paused"]).is_err());
        match parse(&["describe", "t1", "--watch", "--interval", "500ms"]).unwrap() {
            TaskCommand::Describe(a) => {
                assert!(a.watch);
                assert_eq!(a.interval, Duration::from_millis(500));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["describe", "t1", "--interval", "2s"]).is_err());
        assert!(matches!(
            parse(&["start", "t1", "--from-start"]).unwrap(),
            TaskCommand::Start {
                from_start: true,
                ..
            }
        ));
        assert!(matches!(
            parse(&["events", "t1", "--limit", "5"]).unwrap(),
            TaskCommand::Events(EventsArgs { limit: Some(5), .. })
        ));
        assert!(parse(&["delete"]).is_err());
    }

    #[test]
    fn etags_and_keys() {
        assert_eq!(etag("\"v3\""), "\"v3\"");
        assert_eq!(etag("v3"), "\"v3\"");
        assert_eq!(etag("3"), "\"v3\"");
        assert_eq!(etag("W/\"v3\""), "W/\"v3\"");
        assert!(check_idempotency_key("abc-123_XYZ:!").is_ok());
        assert!(check_idempotency_key("").is_err());
        assert!(check_idempotency_key("has space").is_err());
        assert!(check_idempotency_key(&"k".repeat(256)).is_err());
    }

    /// A running task as the OpenAPI `Task` schema describes it.
    fn sample_task() -> Value {
        json!({
            "id": "6f1c2a4e-93b1-4d0e-8a57-2f4c9e1b7d30",
            "name": "evening news",
            "group": "default",
            "region": "cn-shanghai",
            "source": {"type": "live", "protocol": "rtmp",
                       "urls": ["rtmp://src.example.com/live/news"]},
            "destination": "rtmp://push.example.net/live/news-relay",
            "start_time": "2026-11-22T19:00:00Z",
            "end_time": "2026-11-22T21:00:00Z",
            "callback_url": "https://hooks.example.com/baton",
            "repeat": 0,
            "retry": {"count": 3, "interval_seconds": 60},
            "playlist_start": {"file_index": 0, "offset_seconds": 0},
            "notify_item_switch": false,
            "state": "running",
            "reason": null,
            "exit_reason": null,
            "exit_time": null,
            "last_error": {"side": "source", "code": "PullStreamFailed",
                           "message": "connection reset by peer", "at": "2026-11-22T19:02:58Z"},
            "retries": 1,
            "next_retry_at": null,
            "relay": {"state": "running", "uptime_seconds": 3723.4, "bitrate_in_bps": 2512000,
                      "bitrate_out_bps": 2498000, "fps": 25.0, "bytes_in": 1168000000u64,
                      "bytes_out": 1162000000u64, "frames_out": 93085, "frames_dropped": 12,
                      "source_connections": 2, "destination_sessions": 1},
            "playlist": null,
            "version": 3,
            "created_at": "2026-11-22T18:55:00Z",
            "updated_at": "2026-11-22T19:03:10Z"
        })
    }

    /// Nothing a server sends reaches the terminal raw: no ESC, BEL, NUL, bidi override, and
    /// no newline that starts a line of its own.
    fn assert_inert(out: &str) {
        for c in out.chars() {
            assert!(
                c == '\n' || !baton_domain::text::is_control_or_bidi(c),
                "raw {c:?} in {out:?}"
            );
        }
    }

    #[test]
    fn hostile_strings_are_printed_escaped() {
        let mut hostile = sample_task();
        hostile["name"] = json!("\u{1b}]0;pwned\u{7}\u{1b}[2J");
        hostile["group"] = json!("g\u{202e}txt.exe");
        hostile["source"]["urls"] = json!(["rtmp://h/a\u{9b}31m"]);
        hostile["last_error"]["message"] = json!("refused\nState:        running\u{0}");
        let task: Task = view(&hostile, "task").unwrap();
        let table = task_table(std::slice::from_ref(&task));
        assert_inert(&table);
        assert!(table.contains("\\u{1b}]0;pwned\\u{7}\\u{1b}[2J"), "{table}");
        let out = describe_view(&task, None, 1_795_374_478);
        assert_inert(&out);
        assert!(out.contains("g\\u{202e}txt.exe"), "{out}");
        assert!(out.contains("rtmp://h/a\\u{9b}31m"), "{out}");
        // The forged field stays inside the error's line.
        assert!(
            out.contains("refused\\nState:        running\\u{0}"),
            "{out}"
        );
        assert_eq!(
            out.lines().filter(|l| l.starts_with("State:")).count(),
            1,
            "{out}"
        );
    }

    #[test]
    fn renders_the_list_table() {
        let running: Task = view(&sample_task(), "task").unwrap();
        let mut stopped = sample_task();
        stopped["id"] = json!("0b7e7d52-5d2c-4a57-9e8f-6c0d3b1a9f11");
        stopped["name"] = json!("");
        stopped["state"] = json!("stopped");
        stopped["reason"] = json!("PullStreamFailed");
        stopped["source"] = json!({"type": "url", "protocol": null, "urls":
            ["https://cdn.example.com/shows/episode-01-the-beginning.mp4",
             "https://cdn.example.com/shows/episode-02.mp4"]});
        let stopped: Task = view(&stopped, "task").unwrap();
        assert_eq!(
            task_table(&[running, stopped]),
            "\
ID                                    NAME          STATE    SOURCE                                     DESTINATION                              UPTIME    BITRATE
6f1c2a4e-93b1-4d0e-8a57-2f4c9e1b7d30  evening news  running  rtmp://src.example.com/live/news           rtmp://push.example.net/live/news-relay  1h02m03s  2.50 Mb/s
0b7e7d52-5d2c-4a57-9e8f-6c0d3b1a9f11  -             stopped  https://cdn.exam...the-beginning.mp4 (+1)  rtmp://push.example.net/live/news-relay  -         -
"
        );
    }

    #[test]
    fn renders_the_describe_view() {
        let task: Task = view(&sample_task(), "task").unwrap();
        let now = 1_795_374_478; // 2026-11-22T19:07:58Z
        let out = describe_view(&task, Some("\"v3\""), now);
        assert_eq!(
            out,
            "\
ID:            6f1c2a4e-93b1-4d0e-8a57-2f4c9e1b7d30
Name:          evening news
Group:         default
Region:        cn-shanghai
State:         running
Reason:        -
Source type:   live (rtmp)
Source:        rtmp://src.example.com/live/news
Destination:   rtmp://push.example.net/live/news-relay
Start:         2026-11-22T19:00:00Z (7m ago)
End:           2026-11-22T21:00:00Z (in 1h52m)
Callback:      https://hooks.example.com/baton
Retry policy:  3 times, every 60s
Retries used:  1
Next retry:    -
Last error:    source PullStreamFailed: connection reset by peer
               at 2026-11-22T19:02:58Z (5m ago)
Relay:         running
Uptime:        1h02m03s
Bitrate:       in 2.51 Mb/s, out 2.50 Mb/s
FPS:           25.0
Frames:        93085 out, 12 dropped
Bytes:         in 1.17 GB, out 1.16 GB
Connections:   2 to the source, 1 destination sessions
Version:       3 (ETag \"v3\")
Created:       2026-11-22T18:55:00Z (12m ago)
Updated:       2026-11-22T19:03:10Z (4m ago)
"
        );
    }

    #[test]
    fn says_when_the_slate_plays_and_how_often_it_did() {
        let mut v = sample_task();
        v["relay"]["slate_active"] = json!(true);
        v["relay"]["slate_starts"] = json!(2);
        let out = describe_view(&view(&v, "task").unwrap(), None, NOW);
        assert!(
            out.contains("Slate:         on: no source delivers (start 2)\n"),
            "{out}"
        );
        v["relay"]["slate_active"] = json!(false);
        let out = describe_view(&view(&v, "task").unwrap(), None, NOW);
        assert!(
            out.contains("Slate:         off, started 2 times\n"),
            "{out}"
        );
        // Never started: no line.
        let out = describe_view(&view(&sample_task(), "task").unwrap(), None, NOW);
        assert!(!out.contains("Slate:"), "{out}");
    }

    #[test]
    fn names_each_sides_transport_and_tls() {
        let mut v = sample_task();
        v["relay"]["source_transport"] = json!({"protocol": "rtmp"});
        v["relay"]["destination_transport"] = json!({"protocol": "rtmps", "tls": {
            "version": "TLSv1.3", "cipher": "TLS13_AES_128_GCM_SHA256",
            "peer_names": ["*.facebook.com", "facebook.com"],
            "subject": "CN=*.facebook.com,O=Meta Platforms\\, Inc.,L=Menlo Park,ST=California,C=US",
            "issuer": "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US"}});
        let task: Task = view(&v, "task").unwrap();
        let out = describe_view(&task, None, NOW);
        assert!(
            out.contains(
                "Transport:     source rtmp, destination rtmps (TLSv1.3 \
                 TLS13_AES_128_GCM_SHA256, *.facebook.com,facebook.com, issued by \
                 CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US)\n"
            ),
            "{out}"
        );
        // Without transports (an older server), no line.
        assert!(
            !describe_view(&view(&sample_task(), "task").unwrap(), None, NOW)
                .contains("Transport:")
        );
    }

    #[test]
    fn renders_an_srt_sources_statistics() {
        let mut v = sample_task();
        v["source"] = json!({"type": "live", "protocol": "srt",
                             "urls": ["srt://src.example.com:9000?streamid=news"]});
        v["relay"]["srt"] = json!({"rtt_ms": 12.4, "latency_ms": 120, "packets_received": 51200,
                                   "packets_lost": 31, "packets_retransmitted": 29,
                                   "packets_dropped": 2, "decrypt_errors": 0,
                                   "bytes_received": 67000000u64});
        let task: Task = view(&v, "task").unwrap();
        let out = describe_view(&task, None, NOW);
        assert!(out.contains("Source type:   live (srt)\n"), "{out}");
        assert!(
            out.contains(
                "SRT:           rtt 12 ms, latency 120 ms, 51200 packets: 31 lost, 29 retransmitted, 2 dropped, 0 undecryptable\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn renders_each_destination_and_the_source_in_use() {
        let mut v = sample_task();
        v["source"]["urls"] = json!(["rtmp://a.example/live/s", "rtmp://b.example/live/s"]);
        v["relay"]["active_source"] = json!(1);
        v["relay"]["source_switches"] = json!(1);
        v["relay"]["destinations"] = json!([
            {"id": 0, "url": "rtmp://yt.example/live2/key", "state": "forwarding",
             "bitrate_out_bps": 2_500_000, "bytes_out": 1, "frames_out": 900,
             "frames_dropped": 0, "sessions": 1},
            {"id": 2, "url": "rtmp://cdn.example/live/x", "state": "reconnecting",
             "bitrate_out_bps": 0, "bytes_out": 1, "frames_out": 300, "frames_dropped": 12,
             "sessions": 2, "last_error": {"code": "Disconnected", "message": "closed\u{1b}[2J"}},
        ]);
        let task: Task = view(&v, "task").unwrap();
        let out = describe_view(&task, None, 1_795_374_478);
        assert!(
            out.contains("Sources:       using #1 of 2, 1 switches\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "Pushing:       #0 rtmp://yt.example/live2/key forwarding, out 2.50 Mb/s, 900 frames (0 dropped), 1 sessions\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("Pushing:       #2 rtmp://cdn.example/live/x reconnecting, out 0 b/s, 300 frames (12 dropped), 2 sessions; last error Disconnected: closed"),
            "{out}"
        );
        assert!(!out.contains('\u{1b}'), "control characters escaped: {out}");
        // One destination: nothing more than the relay's own lines.
        let one: Task = view(&sample_task(), "task").unwrap();
        assert!(!describe_view(&one, None, 1_795_374_478).contains("Pushing:"));
    }

    #[test]
    fn renders_an_srt_destinations_statistics() {
        let mut v = sample_task();
        v["relay"]["destination_transport"] = json!({"protocol": "srt"});
        v["relay"]["destination_srt"] = json!({"rtt_ms": 3.4, "latency_ms": 120,
            "packets_sent": 5000, "packets_retransmitted": 12, "packets_lost": 10,
            "packets_dropped": 1, "bytes_sent": 6800000, "send_buffer_packets": 40,
            "send_buffer_bytes": 52640, "send_buffer_ms": 90});
        let task: Task = view(&v, "task").unwrap();
        let out = describe_view(&task, None, NOW);
        assert!(out.contains("destination srt\n"), "{out}");
        assert!(
            out.contains(
                "SRT out:       rtt 3 ms, latency 120 ms, 5000 packets sent: 12 retransmitted, 10 reported lost, 1 dropped too late; 90 ms buffered\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn renders_a_playlist_and_a_sparse_task() {
        let mut v = sample_task();
        v["source"] = json!({"type": "url", "urls": ["https://cdn/a.mp4", "https://cdn/b.mp4"]});
        v["playlist"] = json!({"file_index": 1, "offset_seconds": 95, "loop": 0, "passes": 2});
        v["repeat"] = json!(1);
        v["relay"] = Value::Null;
        v["state"] = json!("recovering");
        v["reason"] = json!("PushStreamFailed");
        v["next_retry_at"] = json!("2026-11-22T19:08:58Z");
        let task: Task = view(&v, "task").unwrap();
        let out = describe_view(&task, None, NOW);
        for line in [
            "Source:        0: https://cdn/a.mp4\n               1: https://cdn/b.mp4\n",
            "Reason:        PushStreamFailed\n",
            "Next retry:    2026-11-22T19:08:58Z (in 1m)\n",
            "Relay:         -\n",
            "Repeat:        1\n",
            "Playlist:      item 2 of 2 (file_index 1), at 1m35s, pass 1 of 2\n",
            "Version:       3\n",
        ] {
            assert!(out.contains(line), "{line:?} not in\n{out}");
        }
        // Finished: both passes completed, the server says pass 2 (of 2).
        v["playlist"] =
            json!({"file_index": 1, "offset_seconds": 95, "loop": 2, "pass": 2, "passes": 2});
        let task: Task = view(&v, "task").unwrap();
        let out = describe_view(&task, None, NOW);
        assert!(out.contains(", pass 2 of 2\n"), "{out}");
        // Only the required fields: still renders.
        let sparse: Task = view(
            &json!({"id": "t", "name": "", "group": "default",
                    "source": {"type": "live", "urls": ["rtmp://a/b/c"]},
                    "destination": "rtmp://d/e/f", "start_time": "2026-11-22T19:00:00Z",
                    "end_time": "2026-11-22T21:00:00Z", "repeat": 0, "retry": {},
                    "playlist_start": {}, "state": "not_started", "retries": 0, "version": 1,
                    "created_at": "2026-11-22T19:00:00Z", "updated_at": "2026-11-22T19:00:00Z"}),
            "task",
        )
        .unwrap();
        assert!(describe_view(&sparse, None, NOW).contains("State:         not_started\n"));
        assert!(view::<Task>(&json!({"id": 5}), "task").is_err());
    }

    #[test]
    fn renders_a_log_only_events_detail_as_its_reason() {
        let events: Vec<Event> = items(
            &[
                json!({"id": "e5", "seq": 5, "state": "DestinationDown", "reason": null,
                     "detail": "destination 1: connection-refused: refused",
                     "time": "2026-11-22T19:05:00Z", "delivery": "none"}),
            ],
            "event",
        )
        .unwrap();
        let table = events_table(&events, NOW);
        assert!(
            table.contains("DestinationDown  destination 1: connection-refused: refused  -"),
            "{table}"
        );
    }

    #[test]
    fn renders_events() {
        let events: Vec<Event> = items(
            &[
                json!({"id": "e4", "seq": 4, "state": "Exit", "reason": null,
                       "time": "2026-11-22T19:05:00Z", "delivery": "given_up", "attempts": 60,
                       "last_error": "connect error: Connection refused (os error 111)"}),
                json!({"id": "e3", "seq": 3, "state": "Offline", "reason": null,
                       "time": "2026-11-22T19:04:00Z", "delivery": "pending", "attempts": 2,
                       "last_error": "HTTP 503"}),
                json!({"id": "e2", "seq": 2, "state": "Recovering", "reason": "PullStreamFailed",
                       "time": "2026-11-22T19:02:58Z", "delivery": "delivered", "attempts": 1,
                       "delivered_at": "2026-11-22T19:03:00Z", "last_error": "timed out after 5 s"}),
                json!({"id": "e1", "seq": 1, "state": "Running", "reason": null,
                       "item": {"kind": "started", "file_index": 0, "source": "https://cdn/a.mp4"},
                       "time": "2026-11-22T19:00:00Z", "delivery": "none"}),
            ],
            "event",
        )
        .unwrap();
        assert_eq!(
            events_table(&events, NOW),
            "\
SEQ  TIME                           STATE       REASON            ITEM                          DELIVERY
4    2026-11-22T19:05:00Z (2m ago)  Exit        -                 -                             given up (60 failed attempts, last: connect error: Connection refused (os error 111))
3    2026-11-22T19:04:00Z (3m ago)  Offline     -                 -                             pending (2 failed attempts, last: HTTP 503)
2    2026-11-22T19:02:58Z (5m ago)  Recovering  PullStreamFailed  -                             delivered 2026-11-22T19:03:00Z (1 failed attempt, last: timed out after 5 s)
1    2026-11-22T19:00:00Z (7m ago)  Running     -                 started #0 https://cdn/a.mp4  none
"
        );
    }
}
