//! The Alibaba Cloud ApsaraVideo Live dialect (Version 2016-11-01): the seven pull-to-push
//! actions, the three ingest-control actions (ForbidLiveStream, ResumeLiveStream,
//! DescribeLiveStreamsBlockList) and DescribeLiveStreamsOnlineList over POP's RPC style (`/?Action=…`, GET or POST, parameters
//! in the query and in a form body), signed with RPC v1 HMAC-SHA1 or ACS3-HMAC-SHA256,
//! answered in the JSON shapes the official SDK models read.
//!
//! A thin adapter (STYLE.md habit 7): [`action::Call::parse`] turns a request into an
//! exhaustive enum, the handler calls the [`crate::TaskService`] or the
//! [`crate::StreamService`], [`dto`] renders the answer, and [`error`] is the only place that
//! knows the provider's codes and statuses.
//!
//! Decisions where the provider's documentation is silent:
//! * Absent required parameters: POP's gateway scheme, `Missing{Name}` / "{Name} is mandatory
//!   for this action." (HTTP 400); a blank value counts as absent. Everything else wrong with a
//!   value is `InvalidParameter` naming the parameter.
//! * Routing before authentication, as the gateway does: an unknown action is 404
//!   `InvalidAction.NotFound`, a wrong version 400 `InvalidVersion`.
//! * `Region` is validated on every action against the configured regions. It names the live
//!   center the request goes to, and a task belongs to its region: the list filters by it,
//!   and Describe, Stop, Restart, Delete and Update of a task in another region answer
//!   `CodeTaskNotExist` (a task created through Volcengine or the native API has no region
//!   and is in every one). Update reconciles this with seed 003 ("The Region can be updated
//!   only before the task's scheduled start time … If a task is stopped, you can update all
//!   parameters except for Region"): for a task that has not started (status 0) a different
//!   `Region` moves it there; for one that has, the request went to a region the task is not
//!   in, so it is not found there — never `CodeTaskHasStarted`, which would tell a caller
//!   of another region that the task exists.
//! * `RepeatTime` is accepted as another name of `RepeatNumber` (the Update reference's own
//!   spelling); both given with different values is `InvalidParameter`.
//! * `ReqAuth` (`yes` / `no`) and `AuthKey` mean what `NotifyReqAuth` / `NotifyAuthKey` mean
//!   for the provider's other callbacks: with `yes`, the task's callbacks carry
//!   `ALI-LIVE-TIMESTAMP` and `ALI-LIVE-SIGNATURE` (see `baton_engine::webhook`).
//! * Update accepts every Create field (the newest reference: "all parameters except Region"
//!   while stopped); which ones the task's state allows is the domain's call. A blank
//!   `CallbackUrl` / `AuthKey` / `ReqAuth` / `NotifyItemSwitch` clears it.
//! * `SourceUrls` must be a JSON array of strings; `SourceUrls.N` (1–30, no gaps) is
//!   tolerated; both at once is refused. `SourceProtocol` is case-insensitive and answered as
//!   stored (lower case); it is ignored for `vod` / `url` sources.
//! * Restart before the start time (domain `NotStartedYet`) answers
//!   `InvalidParam.CodeIllegalDuration`: the only time-related code in Restart's reference.
//!   A task that exited at its end time (kept describable for a while) answers
//!   `CodeTaskHasStopped` to Stop, Restart and Update.
//! * `Throttling.User` carries `x-acs-retry-after` (milliseconds), which the new SDK turns
//!   into a `ThrottlingException` its retry policy can wait on.
//! * Only JSON answers (`Format=XML` is refused with `InvalidParameter`); a body must be a
//!   form; a parameter name may occur once across query and body.
//! * Throttling is per account and action at the provider's rates: 10/s for the task actions,
//!   Forbid 20, Resume 30, BlockList 50, OnlineList 166 (its 10,000 a minute; configurable,
//!   [`crate::ApiConfig::action_limits`]).
//! * Ingest control: `LiveStreamType` must be exactly `publisher` and `Oneshot` exactly `yes`
//!   or `no` (default `no`); a `ResumeTime` not after now is `InvalidParameter`. Names are
//!   checked by the domain's rules (`check_domain`, `check_part`: 1–255 bytes, no `/`, `?`,
//!   `#`, whitespace or control characters); `AppName=*` means every app in Resume only.
//!   Domains are case-insensitive and answered lower-case (BlockList's `DomainName`).
//! * A domain that is not the caller's is 400 `InvalidDomain.NotFound` ("The domain provided
//!   does not belong to you."); a Forbid beyond the account's block quota is 400
//!   `QuotaExceeded.BlockList`, naming the limit.
//! * Resource-level authorization: the ingest actions (and OnlineList) act on
//!   `acs:cdn:*:{account}:domain/{DomainName}`, checked against the key's resource patterns
//!   after the parameters are valid and before the service is called (a key restricted to
//!   other domains gets 403 `Forbidden.RAM` naming action and resource, never a hint whether
//!   the domain exists). The task actions have no resource-level authorization.
//! * DescribeLiveStreamsOnlineList lists the domain's streams with a publisher now, ordered by
//!   AppName then StreamName, paged (PageSize 1–3000, default 2000). `StreamType=trans` finds
//!   none (Baton transcodes nothing; `Transcoded` is `no`); `QueryType` defaults to `fuzzy`
//!   (StreamName a substring); `OrderBy`, which the reference does not define, is refused.
//!   `VideoDataRate` / `AudioDataRate` are bits per second over the last 1–2 s (the reference
//!   names no unit), `FrameRate` the measured video rate rounded; `VideoCodecId` /
//!   `AudioCodecId` are the FLV CodecID / SoundFormat (7 H.264, 12 H.265, 10 AAC...), left
//!   out for codecs that have none, as are `Width`/`Height` without a parsed sequence header.
//!   `PublishType` is `edge` (the publisher reaches this server directly); `ServerIp` is never
//!   sent (the API does not know which local address a publisher reached).
//! * `HostId` is the request's `Host` unless configured; `Recommend` is empty unless a URL
//!   template is configured (Baton has no troubleshooting site).

pub mod action;
pub mod auth;
pub mod dto;
pub mod error;
pub mod fields;
pub mod handler;

pub use action::{Action, Call, VERSION};
