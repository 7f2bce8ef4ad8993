// BATON: upstream 0.4.4 warns under current rustc (dead code behind its unused URI parser,
// elided lifetimes) and is not linted by Baton's gates; silence it at the root.
#![allow(dead_code, mismatched_lifetime_syntaxes, clippy::all)]
pub mod access;
pub mod connection;
pub mod listener;
pub mod options;
pub mod packet;
pub mod protocol;
pub mod settings;
pub mod statistics;
