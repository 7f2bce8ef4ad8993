//! Checks of block storage: round trips, replacement, the per-account quota (atomic), removal,
//! listing with paging, search, the active set, purge.

use baton_domain::{
    AccountId, AppSelector, Block, BlockList, BlockQuery, BlockStore, Page, PutBlock, StreamPath,
    UnixTime,
};
use futures_util::future::join_all;

use crate::fixtures::block;

/// A quota no check reaches unless it means to.
const ROOMY: u64 = 100;

fn acc(s: &str) -> AccountId {
    AccountId(s.into())
}

fn page(number: u32, size: u32) -> Page {
    Page { number, size }
}

async fn put(store: &dyn BlockStore, b: &Block, limit: u64) -> PutBlock {
    store.put_block(b, limit).await.expect("put block")
}

/// Every stored row, expired ones included (every row is active at `i64::MIN` unless it
/// resumes at `i64::MIN` itself, which no check stores).
async fn all_rows(store: &dyn BlockStore) -> Vec<Block> {
    store.active_blocks(UnixTime::MIN).await.expect("active")
}

async fn list(
    store: &dyn BlockStore,
    account: &str,
    domain: &str,
    now: UnixTime,
    p: Page,
) -> BlockList {
    store
        .list_blocks(&acc(account), domain, now, p)
        .await
        .expect("list blocks")
}

fn paths(blocks: &[Block]) -> Vec<String> {
    blocks.iter().map(|b| b.path.to_string()).collect()
}

/// Every field comes back as stored, through both listings; odd text and extreme times
/// included.
pub async fn blocks_round_trip(store: &dyn BlockStore) {
    let odd = Block {
        account: acc("账户 'quoted' %_ \\"),
        path: StreamPath {
            domain: "live.example.com".into(),
            app: "直播 'app' \"x\" %_".into(),
            stream: "stream\\name-😀".into(),
        },
        created_at: UnixTime::MIN,
        resume_at: UnixTime::MAX,
    };
    let plain = block("acc", "d.example", "live", "s", 100, 200);
    assert_eq!(put(store, &odd, ROOMY).await, PutBlock::Added);
    assert_eq!(put(store, &plain, ROOMY).await, PutBlock::Added);

    let active = store.active_blocks(150).await.expect("active");
    assert_eq!(active, [plain.clone(), odd.clone()]);
    assert_eq!(
        list(store, "acc", "d.example", 150, page(1, 10)).await,
        BlockList {
            blocks: vec![plain.clone()],
            total: 1
        }
    );
    assert_eq!(
        store
            .list_blocks(&odd.account, "live.example.com", 150, page(1, 10))
            .await
            .expect("list"),
        BlockList {
            blocks: vec![odd.clone()],
            total: 1
        }
    );
    // No block of one account or domain shows in another's list.
    assert_eq!(
        list(store, "acc", "live.example.com", 150, page(1, 10)).await,
        BlockList {
            blocks: vec![],
            total: 0
        }
    );
}

/// Forbidding a stream again replaces its times (one row, `Replaced`), whether the old block is
/// active or expired, and even when the account is at (or over) its quota.
pub async fn replacing_a_block_keeps_one_row(store: &dyn BlockStore) {
    let b = block("acc", "d", "live", "s", 100, 200);
    assert_eq!(put(store, &b, ROOMY).await, PutBlock::Added);

    let again = block("acc", "d", "live", "s", 150, 300);
    assert_eq!(put(store, &again, ROOMY).await, PutBlock::Replaced);
    assert_eq!(all_rows(store).await, std::slice::from_ref(&again));
    assert_eq!(
        list(store, "acc", "d", 150, page(1, 10)).await,
        BlockList {
            blocks: vec![again.clone()],
            total: 1
        }
    );

    // The old block expired at 300; putting the path again is still a replacement, and a
    // replacement is never refused (limit 0).
    let later = block("acc", "d", "live", "s", 400, 500);
    assert_eq!(put(store, &later, 0).await, PutBlock::Replaced);
    assert_eq!(all_rows(store).await, std::slice::from_ref(&later));

    // The same path of another account is another block.
    let other = block("other", "d", "live", "s", 400, 600);
    assert_eq!(put(store, &other, ROOMY).await, PutBlock::Added);
    let mut rows = all_rows(store).await;
    rows.sort_by(|x, y| x.account.cmp(&y.account));
    assert_eq!(rows, [later, other]);
}

/// At `limit` active blocks a new one is refused and not stored; a replacement still succeeds;
/// blocks inactive at the new block's `created_at` do not count (`resume_at == created_at`
/// included); blocks on other domains and apps of the account do count.
pub async fn block_quota_counts_active_blocks(store: &dyn BlockStore) {
    let at = |stream: &str, created_at, resume_at| {
        block("acc", "d", "live", stream, created_at, resume_at)
    };
    for s in ["s1", "s2", "s3"] {
        assert_eq!(
            put(store, &at(s, 100, 1000), 3).await,
            PutBlock::Added,
            "{s}"
        );
    }
    assert_eq!(
        put(store, &at("s4", 100, 1000), 3).await,
        PutBlock::QuotaExceeded
    );
    assert_eq!(
        paths(&all_rows(store).await),
        ["d/live/s1", "d/live/s2", "d/live/s3"]
    );
    assert_eq!(list(store, "acc", "d", 100, page(1, 10)).await.total, 3);
    // Another domain and another app of the same account count against the same quota.
    assert_eq!(
        put(
            store,
            &block("acc", "other.example", "live", "s1", 100, 1000),
            3
        )
        .await,
        PutBlock::QuotaExceeded
    );
    assert_eq!(
        put(store, &at("s4", 100, 1000), 3).await,
        PutBlock::QuotaExceeded,
        "a refused block is not stored"
    );

    // At the quota, replacing one succeeds.
    let s2 = at("s2", 110, 2000);
    assert_eq!(put(store, &s2, 3).await, PutBlock::Replaced);
    // s3 now resumes at 500.
    assert_eq!(put(store, &at("s3", 120, 500), 3).await, PutBlock::Replaced);

    // At 499 s3 is still active: no room.
    assert_eq!(
        put(store, &at("s4", 499, 1000), 3).await,
        PutBlock::QuotaExceeded
    );
    // At 500 it is not (a block is inactive from its resume_at on): room for one.
    let s4 = at("s4", 500, 1000);
    assert_eq!(put(store, &s4, 3).await, PutBlock::Added);
    assert_eq!(
        put(store, &at("s5", 500, 1000), 3).await,
        PutBlock::QuotaExceeded
    );

    let rows = all_rows(store).await;
    assert_eq!(
        paths(&rows),
        ["d/live/s1", "d/live/s2", "d/live/s3", "d/live/s4"],
        "the expired block stays until purged"
    );
    assert_eq!(rows[1], s2);
    assert_eq!(rows[3], s4);
    let listed = list(store, "acc", "d", 500, page(1, 10)).await;
    assert_eq!(
        paths(&listed.blocks),
        ["d/live/s1", "d/live/s2", "d/live/s4"]
    );
    assert_eq!(listed.total, 3);
}

/// Each account has its own quota; one account at its limit does not stop another.
pub async fn block_quota_is_per_account(store: &dyn BlockStore) {
    for account in ["a", "b"] {
        for s in ["s1", "s2"] {
            assert_eq!(
                put(store, &block(account, "d", "live", s, 100, 1000), 2).await,
                PutBlock::Added,
                "{account} {s}"
            );
        }
        assert_eq!(
            put(store, &block(account, "d", "live", "s3", 100, 1000), 2).await,
            PutBlock::QuotaExceeded,
            "{account}"
        );
    }
    assert_eq!(
        put(store, &block("c", "d", "live", "s3", 100, 1000), 1).await,
        PutBlock::Added
    );
    for (account, total) in [("a", 2), ("b", 2), ("c", 1)] {
        assert_eq!(
            list(store, account, "d", 100, page(1, 10)).await.total,
            total
        );
    }
    assert_eq!(all_rows(store).await.len(), 5);
}

/// Removing names one app or every app (`*`), of one stream on one domain of one account;
/// expired blocks are removed too; the removed paths come back sorted.
pub async fn remove_blocks_by_app_or_every_app(store: &dyn BlockStore) {
    let keep = [
        block("acc", "d", "live", "t", 100, 1000),
        block("acc", "e.example", "live", "s", 100, 1000),
        block("other", "d", "live", "s", 100, 1000),
        block("other", "d", "backup", "s", 100, 1000),
    ];
    // Stored out of order; `zapp` has expired.
    let remove = [
        block("acc", "d", "zapp", "s", 0, 10),
        block("acc", "d", "live", "s", 100, 1000),
        block("acc", "d", "backup", "s", 100, 1000),
        block("acc", "d", "mid", "s", 100, 1000),
    ];
    for b in keep.iter().chain(&remove) {
        assert_eq!(put(store, b, ROOMY).await, PutBlock::Added);
    }
    let account = acc("acc");
    let removed = |app: AppSelector| async move {
        store
            .remove_blocks(&acc("acc"), "d", &app, "s")
            .await
            .expect("remove")
    };

    assert_eq!(
        removed(AppSelector::Named("live".into())).await,
        [StreamPath::new("d", "live", "s")]
    );
    assert_eq!(removed(AppSelector::Named("live".into())).await, []);
    assert_eq!(removed(AppSelector::Named("nope".into())).await, []);
    assert_eq!(
        store
            .remove_blocks(&account, "d", &AppSelector::Named("live".into()), "nope")
            .await
            .expect("remove"),
        []
    );
    assert_eq!(
        removed(AppSelector::All).await,
        [
            StreamPath::new("d", "backup", "s"),
            StreamPath::new("d", "mid", "s"),
            StreamPath::new("d", "zapp", "s"),
        ]
    );
    assert_eq!(removed(AppSelector::All).await, []);

    let mut rows = all_rows(store).await;
    rows.sort_by(|x, y| (&x.account, &x.path).cmp(&(&y.account, &y.path)));
    let mut expected = keep.to_vec();
    expected.sort_by(|x, y| (&x.account, &x.path).cmp(&(&y.account, &y.path)));
    assert_eq!(
        rows, expected,
        "other streams, domains and accounts untouched"
    );
}

/// One account's blocks on one domain, active at `now`, by app then stream (byte order), in
/// pages; the total counts every active block of that account and domain.
pub async fn list_blocks_orders_pages_and_counts(store: &dyn BlockStore) {
    let listed = [
        ("b", "s2"),
        ("a", "s9"),
        ("b", "s1"),
        ("a", "s10"),
        ("c", "s0"),
        ("B", "s0"),
    ];
    for (app, stream) in listed {
        let b = block("acc", "d", app, stream, 10, 1000);
        assert_eq!(put(store, &b, ROOMY).await, PutBlock::Added);
    }
    for b in [
        block("acc", "d", "a", "s5", 10, 50), // expired at 100
        block("acc", "other.example", "a", "s1", 10, 1000),
        block("someone", "d", "a", "s1", 10, 1000),
    ] {
        assert_eq!(put(store, &b, ROOMY).await, PutBlock::Added);
    }

    let names = |l: &BlockList| -> Vec<String> {
        l.blocks
            .iter()
            .map(|b| format!("{}/{}", b.path.app, b.path.stream))
            .collect()
    };
    let p1 = list(store, "acc", "d", 100, page(1, 2)).await;
    assert_eq!(names(&p1), ["B/s0", "a/s10"]);
    assert_eq!(p1.total, 6);
    assert_eq!(p1.blocks[0], block("acc", "d", "B", "s0", 10, 1000));
    let p2 = list(store, "acc", "d", 100, page(2, 2)).await;
    assert_eq!(
        (names(&p2), p2.total),
        (vec!["a/s9".into(), "b/s1".into()], 6)
    );
    let p3 = list(store, "acc", "d", 100, page(3, 2)).await;
    assert_eq!(
        (names(&p3), p3.total),
        (vec!["b/s2".into(), "c/s0".into()], 6)
    );
    let p4 = list(store, "acc", "d", 100, page(4, 2)).await;
    assert_eq!((names(&p4), p4.total), (vec![], 6));
    // Page 0 is page 1.
    assert_eq!(list(store, "acc", "d", 100, page(0, 2)).await, p1);
    let p2_of_4 = list(store, "acc", "d", 100, page(2, 4)).await;
    assert_eq!(names(&p2_of_4), ["b/s2", "c/s0"]);
    let all = list(store, "acc", "d", 100, page(1, 100)).await;
    assert_eq!(
        names(&all),
        ["B/s0", "a/s10", "a/s9", "b/s1", "b/s2", "c/s0"]
    );

    // Before it expired, the expired block is listed and counted.
    let earlier = list(store, "acc", "d", 49, page(1, 100)).await;
    assert_eq!(
        names(&earlier),
        ["B/s0", "a/s10", "a/s5", "a/s9", "b/s1", "b/s2", "c/s0"]
    );
    assert_eq!(earlier.total, 7);
    // At its resume_at it is not.
    assert_eq!(list(store, "acc", "d", 50, page(1, 100)).await.total, 6);
    // After every block ended: nothing.
    assert_eq!(
        list(store, "acc", "d", 1000, page(1, 100)).await,
        BlockList {
            blocks: vec![],
            total: 0
        }
    );

    assert_eq!(
        list(store, "acc", "other.example", 100, page(1, 10))
            .await
            .total,
        1
    );
    assert_eq!(list(store, "someone", "d", 100, page(1, 10)).await.total, 1);
    assert_eq!(
        list(store, "acc", "nowhere", 100, page(1, 10)).await.total,
        0
    );
}

/// Search: one account's blocks active at `now`; domain and app exact; stream exact or, when
/// fuzzy, an ASCII case-insensitive substring with `%` and `_` literal; ordered by resume time
/// (ascending or descending), ties by domain, app, stream; paged, the total counting every
/// match.
pub async fn search_blocks_filters_orders_and_pages(store: &dyn BlockStore) {
    let blocks = [
        block("acc", "a.example", "live", "Show_1", 10, 300),
        block("acc", "a.example", "live", "show-2", 10, 200),
        block("acc", "a.example", "live", "news", 10, 200),
        block("acc", "b.example", "live", "SHOW%3", 10, 200),
        block("acc", "a.example", "backup", "show-2", 10, 400),
        block("acc", "b.example", "Live", "show-4", 10, 100), // ended at 100
        block("acc", "a.example", "live", "直播show", 10, 500),
        block("other", "a.example", "live", "show-9", 10, 300),
    ];
    for b in &blocks {
        assert_eq!(put(store, b, ROOMY).await, PutBlock::Added);
    }
    let account = acc("acc");
    let search = |query: BlockQuery, p: Page| {
        let account = account.clone();
        async move {
            store
                .search_blocks(&account, &query, 150, p)
                .await
                .expect("search blocks")
        }
    };
    let q = |f: fn(&mut BlockQuery)| {
        let mut query = BlockQuery::default();
        f(&mut query);
        query
    };
    let all = page(1, 100);

    // Everything active, by resume time then path; the ended block and the other account's
    // are not there.
    let every = search(BlockQuery::default(), all).await;
    assert_eq!(
        paths(&every.blocks),
        [
            "a.example/live/news",
            "a.example/live/show-2",
            "b.example/live/SHOW%3",
            "a.example/live/Show_1",
            "a.example/backup/show-2",
            "a.example/live/直播show",
        ]
    );
    assert_eq!(every.total, 6);
    assert_eq!(every.blocks[3], blocks[0], "found blocks are complete");
    let newest = search(q(|q| q.newest_end_first = true), all).await;
    assert_eq!(
        paths(&newest.blocks),
        [
            "a.example/live/直播show",
            "a.example/backup/show-2",
            "a.example/live/Show_1",
            "a.example/live/news",
            "a.example/live/show-2",
            "b.example/live/SHOW%3",
        ],
        "ties stay in path order"
    );

    // Paging: totals on every page, empty past the end, page 0 is page 1.
    let p1 = search(BlockQuery::default(), page(1, 4)).await;
    let p2 = search(BlockQuery::default(), page(2, 4)).await;
    let p3 = search(BlockQuery::default(), page(3, 4)).await;
    assert_eq!((p1.blocks.len(), p1.total), (4, 6));
    assert_eq!(p2.blocks, every.blocks[4..]);
    assert_eq!(p2.total, 6);
    assert_eq!((p3.blocks.len(), p3.total), (0, 6));
    assert_eq!(search(BlockQuery::default(), page(0, 4)).await, p1);

    // Domain and app are exact.
    let l = search(q(|q| q.domain = Some("b.example".into())), all).await;
    assert_eq!(paths(&l.blocks), ["b.example/live/SHOW%3"]);
    let l = search(q(|q| q.domain = Some("example".into())), all).await;
    assert_eq!(l.total, 0);
    let l = search(q(|q| q.app = Some("backup".into())), all).await;
    assert_eq!(paths(&l.blocks), ["a.example/backup/show-2"]);
    let l = search(q(|q| q.app = Some("Live".into())), all).await;
    assert_eq!(
        l.total, 0,
        "app is case-sensitive; b.example/Live/show-4 has ended"
    );

    // Stream: exact unless fuzzy.
    let l = search(q(|q| q.stream = Some("show-2".into())), all).await;
    assert_eq!(
        paths(&l.blocks),
        ["a.example/live/show-2", "a.example/backup/show-2"]
    );
    let l = search(q(|q| q.stream = Some("SHOW-2".into())), all).await;
    assert_eq!(l.total, 0);
    let l = search(q(|q| q.stream = Some("show".into())), all).await;
    assert_eq!(l.total, 0);
    let fuzzy = |f: fn(&mut BlockQuery)| {
        let mut query = q(f);
        query.fuzzy = true;
        query
    };
    let l = search(fuzzy(|q| q.stream = Some("SHOW".into())), all).await;
    assert_eq!(l.total, 5, "every stream but news: {:?}", paths(&l.blocks));
    let l = search(fuzzy(|q| q.stream = Some("w_".into())), all).await;
    assert_eq!(
        paths(&l.blocks),
        ["a.example/live/Show_1"],
        "`_` is literal"
    );
    let l = search(fuzzy(|q| q.stream = Some("w%".into())), all).await;
    assert_eq!(
        paths(&l.blocks),
        ["b.example/live/SHOW%3"],
        "`%` is literal"
    );
    let l = search(fuzzy(|q| q.stream = Some("直播".into())), all).await;
    assert_eq!(paths(&l.blocks), ["a.example/live/直播show"]);
    let l = search(fuzzy(|q| q.stream = Some(String::new())), all).await;
    assert_eq!(l.total, 6, "an empty substring matches everything");
    let l = search(
        fuzzy(|q| {
            q.stream = Some("show-".into());
            q.app = Some("live".into());
            q.domain = Some("a.example".into());
            q.newest_end_first = true;
        }),
        all,
    )
    .await;
    assert_eq!(paths(&l.blocks), ["a.example/live/show-2"]);

    // Active means now < resume_at.
    let at = |now| {
        let account = account.clone();
        async move {
            store
                .search_blocks(&account, &BlockQuery::default(), now, all)
                .await
                .expect("search blocks")
                .total
        }
    };
    assert_eq!(at(99).await, 7);
    assert_eq!(at(100).await, 6);
    assert_eq!(at(499).await, 1);
    assert_eq!(at(500).await, 0);
    assert_eq!(
        store
            .search_blocks(&acc("nobody"), &BlockQuery::default(), 0, all)
            .await
            .expect("search")
            .total,
        0
    );
}

/// Every account's blocks active at `now`, ordered by path (domain, app, stream).
pub async fn active_blocks_in_path_order(store: &dyn BlockStore) {
    let blocks = [
        block("b", "x.example", "live", "s", 1, 1000),
        block("c", "m.example", "live", "s", 1, 1000),
        block("a", "a.example", "live", "s", 1, 1000),
        block("a", "a.example", "app", "z", 1, 100), // expired at 100
        block("a", "m.example", "live", "s", 1, 1000),
        block("a", "m.example", "app", "zz", 1, 101),
    ];
    for b in &blocks {
        assert_eq!(put(store, b, ROOMY).await, PutBlock::Added);
    }
    let active = store.active_blocks(100).await.expect("active");
    assert_eq!(
        paths(&active),
        [
            "a.example/live/s",
            "m.example/app/zz",
            "m.example/live/s",
            "m.example/live/s",
            "x.example/live/s",
        ]
    );
    // The same path of two accounts: both, in either order.
    let mut sorted = active.clone();
    sorted.sort_by(|x, y| (&x.path, &x.account).cmp(&(&y.path, &y.account)));
    let mut expected: Vec<Block> = blocks
        .iter()
        .filter(|b| b.is_active(100))
        .cloned()
        .collect();
    expected.sort_by(|x, y| (&x.path, &x.account).cmp(&(&y.path, &y.account)));
    assert_eq!(sorted, expected);

    assert_eq!(
        paths(&store.active_blocks(99).await.expect("active"))[0],
        "a.example/app/z"
    );
    assert_eq!(
        paths(&store.active_blocks(101).await.expect("active")),
        [
            "a.example/live/s",
            "m.example/live/s",
            "m.example/live/s",
            "x.example/live/s"
        ]
    );
    assert_eq!(store.active_blocks(1000).await.expect("active"), []);
}

/// Purge deletes exactly the blocks with `resume_at <= now` and says how many.
pub async fn purge_removes_only_expired_blocks(store: &dyn BlockStore) {
    let blocks = [
        block("a", "d", "live", "r100", 1, 100),
        block("a", "d", "live", "r150", 1, 150),
        block("a", "d", "live", "r200", 1, 200),
        block("b", "d", "live", "r200", 1, 200),
        block("b", "d", "live", "r300", 1, 300),
    ];
    for b in &blocks {
        assert_eq!(put(store, b, ROOMY).await, PutBlock::Added);
    }
    let purge = |now| async move { store.purge_expired_blocks(now).await.expect("purge") };
    assert_eq!(purge(99).await, 0);
    assert_eq!(all_rows(store).await.len(), 5);
    assert_eq!(purge(150).await, 2);
    assert_eq!(purge(150).await, 0);
    assert_eq!(
        paths(&all_rows(store).await),
        ["d/live/r200", "d/live/r200", "d/live/r300"]
    );
    assert_eq!(purge(200).await, 2);
    assert_eq!(all_rows(store).await, [blocks[4].clone()]);
    // A purged path can be blocked anew.
    assert_eq!(put(store, &blocks[0], ROOMY).await, PutBlock::Added);
}

/// The quota holds under concurrent puts (count and write are atomic): of 20 new blocks at once
/// with room for 5, exactly 5 are added; of 10 concurrent puts of one new path, one adds it and
/// the rest replace it.
pub async fn concurrent_puts_respect_the_quota(store: &dyn BlockStore) {
    let many: Vec<Block> = (0..20)
        .map(|i| block("acc", "d", "live", &format!("s{i:02}"), 100, 1000))
        .collect();
    let results = join_all(many.iter().map(|b| store.put_block(b, 5))).await;
    let results: Vec<PutBlock> = results.into_iter().map(|r| r.expect("put")).collect();
    let added = results.iter().filter(|r| **r == PutBlock::Added).count();
    let refused = results
        .iter()
        .filter(|r| **r == PutBlock::QuotaExceeded)
        .count();
    assert_eq!((added, refused), (5, 15), "{results:?}");
    assert_eq!(store.active_blocks(100).await.expect("active").len(), 5);

    let same: Vec<Block> = (0..10)
        .map(|i| block("acc2", "d", "live", "s", 100 + i, 1000 + i))
        .collect();
    let results = join_all(same.iter().map(|b| store.put_block(b, 5))).await;
    let results: Vec<PutBlock> = results.into_iter().map(|r| r.expect("put")).collect();
    let added = results.iter().filter(|r| **r == PutBlock::Added).count();
    let replaced = results.iter().filter(|r| **r == PutBlock::Replaced).count();
    assert_eq!((added, replaced), (1, 9), "{results:?}");
    assert_eq!(
        list(store, "acc2", "d", 100, page(1, 10))
            .await
            .blocks
            .len(),
        1
    );
}
