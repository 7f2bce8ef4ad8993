//! The Alibaba Cloud ApsaraVideo Live dialect (Version 2016-11-01): the seven pull-to-push
//! actions over POP's RPC style (`/?Action=…`, GET or POST, parameters in the query and in a
//! form body), signed with RPC v1 HMAC-SHA1 or ACS3-HMAC-SHA256, answered in the JSON shapes
//! the official SDK models read.
//!
//! A thin adapter (STYLE.md habit 7): [`action::Call::parse`] turns a request into an
//! exhaustive enum, the handler calls the [`crate::TaskService`], [`dto`] renders the
//! answer, and [`error`] is the only place that knows the provider's codes and statuses.

pub mod action;
pub mod auth;
pub mod dto;
pub mod error;
pub mod fields;
pub mod handler;

pub use action::{Action, Call, VERSION};
