//! Ingest control: forbidden streams and signed publish URLs (seed 002; cloud-apis.md §2.8).
//!
//! * A [`Block`] forbids publishing one stream (`domain/app/stream`) of one account until its
//!   `resume_at`. At most [`MAX_BLOCKS_PER_ACCOUNT`] are active per account; without a
//!   ResumeTime a block lasts [`default_resume_at`] (6 calendar months).
//! * [`BlockStore`] is the storage port; every task store implements it too, and the store
//!   conformance suite checks both.
//! * [`PublishAuth`]: the provider's "type A" signed URLs,
//!   `auth_key={timestamp}-{rand}-{uid}-{md5hash}` with
//!   `md5hash = md5("/{app}/{stream}-{timestamp}-{rand}-{uid}-{key}")`, valid until
//!   `timestamp + validity`.

use std::fmt;

use md5::{Digest, Md5};

use crate::request::Page;
use crate::store::StoreFuture;
use crate::task::{AccountId, UnixTime};

/// Active blocks one account may have (the provider's hard quota).
pub const MAX_BLOCKS_PER_ACCOUNT: u64 = 10_000;

/// Longest domain, app or stream name accepted.
pub const MAX_PATH_PART_LEN: usize = 255;

/// A stream of the ingest: `domain/app/stream`, the domain lower-case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamPath {
    pub domain: String,
    pub app: String,
    pub stream: String,
}

impl StreamPath {
    /// A path from its parts; the domain is lower-cased (DNS names are case-insensitive).
    pub fn new(
        domain: impl Into<String>,
        app: impl Into<String>,
        stream: impl Into<String>,
    ) -> StreamPath {
        StreamPath {
            domain: domain.into().to_ascii_lowercase(),
            app: app.into(),
            stream: stream.into(),
        }
    }

    /// Checks each part: 1–255 characters, no `/`, `?`, whitespace or control characters
    /// (the app may not be `*`, which means "every app" only in ResumeLiveStream).
    pub fn validate(&self) -> Result<(), PathError> {
        check_domain(&self.domain)?;
        check_part(PathPart::App, &self.app)?;
        check_part(PathPart::Stream, &self.stream)
    }
}

impl fmt::Display for StreamPath {
    /// `domain/app/stream`, as DescribeLiveStreamsBlockList lists it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.domain, self.app, self.stream)
    }
}

/// Which part of a stream path is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathPart {
    Domain,
    App,
    Stream,
}

impl PathPart {
    /// The provider's parameter name.
    pub fn param(self) -> &'static str {
        match self {
            PathPart::Domain => "DomainName",
            PathPart::App => "AppName",
            PathPart::Stream => "StreamName",
        }
    }
}

/// A malformed domain, app or stream name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} {reason}", part.param())]
pub struct PathError {
    pub part: PathPart,
    pub reason: &'static str,
}

/// Checks an ingest domain: a host name or IP literal (letters, digits, `-`, `.`, `_`, and
/// `:` / `[` `]` for IPv6), 1–255 characters.
pub fn check_domain(domain: &str) -> Result<(), PathError> {
    let err = |reason| PathError {
        part: PathPart::Domain,
        reason,
    };
    if domain.is_empty() {
        return Err(err("is empty"));
    }
    if domain.len() > MAX_PATH_PART_LEN {
        return Err(err("is longer than 255 characters"));
    }
    if !domain
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'[' | b']'))
    {
        return Err(err("is not a host name"));
    }
    Ok(())
}

/// Checks an app or stream name: 1–255 characters, none of `/`, `?`, `#`, whitespace or
/// control characters, and not `*`.
pub fn check_part(part: PathPart, value: &str) -> Result<(), PathError> {
    let err = |reason| PathError { part, reason };
    if value.is_empty() {
        return Err(err("is empty"));
    }
    if value.len() > MAX_PATH_PART_LEN {
        return Err(err("is longer than 255 characters"));
    }
    if value == "*" {
        return Err(err("may not be `*` here"));
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#'))
    {
        return Err(err(
            "contains `/`, `?`, `#`, whitespace or a control character",
        ));
    }
    Ok(())
}

/// One forbidden stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub account: AccountId,
    pub path: StreamPath,
    /// When it was (last) forbidden.
    pub created_at: UnixTime,
    /// When publishing is allowed again; the block is inactive from this second on.
    pub resume_at: UnixTime,
}

impl Block {
    /// Whether the block forbids publishing at `now`.
    pub fn is_active(&self, now: UnixTime) -> bool {
        now < self.resume_at
    }
}

/// The apps a resume applies to: one, or every app of the domain (`AppName=*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppSelector {
    All,
    Named(String),
}

impl AppSelector {
    /// `*` → every app; anything else names one.
    pub fn parse(app: &str) -> AppSelector {
        if app == "*" {
            AppSelector::All
        } else {
            AppSelector::Named(app.to_string())
        }
    }

    pub fn matches(&self, app: &str) -> bool {
        match self {
            AppSelector::All => true,
            AppSelector::Named(name) => name == app,
        }
    }
}

/// What [`BlockStore::put_block`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutBlock {
    /// A new block (the account had fewer than the limit).
    Added,
    /// The stream was blocked already (active or expired): its times were replaced.
    Replaced,
    /// Not stored: the account has `limit` active blocks.
    QuotaExceeded,
}

/// One page of an account's active blocks (of one domain, or matching a [`BlockQuery`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockList {
    pub blocks: Vec<Block>,
    /// Active blocks matching in all pages.
    pub total: u64,
}

/// A search of an account's active blocks ([`BlockStore::search_blocks`]; Volcengine
/// DescribeForbiddenStreamInfoByPage). `None` parts match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockQuery {
    /// Exact (blocks keep their domain lower-case: a caller lower-cases it first).
    pub domain: Option<String>,
    /// Exact.
    pub app: Option<String>,
    /// Exact, or a substring when `fuzzy`.
    pub stream: Option<String>,
    /// `stream` is matched as an ASCII case-insensitive substring instead of exactly; `%` and
    /// `_` in it are literal characters, not wildcards.
    pub fuzzy: bool,
    /// Order by `resume_at` descending (the block that ends last first) instead of ascending.
    pub newest_end_first: bool,
}

impl BlockQuery {
    /// Whether `block` matches the query's domain, app and stream (whether it is active is the
    /// caller's other condition). The port's rule, for in-memory stores.
    pub fn matches(&self, block: &Block) -> bool {
        let p = &block.path;
        let stream = self.stream.as_deref().is_none_or(|s| {
            if self.fuzzy {
                p.stream
                    .to_ascii_lowercase()
                    .contains(&s.to_ascii_lowercase())
            } else {
                p.stream == s
            }
        });
        self.domain.as_deref().is_none_or(|d| p.domain == d)
            && self.app.as_deref().is_none_or(|a| p.app == a)
            && stream
    }

    /// The search's order: by end time (newest first when asked), then by path. The port's
    /// rule, for in-memory stores.
    pub fn order(&self, a: &Block, b: &Block) -> std::cmp::Ordering {
        let by_end = if self.newest_end_first {
            b.resume_at.cmp(&a.resume_at)
        } else {
            a.resume_at.cmp(&b.resume_at)
        };
        by_end.then_with(|| a.path.cmp(&b.path))
    }
}

/// Durable storage of blocks. Writes are committed when the future resolves.
pub trait BlockStore: Send + Sync + fmt::Debug {
    /// Stores `block`, replacing the same account's block of the same path. A new block is
    /// refused ([`PutBlock::QuotaExceeded`]) when the account already has `limit` blocks
    /// active at `block.created_at`; replacing one never is. Count and write are atomic.
    fn put_block<'a>(&'a self, block: &'a Block, limit: u64) -> StoreFuture<'a, PutBlock>;

    /// Removes the account's blocks of `stream` on `domain` in the selected apps (active or
    /// expired); returns the paths removed, sorted.
    fn remove_blocks<'a>(
        &'a self,
        account: &'a AccountId,
        domain: &'a str,
        app: &'a AppSelector,
        stream: &'a str,
    ) -> StoreFuture<'a, Vec<StreamPath>>;

    /// One page of the account's blocks on `domain` active at `now`, ordered by app then
    /// stream, and how many there are in all.
    fn list_blocks<'a>(
        &'a self,
        account: &'a AccountId,
        domain: &'a str,
        now: UnixTime,
        page: Page,
    ) -> StoreFuture<'a, BlockList>;

    /// One page of the account's blocks active at `now` that match `query` (see
    /// [`BlockQuery`]), ordered by `resume_at` (ascending, or descending with
    /// `newest_end_first`), ties by domain, app, stream (byte order); and how many match in
    /// all.
    fn search_blocks<'a>(
        &'a self,
        account: &'a AccountId,
        query: &'a BlockQuery,
        now: UnixTime,
        page: Page,
    ) -> StoreFuture<'a, BlockList>;

    /// Every block of every account active at `now` (the ingest's index after a start),
    /// ordered by path.
    fn active_blocks(&self, now: UnixTime) -> StoreFuture<'_, Vec<Block>>;

    /// Deletes blocks whose `resume_at` is at or before `now`; returns how many.
    fn purge_expired_blocks(&self, now: UnixTime) -> StoreFuture<'_, u64>;

    /// Tells the other nodes sharing this store to disconnect the publisher of `path` if they
    /// hold it (a one-shot kick: nothing is stored, so it cannot be polled for). A store of one
    /// node has nobody to tell: the default does nothing.
    fn announce_kick<'a>(&'a self, path: &'a StreamPath) -> StoreFuture<'a, ()> {
        let _ = path;
        Box::pin(async { Ok(()) })
    }
}

/// When a block without ResumeTime ends: 6 calendar months after `now` (the same time of
/// day; the last day of the month when the day does not exist, e.g. Aug 31 → Feb 28/29).
pub fn default_resume_at(now: UnixTime) -> UnixTime {
    crate::time::add_months(now, 6)
}

// --------------------------------------------------------------------------------------------
// Signed publish URLs ("type A")

/// A domain's publish authentication: a primary key, optionally a secondary one (both are
/// accepted, for a smooth key rotation), and how long a signature stays valid after its
/// timestamp.
#[derive(Clone, PartialEq, Eq)]
pub struct PublishAuth {
    pub primary_key: String,
    pub secondary_key: Option<String>,
    /// Seconds a URL is valid after its timestamp.
    pub validity: u64,
}

impl fmt::Debug for PublishAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishAuth")
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

/// Why a publish URL's signature was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the stream URL has no auth_key")]
    Missing,
    #[error("auth_key is not timestamp-rand-uid-md5hash")]
    Malformed,
    #[error("auth_key expired")]
    Expired,
    #[error("auth_key signature does not match")]
    BadSignature,
}

impl PublishAuth {
    /// The default validity of a signed URL: 30 minutes (the provider's default).
    pub const DEFAULT_VALIDITY: u64 = 1800;

    /// The `auth_key` value for publishing `/{app}/{stream}` with `timestamp`, `rand` and
    /// `uid`, signed with the primary key.
    pub fn sign(
        &self,
        app: &str,
        stream: &str,
        timestamp: UnixTime,
        rand: &str,
        uid: &str,
    ) -> String {
        let hash = md5_hex(app, stream, timestamp, rand, uid, &self.primary_key);
        format!("{timestamp}-{rand}-{uid}-{hash}")
    }

    /// Checks `auth_key` (None: the URL had none) for `/{app}/{stream}` at `now`.
    pub fn verify(
        &self,
        app: &str,
        stream: &str,
        auth_key: Option<&str>,
        now: UnixTime,
    ) -> Result<(), AuthError> {
        let auth_key = auth_key.ok_or(AuthError::Missing)?;
        let mut parts = auth_key.splitn(4, '-');
        let (Some(ts), Some(rand), Some(uid), Some(hash)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        if ts.is_empty() || ts.len() > 12 || !ts.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AuthError::Malformed);
        }
        if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AuthError::Malformed);
        }
        let timestamp: UnixTime = ts.parse().map_err(|_| AuthError::Malformed)?;
        let expires =
            timestamp.saturating_add(UnixTime::try_from(self.validity).unwrap_or(UnixTime::MAX));
        let keys = std::iter::once(&self.primary_key).chain(self.secondary_key.as_ref());
        let mut matched = false;
        for key in keys {
            let expected = md5_hex(app, stream, timestamp, rand, uid, key);
            matched |= constant_time_eq(expected.as_bytes(), hash.to_ascii_lowercase().as_bytes());
        }
        if !matched {
            return Err(AuthError::BadSignature);
        }
        if now >= expires {
            return Err(AuthError::Expired);
        }
        Ok(())
    }
}

fn md5_hex(
    app: &str,
    stream: &str,
    timestamp: UnixTime,
    rand: &str,
    uid: &str,
    key: &str,
) -> String {
    let digest = Md5::digest(format!("/{app}/{stream}-{timestamp}-{rand}-{uid}-{key}").as_bytes());
    let mut out = String::with_capacity(32);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_validate() {
        assert!(
            StreamPath::new("Live.Example.COM", "live", "s")
                .validate()
                .is_ok()
        );
        assert_eq!(
            StreamPath::new("Live.Example.COM", "a", "b").domain,
            "live.example.com"
        );
        assert!(StreamPath::new("[::1]", "live", "s").validate().is_ok());
        let bad = [
            ("", "live", "s", PathPart::Domain),
            ("a b", "live", "s", PathPart::Domain),
            ("d", "", "s", PathPart::App),
            ("d", "*", "s", PathPart::App),
            ("d", "a/b", "s", PathPart::App),
            ("d", "live", "s?x", PathPart::Stream),
            ("d", "live", "s\n", PathPart::Stream),
        ];
        for (d, a, s, part) in bad {
            assert_eq!(
                StreamPath::new(d, a, s).validate().unwrap_err().part,
                part,
                "{d}/{a}/{s}"
            );
        }
        let long = "x".repeat(256);
        assert!(StreamPath::new("d", "live", long).validate().is_err());
        assert_eq!(StreamPath::new("d", "live", "s").to_string(), "d/live/s");
    }

    #[test]
    fn block_queries_match() {
        let b = Block {
            account: AccountId("a".into()),
            path: StreamPath::new("d.example", "live", "Show_100%"),
            created_at: 0,
            resume_at: 10,
        };
        let q = |f: fn(&mut BlockQuery)| {
            let mut q = BlockQuery::default();
            f(&mut q);
            q.matches(&b)
        };
        assert!(q(|_| {}));
        assert!(q(|q| q.domain = Some("d.example".into())));
        assert!(!q(|q| q.domain = Some("D.example".into())));
        assert!(q(|q| q.app = Some("live".into())));
        assert!(!q(|q| q.app = Some("Live".into())));
        assert!(q(|q| q.stream = Some("Show_100%".into())));
        assert!(!q(|q| q.stream = Some("show_100%".into())));
        assert!(!q(|q| q.stream = Some("Show".into())));
        assert!(q(|q| {
            q.stream = Some("SHOW_1".into());
            q.fuzzy = true;
        }));
        assert!(q(|q| {
            q.stream = Some("0%".into());
            q.fuzzy = true;
        }));
        assert!(!q(|q| {
            q.stream = Some("w%1".into());
            q.fuzzy = true;
        }));
    }

    #[test]
    fn app_selector() {
        assert!(AppSelector::parse("*").matches("anything"));
        assert!(AppSelector::parse("live").matches("live"));
        assert!(!AppSelector::parse("live").matches("other"));
    }

    fn auth() -> PublishAuth {
        PublishAuth {
            primary_key: "primary-key".into(),
            secondary_key: Some("secondary-key".into()),
            validity: 1800,
        }
    }

    #[test]
    fn type_a_vector() {
        // md5("/live/s-1700000000-0-0-primary-key"), computed independently with coreutils.
        let key = auth().sign("live", "s", 1_700_000_000, "0", "0");
        assert_eq!(key, "1700000000-0-0-d4ad0f069eba74524966efa2d6afacfa");
    }

    #[test]
    fn type_a_verify() {
        let a = auth();
        let now = 1_700_000_000;
        let key = a.sign("live", "s", now, "477b3bbc253f467b8def6711128c7abc", "0");
        assert_eq!(a.verify("live", "s", Some(&key), now), Ok(()));
        assert_eq!(a.verify("live", "s", Some(&key), now + 1799), Ok(()));
        assert_eq!(
            a.verify("live", "s", Some(&key), now + 1800),
            Err(AuthError::Expired)
        );
        assert_eq!(
            a.verify("live", "t", Some(&key), now),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            a.verify("app", "s", Some(&key), now),
            Err(AuthError::BadSignature)
        );
        assert_eq!(a.verify("live", "s", None, now), Err(AuthError::Missing));
        let (head, hash) = key.rsplit_once('-').unwrap();
        let upper = format!("{head}-{}", hash.to_ascii_uppercase());
        assert_eq!(a.verify("live", "s", Some(&upper), now), Ok(()));
        // The secondary key is accepted too; any other is not.
        let b = PublishAuth {
            primary_key: "secondary-key".into(),
            ..a.clone()
        };
        let key2 = b.sign("live", "s", now, "0", "0");
        assert_eq!(a.verify("live", "s", Some(&key2), now), Ok(()));
        let c = PublishAuth {
            primary_key: "other".into(),
            ..a.clone()
        };
        let key3 = c.sign("live", "s", now, "0", "0");
        assert_eq!(
            a.verify("live", "s", Some(&key3), now),
            Err(AuthError::BadSignature)
        );
        // Tampered timestamp: signature no longer matches.
        let tampered = key.replacen("1700000000", "1700009999", 1);
        assert_eq!(
            a.verify("live", "s", Some(&tampered), now),
            Err(AuthError::BadSignature)
        );
        for bad in [
            "",
            "x",
            "1-2-3",
            "abc-0-0-d4ad0f069eba74524966efa2d6afacfa",
            "1-0-0-xyz",
        ] {
            assert_eq!(
                a.verify("live", "s", Some(bad), now),
                Err(AuthError::Malformed),
                "{bad}"
            );
        }
    }
}
