//! Replay protection: a bounded cache of the signature nonces seen within the request-time
//! window.
//!
//! A request is acceptable while its time is within ±window of now, so a nonce must be
//! remembered until `request time + window`: after that the time check alone refuses a
//! replay. Entries are keyed by a SHA-256 of (AccessKeyId, nonce), truncated to 128 bits, so
//! an entry's size does not depend on what the client sent. When the cache is full of
//! unexpired entries, new requests are refused ([`NonceCheck::Full`]) rather than accepted
//! without protection.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Mutex;

use baton_domain::UnixTime;
use sha2::{Digest, Sha256};

/// The outcome of [`NonceCache::check_and_insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceCheck {
    /// First use: remembered until its expiry.
    Fresh,
    /// Seen before, within the window.
    Replayed,
    /// No room: every remembered nonce is still within its window.
    Full,
}

/// Nonces seen recently, bounded by `capacity`.
#[derive(Debug)]
pub struct NonceCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashSet<u128>,
    /// Expiry order: the earliest expiry on top.
    expiries: BinaryHeap<Reverse<(UnixTime, u128)>>,
}

impl NonceCache {
    pub fn new(capacity: usize) -> NonceCache {
        NonceCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Records `nonce` of `access_key_id`, to be forgotten at `expires_at`, unless it is
    /// already known. `now` evicts what has expired.
    pub fn check_and_insert(
        &self,
        access_key_id: &str,
        nonce: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> NonceCheck {
        let key = digest(access_key_id, nonce);
        // A poisoned lock only means another request panicked mid-insert; the set and heap
        // are still consistent enough to keep refusing replays.
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(Reverse((at, k))) = inner.expiries.peek().copied() {
            if at > now {
                break;
            }
            inner.expiries.pop();
            inner.seen.remove(&k);
        }
        if inner.seen.contains(&key) {
            return NonceCheck::Replayed;
        }
        if inner.seen.len() >= self.capacity {
            return NonceCheck::Full;
        }
        inner.seen.insert(key);
        inner.expiries.push(Reverse((expires_at, key)));
        NonceCheck::Fresh
    }

    /// Number of nonces remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn digest(access_key_id: &str, nonce: &str) -> u128 {
    let mut h = Sha256::new();
    // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
    h.update((access_key_id.len() as u64).to_be_bytes());
    h.update(access_key_id.as_bytes());
    h.update(nonce.as_bytes());
    let out = h.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&out[..16]);
    u128::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_within_the_window_is_detected_and_forgotten_after() {
        let cache = NonceCache::new(10);
        assert_eq!(
            cache.check_and_insert("AK", "n1", 1900, 1000),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("AK", "n1", 1900, 1500),
            NonceCheck::Replayed
        );
        // Another key may use the same nonce.
        assert_eq!(
            cache.check_and_insert("AK2", "n1", 1900, 1500),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("A", "Kn1", 1900, 1500),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("AK", "n1", 1900, 1900),
            NonceCheck::Fresh
        );
    }

    #[test]
    fn full_cache_refuses_until_entries_expire() {
        let cache = NonceCache::new(3);
        for (i, n) in ["a", "b", "c"].into_iter().enumerate() {
            let exp = 100 + i as i64;
            assert_eq!(cache.check_and_insert("AK", n, exp, 0), NonceCheck::Fresh);
        }
        assert_eq!(cache.check_and_insert("AK", "d", 200, 50), NonceCheck::Full);
        assert_eq!(
            cache.check_and_insert("AK", "a", 200, 50),
            NonceCheck::Replayed
        );
        assert_eq!(cache.len(), 3);
        // "a" expired at 100: room for one.
        assert_eq!(
            cache.check_and_insert("AK", "d", 200, 100),
            NonceCheck::Fresh
        );
        assert_eq!(
            cache.check_and_insert("AK", "e", 200, 100),
            NonceCheck::Full
        );
        assert_eq!(
            cache.check_and_insert("AK", "e", 300, 1000),
            NonceCheck::Fresh
        );
        assert_eq!(cache.len(), 1);
    }
}
