//! Tasks, events, blocks and groups to and from rows (the SQLite store's codec with PostgreSQL's
//! types: BIGINT read as i64 and range-checked, JSONB as `serde_json::Value`): column lists, binding in column order, decoding
//! with every stored value checked (a row that does not decode is [`StoreError::Corrupt`],
//! never a panic).

use baton_domain::{
    AccountId, Block, CallbackEvent, CallbackState, ErrorSide, EventRecord, ExitReason,
    GroupStatus, InvalidReason, ItemEvent, ItemEventKind, LastError, OutboxEntry, SourceFailover,
    SourceProtocol, SourceType, StoreError, StreamPath, Tag, Task, TaskGroup, TaskId, TaskRuntime,
    TaskSlate, TaskSpec, TaskStatus,
};
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Postgres, Row};

/// A query being bound.
pub(crate) type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// The task columns after `id, account`, in binding order ($3 ... $39).
macro_rules! task_body_columns {
    () => {
        "name, region, source_type, source_protocol, source_urls, dst_url, start_time, \
         end_time, callback_url, repeat_number, retry_count, retry_interval, file_index, \
         file_offset, auth_key, req_auth, notify_item_switch, status, invalid_reason, \
         exit_reason, exit_time, retries, next_retry_at, current_file_index, current_offset, \
         run, event_seq, created_at, updated_at, version, current_loop, group_name, last_error, \
         extra_dst_urls, failover_after, failback_after, slate"
    };
}

/// Every task column, in binding order ($1 ... $39).
macro_rules! task_columns {
    () => {
        concat!("id, account, ", task_body_columns!())
    };
}

/// `$3, ..., $39`: the placeholders of [`task_body_columns`].
macro_rules! task_body_values {
    () => {
        "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, \
         $39"
    };
}

/// The outbox columns of an entry, in binding order ($1 ... $16). `delivered_at` is bound
/// only for new rows: set for an event that is not deliverable (see [`bind_event`]).
macro_rules! event_columns {
    () => {
        "event_id, account, task_id, seq, task_name, url, state, reason, exit_reason, \
         event_time, attempts, next_attempt_at, item, delivered_at, auth_key, detail"
    };
}

/// The block columns, in binding order ($1 ... $6).
macro_rules! block_columns {
    () => {
        "account, domain, app, stream, created_at, resume_at"
    };
}

/// The task group columns, in binding order ($1 ... $7).
macro_rules! group_columns {
    () => {
        "account, name, project, tags, status, created_at, updated_at"
    };
}

pub(crate) use {
    block_columns, event_columns, group_columns, task_body_columns, task_body_values, task_columns,
};

/// Binds every column of `t` in [`task_columns`] order.
pub(crate) fn bind_task<'q>(q: Query<'q>, t: &Task) -> Result<Query<'q>, StoreError> {
    let (s, r) = (&t.spec, &t.runtime);
    let urls = Value::from(s.source_urls.clone());
    let extra_dsts = Value::from(s.extra_dst_urls.clone());
    Ok(q.bind(t.id.0.clone())
        .bind(t.account.0.clone())
        .bind(s.name.clone())
        .bind(s.region.clone())
        .bind(s.source_type.as_str())
        .bind(s.source_protocol.map(SourceProtocol::as_str))
        .bind(urls)
        .bind(s.dst_url.clone())
        .bind(s.start_time)
        .bind(s.end_time)
        .bind(s.callback_url.clone())
        .bind(i64::from(s.repeat_number))
        .bind(i64::from(s.retry_count))
        .bind(i64::from(s.retry_interval))
        .bind(i64::from(s.file_index))
        .bind(i64::from(s.offset))
        .bind(s.auth_key.clone())
        .bind(s.req_auth.clone())
        .bind(s.notify_item_switch.clone())
        .bind(i64::from(r.status.code()))
        .bind(r.invalid_reason.map(InvalidReason::as_str))
        .bind(r.exit_reason.map(ExitReason::as_str))
        .bind(r.exit_time)
        .bind(i64::from(r.retries))
        .bind(r.next_retry_at)
        .bind(i64::from(r.current_file_index))
        .bind(i64::from(r.current_offset))
        .bind(to_i64(r.run, "run")?)
        .bind(to_i64(r.event_seq, "event_seq")?)
        .bind(t.created_at)
        .bind(t.updated_at)
        .bind(to_i64(t.version, "version")?)
        .bind(i64::from(r.current_loop))
        .bind(s.group.clone())
        .bind(r.last_error.as_ref().map(last_error_to_json))
        .bind(extra_dsts)
        .bind(s.failover.after.map(i64::from))
        .bind(s.failover.failback_after.map(i64::from))
        .bind(slate_to_json(&s.slate)))
}

/// Binds an event as a new outbox entry (0 attempts, due at the event's time), in
/// [`event_columns`] order. An event that is not deliverable (no URL: recorded only) is
/// delivered at its own time as it is stored: never due, purged like a delivered one.
pub(crate) fn bind_event<'q>(q: Query<'q>, e: &CallbackEvent) -> Result<Query<'q>, StoreError> {
    Ok(q.bind(e.id.clone())
        .bind(e.account.0.clone())
        .bind(e.task_id.0.clone())
        .bind(to_i64(e.seq, "event seq")?)
        .bind(e.task_name.clone())
        .bind(e.url.clone())
        .bind(e.state.as_str())
        .bind(e.reason.map(InvalidReason::as_str))
        .bind(e.exit_reason.map(ExitReason::as_str))
        .bind(e.time)
        .bind(0_i64)
        .bind(e.time)
        .bind(e.item.as_ref().map(item_to_json))
        .bind((!e.is_deliverable()).then_some(e.time))
        .bind(e.auth_key.clone())
        .bind(e.detail.clone()))
}

/// A task's last error as stored: `{"side","code","message","at"}`.
fn last_error_to_json(e: &LastError) -> Value {
    serde_json::json!({
        "side": e.side.as_str(),
        "code": e.code,
        "message": e.message,
        "at": e.at,
    })
}

fn last_error_from_json(v: &Value) -> Option<LastError> {
    let text_of = |key: &str| Some(v.get(key)?.as_str()?.to_string());
    Some(LastError {
        side: ErrorSide::from_name(v.get("side")?.as_str()?)?,
        code: text_of("code")?,
        message: text_of("message")?,
        at: v.get("at")?.as_i64()?,
    })
}

/// A task's own slate setting as stored: `None` (NULL) for the operator's, `false` for none,
/// `{"file","after","hold"}` for its own.
fn slate_to_json(slate: &TaskSlate) -> Option<Value> {
    match slate {
        TaskSlate::Inherit => None,
        TaskSlate::Off => Some(Value::Bool(false)),
        TaskSlate::On { file, after, hold } => {
            Some(serde_json::json!({"file": file, "after": after, "hold": hold}))
        }
    }
}

fn slate_from_json(v: &Value) -> Option<TaskSlate> {
    slate_from_value(v)
}

fn slate_from_value(v: &serde_json::Value) -> Option<TaskSlate> {
    if v.as_bool() == Some(false) {
        return Some(TaskSlate::Off);
    }
    let object = v.as_object()?;
    let seconds = |key: &str| match object.get(key) {
        None | Some(serde_json::Value::Null) => Some(None),
        Some(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()).map(Some),
    };
    let file = match object.get("file") {
        None | Some(serde_json::Value::Null) => None,
        Some(f) => Some(f.as_str()?.to_owned()),
    };
    Some(TaskSlate::On {
        file,
        after: seconds("after")?,
        hold: seconds("hold")?,
    })
}

/// A playlist item event as stored: `{"kind","file_index","source","detail"}`.
fn item_to_json(item: &ItemEvent) -> Value {
    serde_json::json!({
        "kind": item.kind.as_str(),
        "file_index": item.file_index,
        "source": item.source,
        "detail": item.detail,
    })
}

fn item_from_json(v: &Value) -> Option<ItemEvent> {
    Some(ItemEvent {
        kind: ItemEventKind::from_name(v.get("kind")?.as_str()?)?,
        file_index: u32::try_from(v.get("file_index")?.as_u64()?).ok()?,
        source: v.get("source")?.as_str()?.to_string(),
        detail: match v.get("detail") {
            None | Some(serde_json::Value::Null) => None,
            Some(d) => Some(d.as_str()?.to_string()),
        },
    })
}

/// Decodes a row of [`task_columns`].
pub(crate) fn task_from_row(row: &PgRow) -> Result<Task, StoreError> {
    let id: String = get(row, "id", "?")?;
    let d = Decoder {
        row,
        what: "task",
        id: &id,
    };
    let urls: Value = d.get("source_urls")?;
    let source_urls: Vec<String> = serde_json::from_value(urls)
        .map_err(|e| d.corrupt(format!("source_urls is not a JSON string array: {e}")))?;
    let extra: Value = d.get("extra_dst_urls")?;
    let extra_dst_urls: Vec<String> = serde_json::from_value(extra)
        .map_err(|e| d.corrupt(format!("extra_dst_urls is not a JSON string array: {e}")))?;
    let spec = TaskSpec {
        name: d.get("name")?,
        group: d.get("group_name")?,
        region: d.get("region")?,
        source_type: d.named("source_type", SourceType::from_name)?,
        source_protocol: d.named_opt("source_protocol", SourceProtocol::from_name)?,
        source_urls,
        dst_url: d.get("dst_url")?,
        extra_dst_urls,
        failover: SourceFailover {
            after: d.opt_u32("failover_after")?,
            failback_after: d.opt_u32("failback_after")?,
        },
        slate: match d.get::<Option<Value>>("slate")? {
            None => TaskSlate::Inherit,
            Some(v) => slate_from_json(&v)
                .ok_or_else(|| d.corrupt(format!("slate {v:?} is not a slate setting")))?,
        },
        start_time: d.get("start_time")?,
        end_time: d.get("end_time")?,
        callback_url: d.get("callback_url")?,
        repeat_number: d.int("repeat_number")?,
        retry_count: d.int("retry_count")?,
        retry_interval: d.int("retry_interval")?,
        file_index: d.int("file_index")?,
        offset: d.int("file_offset")?,
        auth_key: d.get("auth_key")?,
        req_auth: d.get("req_auth")?,
        notify_item_switch: d.get("notify_item_switch")?,
    };
    let code: i32 = d.int("status")?;
    let status = TaskStatus::from_code(code)
        .ok_or_else(|| d.corrupt(format!("status {code} is not a task status")))?;
    let runtime = TaskRuntime {
        status,
        invalid_reason: d.named_opt("invalid_reason", InvalidReason::from_name)?,
        exit_reason: d.named_opt("exit_reason", ExitReason::from_name)?,
        exit_time: d.get("exit_time")?,
        retries: d.int("retries")?,
        next_retry_at: d.get("next_retry_at")?,
        current_file_index: d.int("current_file_index")?,
        current_offset: d.int("current_offset")?,
        current_loop: d.int("current_loop")?,
        run: d.int("run")?,
        event_seq: d.int("event_seq")?,
        last_error: match d.get::<Option<Value>>("last_error")? {
            None => None,
            Some(v) => Some(
                last_error_from_json(&v)
                    .ok_or_else(|| d.corrupt(format!("last_error {v} is not a last error")))?,
            ),
        },
    };
    Ok(Task {
        account: AccountId(d.get("account")?),
        spec,
        runtime,
        created_at: d.get("created_at")?,
        updated_at: d.get("updated_at")?,
        version: d.int("version")?,
        id: TaskId(id.clone()),
    })
}

/// Decodes a row of [`event_columns`] as an entry due for delivery.
pub(crate) fn entry_from_row(row: &PgRow) -> Result<OutboxEntry, StoreError> {
    let event = event_from_row(row)?;
    let d = Decoder {
        row,
        what: "event",
        id: &event.id,
    };
    let (attempts, next_attempt_at) = (d.int("attempts")?, d.get("next_attempt_at")?);
    Ok(OutboxEntry {
        event,
        attempts,
        next_attempt_at,
    })
}

/// Decodes a row of [`event_columns`] plus `last_error, given_up` as an entry of a task's
/// event log.
pub(crate) fn record_from_row(row: &PgRow) -> Result<EventRecord, StoreError> {
    let event = event_from_row(row)?;
    let d = Decoder {
        row,
        what: "event",
        id: &event.id,
    };
    let (attempts, delivered_at) = (d.int("attempts")?, d.get("delivered_at")?);
    let (last_error, given_up): (Option<String>, bool) = (d.get("last_error")?, d.get("given_up")?);
    Ok(EventRecord {
        event,
        attempts,
        delivered_at,
        last_error,
        given_up,
    })
}

/// The event of a row of [`event_columns`].
fn event_from_row(row: &PgRow) -> Result<CallbackEvent, StoreError> {
    let id: String = get(row, "event_id", "?")?;
    let d = Decoder {
        row,
        what: "event",
        id: &id,
    };
    let event = CallbackEvent {
        seq: d.int("seq")?,
        account: AccountId(d.get("account")?),
        task_id: TaskId(d.get("task_id")?),
        task_name: d.get("task_name")?,
        url: d.get("url")?,
        state: d.named("state", CallbackState::from_name)?,
        reason: d.named_opt("reason", InvalidReason::from_name)?,
        exit_reason: d.named_opt("exit_reason", ExitReason::from_name)?,
        item: match d.get::<Option<Value>>("item")? {
            None => None,
            Some(v) => Some(
                item_from_json(&v)
                    .ok_or_else(|| d.corrupt(format!("item {v} is not an item event")))?,
            ),
        },
        time: d.get("event_time")?,
        auth_key: d.get("auth_key")?,
        detail: d.get("detail")?,
        id: id.clone(),
    };
    Ok(event)
}

/// Decodes a row of [`block_columns`].
pub(crate) fn block_from_row(row: &PgRow) -> Result<Block, StoreError> {
    let path = path_from_row(row)?;
    let id = path.to_string();
    let d = Decoder {
        row,
        what: "block",
        id: &id,
    };
    Ok(Block {
        account: AccountId(d.get("account")?),
        created_at: d.get("created_at")?,
        resume_at: d.get("resume_at")?,
        path,
    })
}

/// Decodes the `domain, app, stream` columns of a block row.
pub(crate) fn path_from_row(row: &PgRow) -> Result<StreamPath, StoreError> {
    let domain: String = get(row, "domain", "?")?;
    let app: String = get(row, "app", &domain)?;
    let stream: String = get(row, "stream", &format!("{domain}/{app}"))?;
    Ok(StreamPath {
        domain,
        app,
        stream,
    })
}

/// Binds every column of `g` in [`group_columns`] order.
pub(crate) fn bind_group<'q>(q: Query<'q>, g: &TaskGroup) -> Query<'q> {
    q.bind(g.account.0.clone())
        .bind(g.name.clone())
        .bind(g.project.clone())
        .bind(tags_to_json(&g.tags))
        .bind(i64::from(g.status.code()))
        .bind(g.created_at)
        .bind(g.updated_at)
}

/// Tags as stored: `[{"category","key","value"}, ...]`, in order.
pub(crate) fn tags_to_json(tags: &[Tag]) -> Value {
    serde_json::Value::Array(
        tags.iter()
            .map(|t| {
                serde_json::json!({
                    "category": t.category,
                    "key": t.key,
                    "value": t.value,
                })
            })
            .collect(),
    )
}

fn tags_from_json(v: &Value) -> Option<Vec<Tag>> {
    let text_of = |tag: &Value, key: &str| Some(tag.get(key)?.as_str()?.to_string());
    v.as_array()?
        .iter()
        .map(|tag| {
            Some(Tag {
                category: text_of(tag, "category")?,
                key: text_of(tag, "key")?,
                value: text_of(tag, "value")?,
            })
        })
        .collect()
}

/// Decodes a row of [`group_columns`].
pub(crate) fn group_from_row(row: &PgRow) -> Result<TaskGroup, StoreError> {
    let name: String = get(row, "name", "?")?;
    let d = Decoder {
        row,
        what: "group",
        id: &name,
    };
    let tags: Value = d.get("tags")?;
    let code: i32 = d.int("status")?;
    Ok(TaskGroup {
        account: AccountId(d.get("account")?),
        project: d.get("project")?,
        tags: tags_from_json(&tags)
            .ok_or_else(|| d.corrupt(format!("tags {tags} are not a JSON array of tags")))?,
        status: GroupStatus::from_code(code)
            .ok_or_else(|| d.corrupt(format!("status {code} is not a group status")))?,
        created_at: d.get("created_at")?,
        updated_at: d.get("updated_at")?,
        name: name.clone(),
    })
}

/// A counter as PostgreSQL's BIGINT (i64): larger values cannot be stored.
pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(format!("{what} {v} exceeds i64::MAX")))
}

fn get<'r, T>(row: &'r PgRow, column: &str, id: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column).map_err(|e| StoreError::Corrupt {
        what: "row",
        id: id.to_owned(),
        reason: format!("column {column}: {e}"),
    })
}

/// Reads the columns of one row, naming the row in errors.
struct Decoder<'r> {
    row: &'r PgRow,
    what: &'static str,
    id: &'r str,
}

impl<'r> Decoder<'r> {
    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            what: self.what,
            id: self.id.to_owned(),
            reason,
        }
    }

    fn get<T>(&self, column: &str) -> Result<T, StoreError>
    where
        T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        self.row
            .try_get(column)
            .map_err(|e| self.corrupt(format!("column {column}: {e}")))
    }

    /// An integer column into an unsigned field, range-checked.
    fn int<T: TryFrom<i64>>(&self, column: &str) -> Result<T, StoreError> {
        let v: i64 = self.get(column)?;
        T::try_from(v).map_err(|_| self.corrupt(format!("{column} {v} is out of range")))
    }

    /// A nullable integer column into an optional unsigned field, range-checked.
    fn opt_u32(&self, column: &str) -> Result<Option<u32>, StoreError> {
        let v: Option<i64> = self.get(column)?;
        v.map(|v| {
            u32::try_from(v).map_err(|_| self.corrupt(format!("{column} {v} is out of range")))
        })
        .transpose()
    }

    fn named<T>(&self, column: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
        let name: String = self.get(column)?;
        parse(&name).ok_or_else(|| self.corrupt(format!("{column} `{name}` is unknown")))
    }

    fn named_opt<T>(
        &self,
        column: &str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<Option<T>, StoreError> {
        let name: Option<String> = self.get(column)?;
        name.map(|n| parse(&n).ok_or_else(|| self.corrupt(format!("{column} `{n}` is unknown"))))
            .transpose()
    }
}
