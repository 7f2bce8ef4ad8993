//! Replay protection's storage port: signed API requests that were spent, and (for a dialect
//! whose signature has no nonce) the answer each got.
//!
//! A signed request is valid while its signed time is within a window of the server's clock,
//! so what makes it unique (its key and nonce, or its whole signature) must be remembered until
//! `signed time + window`; after that the time check alone refuses it. The API keeps the live
//! set in memory and writes every entry here *before* the request it authorizes executes, so
//! neither a restart nor `kill -9` re-opens a captured request; at start it loads the entries
//! that have not expired.
//!
//! Entries are fixed-size: the API hashes the access key and the nonce (or signature) into two
//! 64-bit values, so what a client sends never sizes a row. An entry's identity is
//! `(expires_at, key, digest)`: a captured request carries its signed time, so its replay has
//! the same identity on every node — a store shared by several nodes (PostgreSQL) refuses it on
//! all of them ([`ReplayStore::record`] returns `false`).
//!
//! Implementations: `baton-store-sqlite` (its own database file, so these writes do not take
//! the task database's write lock); the conformance suite (`replay_conformance_tests!`) checks
//! every implementation, through two handles on one database as two nodes would.

use std::fmt;

use crate::store::StoreFuture;
use crate::task::UnixTime;

/// One spent signed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplayEntry {
    /// The last second (server clock) at which the request is acceptable: its signed time plus
    /// the window. The entry is live while `now <= expires_at`; after that the time check alone
    /// refuses the request. Ordered first, so the oldest entries are contiguous (purge, paging).
    pub expires_at: UnixTime,
    /// A 64-bit digest of the access key id: whose share the entry counts against.
    pub key: u64,
    /// A 64-bit digest of what makes the request unique (access key id and nonce, or the
    /// whole signature), domain-separated by dialect.
    pub digest: u64,
}

/// The answer a spent request got, kept so that an identical re-send gets it again without
/// being executed again: the HTTP status and the body bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl fmt::Debug for ReplayAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayAnswer")
            .field("status", &self.status)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// Durable storage of spent signed requests.
pub trait ReplayStore: Send + Sync + fmt::Debug {
    /// In one transaction, durable when the future resolves: records each of `spent` unless an
    /// entry with its identity is recorded already (through this handle or another on the same
    /// database, and not purged), and sets the answer of each of `answers` (of entries recorded
    /// before or in this call; an answer of an unknown entry is ignored). Returns, for each of
    /// `spent` in order, whether this call recorded it (`false`: a replay). An entry given
    /// twice in one call is recorded by its first occurrence.
    fn record<'a>(
        &'a self,
        spent: &'a [ReplayEntry],
        answers: &'a [(ReplayEntry, ReplayAnswer)],
    ) -> StoreFuture<'a, Vec<bool>>;

    /// The recorded answer of `entry`: `None` when the entry is unknown or has no answer yet
    /// (its request was still executing, or the server stopped before it answered).
    fn answer<'a>(&'a self, entry: &'a ReplayEntry) -> StoreFuture<'a, Option<ReplayAnswer>>;

    /// Up to `limit` recorded entries live at `now` (`expires_at >= now`), in entry order
    /// (expires_at, key, digest), strictly after `after` when given: keyset pages of the live
    /// set, loaded at start.
    fn unexpired<'a>(
        &'a self,
        now: UnixTime,
        after: Option<ReplayEntry>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<ReplayEntry>>;

    /// Deletes the entries (and answers) no longer live at `now` (`expires_at < now`); returns
    /// how many.
    fn purge_replay(&self, now: UnixTime) -> StoreFuture<'_, u64>;
}
