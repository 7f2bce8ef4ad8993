//! Baton's domain: pull-to-push tasks, their lifecycle rules and the ports the rest of the
//! system implements (storage). No I/O, no clock: `now` is passed in.
//!
//! * [`task`]: the model ([`Task`], [`TaskSpec`], [`TaskRuntime`], statuses, reasons and the
//!   [`LastError`]).
//! * [`request`]: what callers ask ([`TaskPatch`], [`ListFilter`], [`Page`]) and why the domain
//!   refuses ([`Rejection`], naming a [`Field`]).
//! * [`validate`]: configuration rules ([`TaskSpec::validate`]) and what this build can run
//!   ([`TaskSpec::supported`]).
//! * [`lifecycle`]: the state machine ([`Task::create`], [`Task::apply`]).
//! * [`event`]: task events ([`CallbackEvent`]): the per-task event log, and callbacks.
//! * [`note`]: what the log records without the task's state changing ([`RelayNote`],
//!   [`Takeover`]) and how their details are bounded and masked.
//! * [`store`]: the storage port ([`TaskStore`]).
//! * [`group`]: task groups ([`TaskGroup`], the [`GroupStore`] port, [`DEFAULT_GROUP`]).
//! * [`text`]: what a name a person reads may not contain.
//! * [`time`]: calendar arithmetic and the providers' time format.
//! * [`ingest`]: forbidden streams ([`Block`], the [`BlockStore`] port) and signed publish URLs
//!   ([`PublishAuth`]).
//! * [`cluster`]: the nodes sharing a database, for operators ([`NodeStatus`], the
//!   [`ClusterStore`] port).
//! * [`replay`]: spent signed API requests ([`ReplayEntry`], the [`ReplayStore`] port).

pub mod cluster;
pub mod event;
pub mod group;
pub mod ingest;
pub mod lease;
pub mod lifecycle;
pub mod note;
pub mod replay;
pub mod request;
pub mod store;
pub mod task;
pub mod text;
pub mod time;
pub mod validate;

pub use cluster::{ClusterStore, NodeStatus};
pub use event::{CallbackEvent, CallbackState, ItemEvent, ItemEventKind};
pub use group::{
    CreateGroup, DEFAULT_GROUP, DeleteGroup, GroupList, GroupStatus, GroupStore, Tag, TaskGroup,
    check_group_name,
};
pub use ingest::{
    AppSelector, AuthError, Block, BlockList, BlockQuery, BlockStore, PathError, PathPart,
    PublishAuth, PutBlock, StreamPath,
};
pub use lease::{Lease, LeaseState, LeaseStore, LeaseTerms, NodeId, NodeInfo};
pub use lifecycle::{Command, Effect, OwnerPlan, Policy, Timer, Transition};
pub use note::{MAX_DETAIL, NoteError, RelayNote, Takeover};
pub use replay::{ReplayAnswer, ReplayEntry, ReplayStore};
pub use request::{Field, ListFilter, Page, Rejection, TaskPatch};
pub use store::{EventRecord, OutboxEntry, Purged, StoreError, StoreFuture, TaskList, TaskStore};
pub use task::{
    AccountId, ErrorSide, ExitReason, InvalidReason, LastError, SourceFailover, SourceProtocol,
    SourceType, Task, TaskId, TaskRuntime, TaskSlate, TaskSpec, TaskStatus, UnixTime,
};
pub use validate::{DESTINATION_SCHEMES, MAX_BACKUP_SOURCES, Unsupported};
