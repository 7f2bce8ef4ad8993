//! The live set of spent signed requests in memory: per access key, its 64-bit digests in
//! time buckets by expiry, each key bounded by its share.
//!
//! * **Per key.** A key's entries are only ever compared with its own, and each key has its
//!   own share ([`SpentCache::new`]): a key at its share is refused ([`Check::OverShare`],
//!   with when its oldest entries expire) and no other key's answers change. Keys are
//!   authenticated access keys (configured), which bounds how many sets there are; a key with
//!   nothing live is dropped by [`SpentCache::sweep`].
//! * **Expiry on the server's clock.** An entry is live while `now <= expires_at` (its signed
//!   time plus the window). Entries sit in [`BUCKET_SECONDS`]-wide buckets by expiry; a bucket
//!   is dropped whole once every entry in it has expired (so an entry may be kept up to
//!   `BUCKET_SECONDS - 1` s longer, never shorter).
//! * **Compact.** A bucket is a sorted boxed slice of digests (8 bytes an entry) plus a small
//!   hash set of recent inserts, merged into the slice once it holds a quarter as many (and by
//!   every sweep). A lookup checks the key's live buckets — at most `2 × window /
//!   BUCKET_SECONDS + 2` of them — by one hash probe and one binary search each, so a nonce
//!   reused with another Timestamp is found too.
//!
//! Pure: `now` is passed in; the API's [`Replay`](super::Replay) adds the durable store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use baton_domain::{ReplayEntry, UnixTime};

/// Width of an expiry bucket, seconds.
pub const BUCKET_SECONDS: i64 = 10;

/// Recent inserts a bucket keeps unsorted at least before merging them.
const MIN_RECENT: usize = 64;

/// Locks the keys are spread over (by key digest), so keys rarely wait for each other.
const SHARDS: usize = 16;

/// The outcome of [`SpentCache::check_and_insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// First use: now live in the set.
    Fresh,
    /// The key spent this digest before, and it is still live.
    Replayed,
    /// The key has its whole share live; the oldest of them are dropped after `retry_after`
    /// seconds. Nothing was inserted.
    OverShare { retry_after: u64 },
}

/// The live set. See the module docs.
#[derive(Debug)]
pub struct SpentCache {
    share: usize,
    shards: Box<[Mutex<HashMap<u64, KeySet>>]>,
}

#[derive(Debug, Default)]
struct KeySet {
    /// By the bucket's end: the largest expiry it can hold.
    buckets: BTreeMap<UnixTime, Bucket>,
    len: usize,
}

#[derive(Debug, Default)]
struct Bucket {
    sorted: Box<[u64]>,
    recent: HashSet<u64, BuildHasherDefault<DigestHasher>>,
}

impl SpentCache {
    /// A set in which each key may have `share` (at least 1) live entries.
    pub fn new(share: usize) -> SpentCache {
        SpentCache {
            share: share.max(1),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// Records `entry` unless its key spent the same digest before (and it is live at `now`)
    /// or has its whole share live.
    pub fn check_and_insert(&self, entry: ReplayEntry, now: UnixTime) -> Check {
        let mut keys = self.shard(entry.key);
        let set = keys.entry(entry.key).or_default();
        set.expire(now);
        if set.contains(entry.digest) {
            return Check::Replayed;
        }
        if set.len >= self.share {
            // Non-empty: len >= share >= 1. Its entries are dropped once now > end.
            let end = set.buckets.keys().next().copied().unwrap_or(now);
            return Check::OverShare {
                retry_after: u64::try_from(end + 1 - now).unwrap_or(1).max(1),
            };
        }
        set.insert(entry);
        Check::Fresh
    }

    /// Records `entry` whatever the share (entries loaded at start, which were within their
    /// key's share when they were spent).
    pub fn load(&self, entry: ReplayEntry) {
        self.shard(entry.key)
            .entry(entry.key)
            .or_default()
            .insert(entry);
    }

    /// Forgets `entry` (its durable write failed, so its request was refused: an identical
    /// retry may be accepted).
    pub fn remove(&self, entry: ReplayEntry) {
        let mut keys = self.shard(entry.key);
        if let Some(set) = keys.get_mut(&entry.key)
            && let Some(bucket) = set.buckets.get_mut(&bucket_end(entry.expires_at))
            && bucket.remove(entry.digest)
        {
            set.len -= 1;
        }
    }

    /// Drops what expired by `now` (and keys with nothing live), and merges recent inserts.
    pub fn sweep(&self, now: UnixTime) {
        for shard in self.shards.iter() {
            let mut keys = shard.lock().unwrap_or_else(|e| e.into_inner());
            keys.retain(|_, set| {
                set.expire(now);
                set.buckets.values_mut().for_each(Bucket::compact);
                set.len > 0
            });
        }
    }

    /// Live entries of every key (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let keys = s.lock().unwrap_or_else(|e| e.into_inner());
                keys.values().map(|set| set.len).sum::<usize>()
            })
            .sum()
    }

    /// Whether nothing is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries of one key (by its digest).
    pub fn len_of(&self, key: u64) -> usize {
        self.shard(key).get(&key).map_or(0, |set| set.len)
    }

    fn shard(&self, key: u64) -> std::sync::MutexGuard<'_, HashMap<u64, KeySet>> {
        // A poisoned lock only means a panic elsewhere mid-update; the sets stay consistent
        // enough to keep refusing replays.
        self.shards[(key % SHARDS as u64) as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl KeySet {
    fn expire(&mut self, now: UnixTime) {
        while let Some(entry) = self.buckets.first_entry() {
            if *entry.key() >= now {
                break;
            }
            self.len -= entry.remove().len();
        }
    }

    fn contains(&self, digest: u64) -> bool {
        self.buckets.values().any(|b| b.contains(digest))
    }

    fn insert(&mut self, entry: ReplayEntry) {
        let bucket = self
            .buckets
            .entry(bucket_end(entry.expires_at))
            .or_default();
        if bucket.insert(entry.digest) {
            self.len += 1;
        }
    }
}

impl Bucket {
    fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    fn contains(&self, digest: u64) -> bool {
        self.recent.contains(&digest) || self.sorted.binary_search(&digest).is_ok()
    }

    /// Whether it was new.
    fn insert(&mut self, digest: u64) -> bool {
        if self.contains(digest) {
            return false;
        }
        self.recent.insert(digest);
        if self.recent.len() >= MIN_RECENT.max(self.sorted.len() / 4) {
            self.compact();
        }
        true
    }

    fn remove(&mut self, digest: u64) -> bool {
        if self.recent.remove(&digest) {
            return true;
        }
        match self.sorted.binary_search(&digest) {
            Ok(i) => {
                let mut v = std::mem::take(&mut self.sorted).into_vec();
                v.remove(i);
                self.sorted = v.into_boxed_slice();
                true
            }
            Err(_) => false,
        }
    }

    /// Merges the recent inserts into the sorted slice (exactly sized) and frees the set.
    fn compact(&mut self) {
        if self.recent.is_empty() {
            return;
        }
        let mut recent: Vec<u64> = std::mem::take(&mut self.recent).into_iter().collect();
        recent.sort_unstable();
        let old = std::mem::take(&mut self.sorted);
        let mut merged = Vec::with_capacity(old.len() + recent.len());
        let (mut i, mut j) = (0, 0);
        while i < old.len() && j < recent.len() {
            if old[i] < recent[j] {
                merged.push(old[i]);
                i += 1;
            } else {
                merged.push(recent[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&old[i..]);
        merged.extend_from_slice(&recent[j..]);
        self.sorted = merged.into_boxed_slice();
    }
}

/// The end of the bucket holding expiry `t`: the smallest multiple of [`BUCKET_SECONDS`] ≥ t.
fn bucket_end(t: UnixTime) -> UnixTime {
    t.div_euclid(BUCKET_SECONDS)
        .saturating_add(i64::from(t.rem_euclid(BUCKET_SECONDS) != 0))
        .saturating_mul(BUCKET_SECONDS)
}

/// Digests are already uniform (SHA-256 bits): the hash of one is itself.
#[derive(Debug, Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64s are hashed here (`write_u64`); fold anything else in anyway.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(key: u64, digest: u64, expires_at: UnixTime) -> ReplayEntry {
        ReplayEntry {
            expires_at,
            key,
            digest,
        }
    }

    #[test]
    fn buckets_end_at_the_next_multiple() {
        assert_eq!(bucket_end(0), 0);
        assert_eq!(bucket_end(1), 10);
        assert_eq!(bucket_end(10), 10);
        assert_eq!(bucket_end(11), 20);
        assert_eq!(bucket_end(-1), 0);
        assert_eq!(bucket_end(-10), -10);
        assert_eq!(bucket_end(i64::MAX), i64::MAX);
    }

    #[test]
    fn a_replay_is_refused_while_live_on_the_servers_clock() {
        let c = SpentCache::new(100);
        assert_eq!(c.check_and_insert(e(1, 7, 1900), 1000), Check::Fresh);
        assert_eq!(c.check_and_insert(e(1, 7, 1900), 1500), Check::Replayed);
        // The same digest with another expiry (a nonce reused with another Timestamp).
        assert_eq!(c.check_and_insert(e(1, 7, 1950), 1500), Check::Replayed);
        // At its expiry second the request is still acceptable: still refused as a replay.
        assert_eq!(c.check_and_insert(e(1, 7, 1900), 1900), Check::Replayed);
        // A second later it is gone (the time check refuses the request by itself).
        assert_eq!(c.check_and_insert(e(1, 8, 2000), 1901), Check::Fresh);
        assert_eq!(c.len_of(1), 1);
        assert_eq!(c.check_and_insert(e(1, 7, 2801), 1901), Check::Fresh);
        // Kept to the end of its bucket, never less: expiring at 2001, dropped after 2010.
        assert_eq!(c.check_and_insert(e(1, 9, 2001), 1901), Check::Fresh);
        assert_eq!(c.check_and_insert(e(1, 9, 2001), 2010), Check::Replayed);
        c.sweep(2011);
        assert_eq!(c.len_of(1), 1, "only the entry expiring at 2801 is left");
        c.sweep(2810);
        assert_eq!(c.len_of(1), 1);
        c.sweep(2811);
        assert!(c.is_empty());
    }

    #[test]
    fn keys_are_separate_sets() {
        let c = SpentCache::new(100);
        assert_eq!(c.check_and_insert(e(1, 7, 1900), 1000), Check::Fresh);
        assert_eq!(c.check_and_insert(e(2, 7, 1900), 1000), Check::Fresh);
        assert_eq!(c.check_and_insert(e(2, 7, 1900), 1000), Check::Replayed);
        assert_eq!((c.len_of(1), c.len_of(2), c.len()), (1, 1, 2));
    }

    #[test]
    fn a_flooding_key_meets_its_share_and_no_other_key_notices() {
        let c = SpentCache::new(1000);
        // Key 1 spends its share with Timestamps 15 minutes ahead, then more.
        for d in 0..1000 {
            assert_eq!(c.check_and_insert(e(1, d, 1000 + 1800), 1000), Check::Fresh);
        }
        for d in 1000..1100 {
            assert_eq!(
                c.check_and_insert(e(1, d, 1000 + 1800), 1000),
                Check::OverShare { retry_after: 1801 },
                "{d}"
            );
        }
        // Its replays are still replays.
        assert_eq!(c.check_and_insert(e(1, 5, 2800), 1000), Check::Replayed);
        // Key 2 gets exactly the answers it would get without key 1.
        let alone = SpentCache::new(1000);
        for d in 0..2000 {
            let entry = e(2, d % 1500, 1900);
            assert_eq!(
                c.check_and_insert(entry, 1000),
                alone.check_and_insert(entry, 1000),
                "{d}"
            );
        }
        assert_eq!(c.len_of(2), 1000, "key 2 reached its own share");
        // Key 1's entries expire on the server's clock: room again after its retry_after.
        assert_eq!(c.check_and_insert(e(1, 5000, 3000), 2801), Check::Fresh);
        assert_eq!(c.len_of(1), 1);
    }

    #[test]
    fn compaction_keeps_every_digest_and_removal_works_anywhere() {
        let c = SpentCache::new(100_000);
        let digests: Vec<u64> = (0..5000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        for &d in &digests {
            assert_eq!(c.check_and_insert(e(3, d, 1900), 1000), Check::Fresh);
        }
        c.sweep(1000);
        for &d in &digests {
            assert_eq!(c.check_and_insert(e(3, d, 1900), 1000), Check::Replayed);
        }
        // Removal from the sorted part and from the recent part.
        c.remove(e(3, digests[10], 1900));
        assert_eq!(c.check_and_insert(e(3, 42, 1900), 1000), Check::Fresh);
        c.remove(e(3, 42, 1900));
        assert_eq!(c.len_of(3), 4999);
        assert_eq!(
            c.check_and_insert(e(3, digests[10], 1900), 1000),
            Check::Fresh
        );
        assert_eq!(c.check_and_insert(e(3, 42, 1900), 1000), Check::Fresh);
        // Removing what is not there changes nothing.
        c.remove(e(3, 43, 1900));
        c.remove(e(9, 43, 1900));
        assert_eq!(c.len_of(3), 5001);
    }

    #[test]
    fn loaded_entries_ignore_the_share_and_count_towards_it() {
        let c = SpentCache::new(2);
        for d in 0..3 {
            c.load(e(1, d, 1900));
        }
        c.load(e(1, 0, 1900));
        assert_eq!(c.len_of(1), 3);
        assert_eq!(c.check_and_insert(e(1, 1, 1900), 1000), Check::Replayed);
        assert!(matches!(
            c.check_and_insert(e(1, 9, 1900), 1000),
            Check::OverShare { .. }
        ));
        c.sweep(1901);
        assert!(c.is_empty());
    }
}
