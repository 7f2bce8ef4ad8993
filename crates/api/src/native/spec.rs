//! Native requests → the domain's [`TaskSpec`] / [`TaskPatch`], with the same checks the
//! dialects make (URL schemes per source type, limits), naming fields as the API does. Rules
//! between fields of the whole spec (FileIndex within the list, end after start) are the
//! domain's (`TaskSpec::validate`), on create and on update alike.

use baton_domain::validate::{MAX_FAILBACK_AFTER, MAX_FAILOVER_AFTER};
use baton_domain::{
    DEFAULT_GROUP, MAX_BACKUP_SOURCES, SourceFailover, SourceProtocol, SourceType, TaskPatch,
    TaskSlate, TaskSpec, UnixTime, check_group_name,
};

use super::dto::{PlaylistStartIn, RetryIn, SlateIn, SourceIn, TaskCreate, TaskPatchIn};
use super::problem::Problem;
use crate::aliyun::fields::{check_source_urls, check_url};
use crate::common::time::parse_rfc3339;
use crate::error::ApiError;

const MAX_URL: usize = 2000;
const MAX_SOURCES: usize = 30;

/// The spec of a create request at `now` (start time default: now).
pub fn spec_of(c: &TaskCreate, now: UnixTime) -> Result<TaskSpec, Problem> {
    let name = c.name.clone().unwrap_or_default();
    let group = c.group.clone().unwrap_or_else(|| DEFAULT_GROUP.to_string());
    check_group_name(&group).map_err(|e| Problem::rejected(&e, None))?;
    let (source_type, source_protocol, source_urls, failover) = source(&c.source)?;
    let start_time = match &c.start_time {
        Some(t) => time("start_time", t)?,
        None => now,
    };
    let end_time = time("end_time", &c.end_time)?;
    let retry = c.retry.as_ref();
    let start = c.playlist_start.as_ref();
    let (dst_url, extra_dst_urls) =
        match destinations(c.destination.as_deref(), c.destinations.as_deref())? {
            Some(both) => both,
            None => return Err(Problem::invalid("destination", "destination is required")),
        };
    let spec = TaskSpec {
        name,
        group,
        region: String::new(),
        source_type,
        source_protocol,
        source_urls,
        dst_url,
        extra_dst_urls,
        failover,
        start_time,
        end_time,
        callback_url: callback(c.callback_url.as_deref())?,
        repeat_number: repeat(c.repeat)?.unwrap_or(0),
        retry_count: retry_count(retry)?.unwrap_or(3),
        retry_interval: retry_interval(retry)?.unwrap_or(60),
        file_index: file_index(start)?.unwrap_or(0),
        offset: offset(start)?.unwrap_or(0),
        auth_key: None,
        req_auth: None,
        notify_item_switch: c
            .notify_item_switch
            .unwrap_or(false)
            .then(|| "true".to_string()),
        slate: match &c.slate {
            None => TaskSlate::Inherit,
            Some(s) => slate(s)?,
        },
    };
    Ok(spec)
}

/// The patch of a merge-patch request.
pub fn patch_of(p: &TaskPatchIn) -> Result<TaskPatch, Problem> {
    let source = p.source.as_ref().map(source).transpose()?;
    let retry = p.retry.as_ref();
    let start = p.playlist_start.as_ref();
    let (dst_url, extra_dst_urls) =
        match destinations(p.destination.as_deref(), p.destinations.as_deref())? {
            // `destination` alone replaces the first and keeps the others.
            Some((first, _)) if p.destinations.is_none() => (Some(first), None),
            Some((first, extra)) => (Some(first), Some(extra)),
            None => (None, None),
        };
    let patch = TaskPatch {
        name: p.name.clone(),
        region: None,
        source_type: source.as_ref().map(|s| s.0),
        source_protocol: source.as_ref().map(|s| s.1),
        source_urls: source.as_ref().map(|s| s.2.clone()),
        // The source object is replaced as a whole, its failover settings with it.
        failover: source.map(|s| s.3),
        dst_url,
        extra_dst_urls,
        start_time: p
            .start_time
            .as_deref()
            .map(|t| time("start_time", t))
            .transpose()?,
        end_time: p
            .end_time
            .as_deref()
            .map(|t| time("end_time", t))
            .transpose()?,
        callback_url: match &p.callback_url {
            None => None,
            Some(None) => Some(None),
            Some(Some(url)) => Some(callback(Some(url))?),
        },
        repeat_number: repeat(p.repeat)?,
        retry_count: retry_count(retry)?,
        retry_interval: retry_interval(retry)?,
        file_index: file_index(start)?,
        offset: offset(start)?,
        auth_key: None,
        req_auth: None,
        notify_item_switch: p
            .notify_item_switch
            .map(|on| on.then(|| "true".to_string())),
        slate: match &p.slate {
            None => None,
            Some(None) => Some(TaskSlate::Inherit),
            Some(Some(s)) => Some(slate(s)?),
        },
    };
    if patch.is_empty() {
        return Err(Problem::invalid("body", "the patch changes nothing"));
    }
    Ok(patch)
}

fn api(e: ApiError, field: &str) -> Problem {
    match e {
        ApiError::InvalidParameter { reason, .. } => {
            Problem::invalid(field, format!("{field}: {reason}"))
        }
        ApiError::MissingParameter(_) => Problem::invalid(field, format!("{field} is required")),
        other => Problem::from_api(&other),
    }
}

/// A source object: its type, protocol, URLs and failover settings.
type Source = (
    SourceType,
    Option<SourceProtocol>,
    Vec<String>,
    SourceFailover,
);

fn source(s: &SourceIn) -> Result<Source, Problem> {
    let kind = SourceType::from_name(&s.kind)
        .filter(|_| s.kind == s.kind.to_ascii_lowercase())
        .ok_or_else(|| Problem::invalid("source.type", "source.type: one of live, url, vod"))?;
    if s.urls.is_empty() || s.urls.len() > MAX_SOURCES {
        return Err(Problem::invalid(
            "source.urls",
            format!("source.urls: 1 to {MAX_SOURCES} entries"),
        ));
    }
    for u in &s.urls {
        if u.is_empty() || u.chars().count() > MAX_URL {
            return Err(Problem::invalid(
                "source.urls",
                format!("source.urls: each 1 to {MAX_URL} characters"),
            ));
        }
    }
    let protocol = match (kind, s.protocol.as_deref()) {
        (SourceType::Live, Some(p)) => Some(SourceProtocol::from_name(p).ok_or_else(|| {
            Problem::invalid(
                "source.protocol",
                "source.protocol: one of rtmp, http-flv, hls, srt, rtsp",
            )
        })?),
        (SourceType::Live, None) => {
            Some(crate::volc::call::live_protocol(&s.urls[0]).map_err(|e| api(e, "source.urls"))?)
        }
        (_, None) => None,
        (_, Some(_)) => {
            return Err(Problem::invalid(
                "source.protocol",
                "source.protocol applies to live sources only",
            ));
        }
    };
    if kind == SourceType::Live {
        // The source, then its backups, each checked like a dialect's one live URL.
        if s.urls.len() > 1 + MAX_BACKUP_SOURCES {
            return Err(Problem::invalid(
                "source.urls",
                format!("source.urls: a live source and at most {MAX_BACKUP_SOURCES} backups"),
            ));
        }
        for url in &s.urls {
            check_source_urls(kind, protocol, std::slice::from_ref(url))
                .map_err(|e| api(e, "source.urls"))?;
        }
    } else {
        check_source_urls(kind, protocol, &s.urls).map_err(|e| api(e, "source.urls"))?;
    }
    let seconds = |name: &'static str, value: Option<i64>, max: u32| {
        let Some(v) = value else { return Ok(None) };
        if kind != SourceType::Live {
            return Err(Problem::invalid(
                name,
                format!("{name} applies to live sources only"),
            ));
        }
        match u32::try_from(v) {
            Ok(v) if (1..=max).contains(&v) => Ok(Some(v)),
            _ => Err(Problem::invalid(
                name,
                format!("{name}: 1 to {max} seconds"),
            )),
        }
    };
    let failover = SourceFailover {
        after: seconds(
            "source.failover_after_seconds",
            s.failover_after_seconds,
            MAX_FAILOVER_AFTER,
        )?,
        failback_after: seconds(
            "source.failback_after_seconds",
            s.failback_after_seconds,
            MAX_FAILBACK_AFTER,
        )?,
    };
    Ok((kind, protocol, s.urls.clone(), failover))
}

/// A `slate` value: `false` off, `true` on with the operator's (or built-in) settings, or the
/// settings (the domain checks the file and the ranges, naming `slate`).
fn slate(s: &SlateIn) -> Result<TaskSlate, Problem> {
    let seconds = |name: &'static str, value: Option<i64>| match value {
        None => Ok(None),
        Some(v) => u32::try_from(v).map(Some).map_err(|_| {
            Problem::invalid(name, format!("{name}: a number of seconds, at least 1"))
        }),
    };
    Ok(match s {
        SlateIn::Switch(false) => TaskSlate::Off,
        SlateIn::Switch(true) => TaskSlate::On {
            file: None,
            after: None,
            hold: None,
        },
        SlateIn::Settings(s) => TaskSlate::On {
            file: s.file.clone(),
            after: seconds("slate.after_seconds", s.after_seconds)?,
            hold: seconds("slate.hold_seconds", s.hold_seconds)?,
        },
    })
}

/// `destination`, or `destinations` (the first, then the extra ones; the domain bounds their
/// number and refuses one twice): `None` when neither is given.
fn destinations(
    one: Option<&str>,
    many: Option<&[String]>,
) -> Result<Option<(String, Vec<String>)>, Problem> {
    match (one, many) {
        (None, None) => Ok(None),
        (Some(url), None) => Ok(Some((destination("destination", url)?, Vec::new()))),
        (None, Some([first, extra @ ..])) => {
            let first = destination("destinations", first)?;
            let extra = extra
                .iter()
                .map(|url| destination("destinations", url))
                .collect::<Result<_, _>>()?;
            Ok(Some((first, extra)))
        }
        (None, Some([])) => Err(Problem::invalid(
            "destinations",
            "destinations: at least one is required",
        )),
        (Some(_), Some(_)) => Err(Problem::invalid(
            "destinations",
            "destinations: give destination or destinations, not both",
        )),
    }
}

fn destination(field: &str, url: &str) -> Result<String, Problem> {
    if url.chars().count() > MAX_URL {
        return Err(Problem::invalid(field, format!("{field}: too long")));
    }
    check_url(field, url, baton_domain::DESTINATION_SCHEMES).map_err(|e| api(e, field))?;
    Ok(url.to_string())
}

fn callback(url: Option<&str>) -> Result<Option<String>, Problem> {
    let Some(url) = url else { return Ok(None) };
    if url.chars().count() > MAX_URL {
        return Err(Problem::invalid("callback_url", "callback_url: too long"));
    }
    check_url("callback_url", url, &["http", "https"]).map_err(|e| api(e, "callback_url"))?;
    Ok(Some(url.to_string()))
}

fn time(field: &str, v: &str) -> Result<UnixTime, Problem> {
    let t = parse_rfc3339(v).ok_or_else(|| {
        Problem::invalid(
            field,
            format!("{field}: {v:?} is not an RFC 3339 time such as 2026-01-02T03:04:05Z"),
        )
    })?;
    if t < 0 || t > i64::from(u32::MAX) {
        return Err(Problem::invalid(
            field,
            format!("{field}: {v} is out of range (1970-01-01 to 2106-02-07)"),
        ));
    }
    Ok(t)
}

fn ranged(field: &str, v: Option<i64>, min: i64, max: i64) -> Result<Option<i64>, Problem> {
    match v {
        Some(n) if n < min || n > max => Err(Problem::invalid(
            field,
            format!("{field}: {n} is not between {min} and {max}"),
        )),
        other => Ok(other),
    }
}

fn repeat(v: Option<i64>) -> Result<Option<i32>, Problem> {
    Ok(ranged("repeat", v, -1, i64::from(i32::MAX))?.map(|n| n as i32))
}

fn retry_count(r: Option<&RetryIn>) -> Result<Option<u32>, Problem> {
    Ok(ranged("retry.count", r.and_then(|r| r.count), 0, 100)?.map(|n| n as u32))
}

fn retry_interval(r: Option<&RetryIn>) -> Result<Option<u32>, Problem> {
    Ok(ranged(
        "retry.interval_seconds",
        r.and_then(|r| r.interval_seconds),
        60,
        300,
    )?
    .map(|n| n as u32))
}

fn file_index(p: Option<&PlaylistStartIn>) -> Result<Option<u32>, Problem> {
    Ok(ranged(
        "playlist_start.file_index",
        p.and_then(|p| p.file_index),
        0,
        29,
    )?
    .map(|n| n as u32))
}

fn offset(p: Option<&PlaylistStartIn>) -> Result<Option<u32>, Problem> {
    Ok(ranged(
        "playlist_start.offset_seconds",
        p.and_then(|p| p.offset_seconds),
        0,
        i64::from(i32::MAX),
    )?
    .map(|n| n as u32))
}
