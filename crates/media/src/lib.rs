#![warn(missing_docs)]

//! The media plane's pure parts: [`Frame`], the output [`timeline`], codec-configuration
//! bookkeeping ([`config`]), the [`gop`] cache and the per-subscriber [`queue`]s used for
//! fan-out. No I/O, no clock, no locks: the tokio drivers in `baton-net` wrap these and pass
//! time in.

pub mod config;
pub mod frame;
pub mod gop;
pub mod queue;
pub mod timeline;

pub use baton_flv::TagType;
pub use frame::Frame;

#[cfg(test)]
mod testutil;
