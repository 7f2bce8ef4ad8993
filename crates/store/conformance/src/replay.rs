//! Checks of the [`ReplayStore`]: spent entries recorded once (also through a second handle on
//! the same database, as a second node, and under concurrent writers), answers, the live set
//! in keyset pages, purge.
//!
//! Each check takes two handles on one fresh database (`a`, `b`): a store shared by several
//! nodes must refuse on one node what another spent.

use baton_domain::{ReplayAnswer, ReplayEntry, ReplayStore, UnixTime};
use futures_util::future::join_all;

fn entry(expires_at: UnixTime, key: u64, digest: u64) -> ReplayEntry {
    ReplayEntry {
        expires_at,
        key,
        digest,
    }
}

async fn record(store: &dyn ReplayStore, spent: &[ReplayEntry]) -> Vec<bool> {
    store.record(spent, &[]).await.expect("record")
}

async fn all_unexpired(store: &dyn ReplayStore, now: UnixTime, limit: u32) -> Vec<ReplayEntry> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.unexpired(now, after, limit).await.expect("unexpired");
        assert!(page.len() <= limit as usize, "a page longer than its limit");
        let Some(last) = page.last().copied() else {
            return all;
        };
        all.extend(page);
        after = Some(last);
    }
}

/// An entry is new once: a second record of its identity (expires_at, key, digest), through
/// either handle, is a replay; an identity differing in any part is another entry. Extreme
/// digests (the top bit, 0, u64::MAX) and times round-trip.
pub async fn replay_entries_are_recorded_once(a: &dyn ReplayStore, b: &dyn ReplayStore) {
    let e = entry(1000, 7, 42);
    assert_eq!(
        record(a, &[e, entry(1000, 7, 43), e]).await,
        [true, true, false]
    );
    assert_eq!(record(a, &[e]).await, [false]);
    assert_eq!(
        record(b, &[e]).await,
        [false],
        "spent through the other handle"
    );
    // Another key, another digest, another expiry: other entries.
    assert_eq!(
        record(
            b,
            &[entry(1000, 8, 42), entry(1001, 7, 42), entry(1000, 7, 44)]
        )
        .await,
        [true, true, true]
    );
    let extremes = [
        entry(UnixTime::MAX, u64::MAX, u64::MAX),
        entry(1, 0, 0),
        entry(1, 1 << 63, (1 << 63) - 1),
        entry(1, (1 << 63) - 1, 1 << 63),
    ];
    assert_eq!(record(a, &extremes).await, [true; 4]);
    assert_eq!(record(b, &extremes).await, [false; 4]);
    let mut expected = extremes.to_vec();
    expected.extend([
        e,
        entry(1000, 7, 43),
        entry(1000, 8, 42),
        entry(1001, 7, 42),
        entry(1000, 7, 44),
    ]);
    expected.sort();
    assert_eq!(all_unexpired(b, 0, 100).await, expected);
    // Nothing to record is not an error.
    assert_eq!(record(a, &[]).await, Vec::<bool>::new());
}

/// An answer is kept with its entry, whole (any bytes, an empty body), and read through
/// either handle; an entry without one has none; an answer of an unknown entry is ignored.
pub async fn replay_answers_round_trip(a: &dyn ReplayStore, b: &dyn ReplayStore) {
    let e = entry(2000, 1, 2);
    assert_eq!(a.answer(&e).await.expect("answer"), None);
    assert_eq!(record(a, &[e]).await, [true]);
    assert_eq!(b.answer(&e).await.expect("answer"), None, "no answer yet");
    let answer = ReplayAnswer {
        status: 400,
        body: b"{\"x\":\"\xe6\xb5\x8b\"}\0\xff".to_vec(),
    };
    // An answer set in the same call that records another entry.
    let other = entry(2000, 1, 3);
    let recorded = a
        .record(&[other], &[(e, answer.clone())])
        .await
        .expect("record with answer");
    assert_eq!(recorded, [true]);
    assert_eq!(b.answer(&e).await.expect("answer"), Some(answer.clone()));
    assert_eq!(a.answer(&other).await.expect("answer"), None);
    // An entry recorded and answered in one call; an empty body.
    let both = entry(2001, 1, 2);
    let empty = ReplayAnswer {
        status: 200,
        body: Vec::new(),
    };
    assert_eq!(
        a.record(&[both], &[(both, empty.clone())])
            .await
            .expect("record"),
        [true]
    );
    assert_eq!(b.answer(&both).await.expect("answer"), Some(empty));
    // Unknown: ignored, and not recorded by it.
    let unknown = entry(2002, 9, 9);
    a.record(&[], &[(unknown, answer)]).await.expect("record");
    assert_eq!(b.answer(&unknown).await.expect("answer"), None);
    assert_eq!(record(b, &[unknown]).await, [true]);
}

/// The live set: entries expiring after `now` only, in entry order, by keyset pages of any
/// size.
pub async fn replay_unexpired_pages_in_order(a: &dyn ReplayStore, b: &dyn ReplayStore) {
    let mut entries: Vec<ReplayEntry> = (0..50u64)
        .map(|i| {
            entry(
                100 + (i % 7) as i64,
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                u64::MAX - i,
            )
        })
        .collect();
    assert_eq!(record(a, &entries).await, [true; 50]);
    entries.sort();
    for limit in [1, 3, 50, 1000] {
        assert_eq!(all_unexpired(b, 0, limit).await, entries, "limit {limit}");
    }
    // At 103, those with expires_at < 103 are no longer live; expiring at 103 still is.
    let live: Vec<ReplayEntry> = entries
        .iter()
        .copied()
        .filter(|e| e.expires_at >= 103)
        .collect();
    assert!(!live.is_empty() && live.len() < entries.len());
    assert_eq!(all_unexpired(b, 103, 4).await, live);
    assert!(all_unexpired(b, 107, 4).await.is_empty());
}

/// Purge deletes exactly the entries no longer live (`expires_at < now`, answers with them):
/// they can be recorded again; the others are still spent.
pub async fn replay_purge_removes_expired_entries(a: &dyn ReplayStore, b: &dyn ReplayStore) {
    let old = [entry(10, 1, 1), entry(20, 1, 2), entry(20, 2, 1)];
    let live = [entry(21, 1, 1), entry(30, 3, 3)];
    let answer = ReplayAnswer {
        status: 200,
        body: b"{}".to_vec(),
    };
    a.record(&old, &[(old[0], answer.clone())])
        .await
        .expect("record");
    a.record(&live, &[(live[0], answer.clone())])
        .await
        .expect("record");
    assert_eq!(
        b.purge_replay(20).await.expect("purge"),
        1,
        "expiring at 20: live at 20"
    );
    assert_eq!(b.purge_replay(21).await.expect("purge"), 2);
    assert_eq!(a.purge_replay(21).await.expect("purge"), 0);
    assert_eq!(a.answer(&old[0]).await.expect("answer"), None);
    assert_eq!(a.answer(&live[0]).await.expect("answer"), Some(answer));
    assert_eq!(all_unexpired(a, 0, 10).await, live);
    assert_eq!(record(b, &old).await, [true; 3]);
    assert_eq!(record(b, &live).await, [false; 2]);
}

/// Writers racing on one entry through both handles: exactly one records it.
pub async fn replay_concurrent_records_one_wins(a: &dyn ReplayStore, b: &dyn ReplayStore) {
    for round in 0..5u64 {
        let e = entry(500, round, round);
        let calls = (0..8).map(|i| {
            let store = if i % 2 == 0 { a } else { b };
            async move { store.record(&[e], &[]).await.expect("record")[0] }
        });
        let won = join_all(calls).await.into_iter().filter(|w| *w).count();
        assert_eq!(won, 1, "round {round}");
    }
}
