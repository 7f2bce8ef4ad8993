//! The media plane's pure parts: [`Frame`], the output [`timeline`], the GOP cache and the
//! per-subscriber queues used for fan-out. No I/O, no clock: callers pass `now` in.

pub mod frame;

pub use baton_flv::TagType;
pub use frame::Frame;
