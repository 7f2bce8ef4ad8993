//! Baton's domain: pull-to-push tasks, their lifecycle rules and the ports the rest of the
//! system implements (storage). No I/O, no clock: `now` is passed in.

pub mod request;
pub mod task;

pub use request::{Field, ListFilter, Page, Rejection, TaskPatch};
pub use task::{
    AccountId, ExitReason, InvalidReason, SourceProtocol, SourceType, Task, TaskId, TaskRuntime,
    TaskSpec, TaskStatus, UnixTime,
};
