//! The Volcengine Live dialect (Version 2023-01-01): the pull-to-push task and group actions
//! (seed 001's RestartPullToPushTask among them) and ingest control (ForbidStream,
//! ResumeStream, KillStream, DescribeForbiddenStreamInfoByPage), `Action` and `Version` in
//! the query, JSON bodies, HMAC-SHA256 signatures, answers in
//! `{ResponseMetadata, Result}` — so the official `volcengine` SDK works unchanged.
//!
//! The same accounts, keys, policies (`live:<Action>`), per-account-and-action throttling
//! (10/s by default, configurable by action name), time window and resource authorization
//! as the Alibaba dialect; one task model underneath, so a task created through one dialect
//! is listed, stopped and deleted through the other.
//!
//! Decisions where the provider is silent:
//! * Status literals: 未开始 (not started), 生效中 (running, including while recovering),
//!   停用 (stopped by the API, by retries exhausted or by a finished playlist), 已结束 (ended).
//! * Stop stops not-started and running tasks; Continue and the deprecated Restart enable a
//!   stopped task where its playlist stopped; Relaunch enables it from its first item.
//!   Wrong-state calls answer `InvalidParam.TaskStatus` (400) naming the status.
//! * `GroupName` on a task operation must be the task's group, else `ResourceNotFound`.
//!   Deleting a group with tasks that have not ended is `InvalidParam.GroupNotEmpty`;
//!   deleted groups are kept and listed with `Status` 1.
//! * Tasks created here have no region and are listed in every Alibaba region; Alibaba tasks
//!   are in the group `default`.
//! * Replay: the signature has no nonce, so every state-changing request's signature is
//!   remembered (durably, with the answer it got) until its X-Date leaves the 15-minute
//!   window; an identical re-send gets that first answer without running again (see
//!   [`Action::replay_protected`]): a replay can neither duplicate a task nor undo a later
//!   change, and an honest retry of the same bytes gets its answer. The lists may repeat.
//! * `Vhost` and `Domain` both name a Baton ingest domain (Baton's vhosts are its domains).
//!   ForbidStream's EndTime is at most 90 days ahead (default 90 days); KillStream
//!   disconnects without forbidding. `RoughCount` is exact.

pub mod action;
pub mod call;
pub mod dto;
pub mod error;
pub mod handler;
pub mod input;

pub use action::{Action, VERSION};
