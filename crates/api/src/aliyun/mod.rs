//! The Alibaba Cloud ApsaraVideo Live dialect (Version 2016-11-01): the seven pull-to-push
//! actions over POP's RPC style (`/?Action=…`, GET or POST, parameters in the query and in a
//! form body), signed with RPC v1 HMAC-SHA1 or ACS3-HMAC-SHA256, answered in the JSON shapes
//! the official SDK models read.
//!
//! A thin adapter (STYLE.md habit 7): [`action::Call::parse`] turns a request into an
//! exhaustive enum, the handler calls the [`crate::TaskService`], [`dto`] renders the
//! answer, and [`error`] is the only place that knows the provider's codes and statuses.
//!
//! Decisions where the provider's documentation is silent:
//! * Absent required parameters: POP's gateway scheme, `Missing{Name}` / "{Name} is mandatory
//!   for this action." (HTTP 400); a blank value counts as absent. Everything else wrong with a
//!   value is `InvalidParameter` naming the parameter.
//! * Routing before authentication, as the gateway does: an unknown action is 404
//!   `InvalidAction.NotFound`, a wrong version 400 `InvalidVersion`.
//! * `Region` is validated on every action against the configured regions. The list filters
//!   by it; actions on one task find it by id whatever the region (ids are unique). On Update,
//!   a `Region` different from the stored one is a change of region (allowed only before the
//!   start, the domain decides).
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
//! * `HostId` is the request's `Host` unless configured; `Recommend` is empty unless a URL
//!   template is configured (Baton has no troubleshooting site).

pub mod action;
pub mod auth;
pub mod dto;
pub mod error;
pub mod fields;
pub mod handler;

pub use action::{Action, Call, VERSION};
