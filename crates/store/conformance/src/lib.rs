//! One conformance suite for every [`TaskStore`](baton_domain::TaskStore) backend (STYLE habit
//! 8): the SQLite store and the PostgreSQL store run the same checks. Every task store is a
//! [`BlockStore`](baton_domain::BlockStore) and a [`GroupStore`](baton_domain::GroupStore) too,
//! and is checked as both.
//!
//! Each check is an `async fn(&dyn TaskStore)` (or `&dyn BlockStore`, `&dyn GroupStore`, or
//! `&dyn` [`TaskGroupStore`] when it needs tasks and groups of one store) that expects an
//! *empty* store and panics on a violation. They are runtime-neutral; [`conformance_tests!`] turns them
//! into one `#[tokio::test]` each (the backend's test crate needs `tokio` with `macros` and `rt`):
//!
//! ```ignore
//! async fn fresh() -> MyStore { /* an empty store */ }
//! baton_store_conformance::conformance_tests!(fresh);
//! ```
//!
//! What is covered: round trips of every field (None vs empty included, extreme numbers, the
//! last error), duplicates (a deleted task's ID too, while its events are kept), account
//! isolation, optimistic concurrency (stale versions, unknown tasks, concurrent writers:
//! exactly one wins), transactional outbox writes (a refused write stores no event), fuzzy list
//! filters with paging and totals, keyset listing (ties on the creation time, filters,
//! positions that are no task), the recovery listing, outbox ordering, claims of due events
//! (one claim per event until an attempt is recorded), delivery and rescheduling, events without a URL (recorded as delivered, never due, purged), each task's
//! event log (newest first, by page, after the task's deletion), and purge; list filters by
//! group and the rule that a task without a region is in every region. Blocks: round trips,
//! replacement, the per-account quota of active blocks (expiry at the boundary, atomic under
//! concurrent puts), removal by app or every app, listing order, paging and totals, search
//! (exact and fuzzy, both orders), the active set, purge of expired blocks. Groups: round trips
//! with tags, `Exists`, revival of a deleted name, tag updates of available groups only,
//! deletion refused while tasks that have not exited are in the group, listing by status with
//! paging and totals, account isolation, concurrent creates and deletions of one group (one
//! wins).
//!
//! Leases ([`LeaseStore`](baton_domain::LeaseStore)): for every store, what holds for one node
//! alone (claims within a limit and of unfinished tasks only, renewals, writes under a lease);
//! through [`lease_conformance_tests!`], on two handles of one database, what several nodes
//! need (exclusivity, expiry on the database's clock, growing epochs, fenced writes, release,
//! the previous owner first, concurrent claims never sharing a task).
//!
//! The [`ReplayStore`](baton_domain::ReplayStore) checks run through [`replay_conformance_tests!`],
//! on *two* handles of one fresh database (as two nodes sharing it): entries recorded once
//! (also across handles and under racing writers), answers, the live set by keyset pages,
//! purge. A backend implementing the port runs both macros.

mod blocks;
mod fixtures;
mod groups;
mod leases;
mod outbox;
mod replay;
mod tasks;

pub use blocks::{
    active_blocks_in_path_order, block_quota_counts_active_blocks, block_quota_is_per_account,
    blocks_round_trip, concurrent_puts_respect_the_quota, list_blocks_orders_pages_and_counts,
    purge_removes_only_expired_blocks, remove_blocks_by_app_or_every_app,
    replacing_a_block_keeps_one_row, search_blocks_filters_orders_and_pages,
};
pub use fixtures::{block, event, exited, full_task, group, recorded_event, task};
pub use groups::{
    TaskGroupStore, a_deleted_group_is_revived_by_create, concurrent_group_writes_one_wins,
    creating_an_existing_group_is_refused, delete_group_counts_tasks_that_have_not_exited,
    groups_are_isolated_by_account, groups_round_trip, list_groups_by_status_pages_and_counts,
    update_tags_of_available_groups_only,
};
pub use leases::{
    TaskLeaseStore, concurrent_claims_never_share_a_task, fenced_writes_and_claims_do_not_deadlock,
    leases_are_exclusive_and_fenced, leases_of_one_node, released_leases_are_taken_at_once,
    the_previous_owner_claims_first,
};
pub use outbox::{
    claimed_events_are_claimed_once, delivery_errors_are_kept_and_given_up_is_recorded,
    delivery_is_recorded_once, due_events_in_order, events_without_a_url_are_recorded_delivered,
    failed_attempts_reschedule, outbox_round_trips_every_field,
    purge_removes_old_exited_tasks_and_delivered_events, task_events_newest_first_by_seq,
};
pub use replay::{
    replay_answers_round_trip, replay_concurrent_records_one_wins,
    replay_entries_are_recorded_once, replay_purge_removes_expired_entries,
    replay_unexpired_pages_in_order,
};
pub use tasks::{
    accounts_are_isolated, concurrent_updates_one_wins, delete_with_version_and_events,
    duplicates_are_refused, list_after_pages_by_position, list_filters_groups_and_regionless_tasks,
    list_filters_page_and_count, none_and_empty_are_distinct, round_trip_every_field,
    unfinished_lists_what_must_run, update_with_optimistic_concurrency,
};

/// Generates one `#[tokio::test]` per check, each on a fresh store from `$fresh` (a path to an
/// `async fn() -> S` where `S: TaskStore + BlockStore + GroupStore`: each check takes `&S`
/// as the `&dyn` port it checks, so a store missing a port fails to compile here).
///
/// `conformance_tests!(optional $fresh, $done)`: for a backend that needs a server the machine
/// may not have. `$fresh` returns `Option<S>` (`None`: no server configured — the test says it
/// was skipped and passes); `$done` (an `async fn(S)`) cleans up after a check that passed.
#[macro_export]
macro_rules! conformance_tests {
    (optional $fresh:path, $done:path) => {
        $crate::conformance_tests!(@list (@optional $fresh, $done));
    };
    ($fresh:path) => {
        $crate::conformance_tests!(@list (@each $fresh));
    };
    (@list ($($mode:tt)*)) => {
        $crate::conformance_tests!($($mode)*;
            round_trip_every_field,
            none_and_empty_are_distinct,
            duplicates_are_refused,
            accounts_are_isolated,
            update_with_optimistic_concurrency,
            concurrent_updates_one_wins,
            delete_with_version_and_events,
            list_filters_page_and_count,
            list_filters_groups_and_regionless_tasks,
            list_after_pages_by_position,
            unfinished_lists_what_must_run,
            outbox_round_trips_every_field,
            due_events_in_order,
            claimed_events_are_claimed_once,
            delivery_is_recorded_once,
            failed_attempts_reschedule,
            delivery_errors_are_kept_and_given_up_is_recorded,
            purge_removes_old_exited_tasks_and_delivered_events,
            events_without_a_url_are_recorded_delivered,
            task_events_newest_first_by_seq,
            blocks_round_trip,
            replacing_a_block_keeps_one_row,
            block_quota_counts_active_blocks,
            block_quota_is_per_account,
            remove_blocks_by_app_or_every_app,
            list_blocks_orders_pages_and_counts,
            search_blocks_filters_orders_and_pages,
            active_blocks_in_path_order,
            purge_removes_only_expired_blocks,
            concurrent_puts_respect_the_quota,
            groups_round_trip,
            creating_an_existing_group_is_refused,
            a_deleted_group_is_revived_by_create,
            update_tags_of_available_groups_only,
            delete_group_counts_tasks_that_have_not_exited,
            list_groups_by_status_pages_and_counts,
            groups_are_isolated_by_account,
            concurrent_group_writes_one_wins,
            leases_of_one_node,
        );
    };
    (@each $fresh:path; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let store = $fresh().await;
                $crate::$check(&store).await;
            }
        )*
    };
    (@optional $fresh:path, $done:path; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(store) = $fresh().await else {
                    return;
                };
                $crate::$check(&store).await;
                $done(store).await;
            }
        )*
    };
}

/// Generates one `#[tokio::test]` per [`LeaseStore`](baton_domain::LeaseStore) check that
/// needs several nodes on one database, each on a fresh pair from `$pair` (as
/// [`replay_conformance_tests!`]: two handles, `S: TaskStore + LeaseStore`). A store that one
/// node has to itself (SQLite) does not run these.
#[macro_export]
macro_rules! lease_conformance_tests {
    (optional $pair:path, $done:path) => {
        $crate::replay_conformance_tests!(@optional $pair, $done;
            leases_are_exclusive_and_fenced,
            released_leases_are_taken_at_once,
            the_previous_owner_claims_first,
            concurrent_claims_never_share_a_task,
            fenced_writes_and_claims_do_not_deadlock,
        );
    };
}

/// Generates one `#[tokio::test]` per [`ReplayStore`](baton_domain::ReplayStore) check, each on
/// a fresh pair from `$pair` (a path to an `async fn() -> (S, S)`: two handles on one new, empty
/// database, as two nodes would have; `S: ReplayStore`).
///
/// `replay_conformance_tests!(optional $pair, $done)`: `$pair` returns `Option<(S, S)>` (`None`:
/// skipped), `$done` (an `async fn((S, S))`) cleans up after a check that passed.
#[macro_export]
macro_rules! replay_conformance_tests {
    (optional $pair:path, $done:path) => {
        $crate::replay_conformance_tests!(@list (@optional $pair, $done));
    };
    ($pair:path) => {
        $crate::replay_conformance_tests!(@list (@each $pair));
    };
    (@list ($($mode:tt)*)) => {
        $crate::replay_conformance_tests!($($mode)*;
            replay_entries_are_recorded_once,
            replay_answers_round_trip,
            replay_unexpired_pages_in_order,
            replay_purge_removes_expired_entries,
            replay_concurrent_records_one_wins,
        );
    };
    (@each $pair:path; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (a, b) = $pair().await;
                $crate::$check(&a, &b).await;
            }
        )*
    };
    (@optional $pair:path, $done:path; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some((a, b)) = $pair().await else {
                    return;
                };
                $crate::$check(&a, &b).await;
                $done((a, b)).await;
            }
        )*
    };
}
