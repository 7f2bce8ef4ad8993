//! Checks of group storage: round trips, `Exists`, revival of a deleted name, tag updates,
//! deletion guarded by the group's tasks, listing by status, account isolation.

use baton_domain::{
    AccountId, CreateGroup, DeleteGroup, GroupList, GroupStatus, GroupStore, Page, StoreError, Tag,
    TaskGroup, TaskStatus, TaskStore,
};

use crate::fixtures::{group, task};

/// A store of tasks and groups: the deletion check needs both ports of one store (a group in
/// use is counted from the store's tasks). Every type that is both is one.
pub trait TaskGroupStore: TaskStore + GroupStore {}

impl<S: TaskStore + GroupStore + ?Sized> TaskGroupStore for S {}

fn acc(s: &str) -> AccountId {
    AccountId(s.into())
}

fn page(number: u32, size: u32) -> Page {
    Page { number, size }
}

fn tag(category: &str, key: &str, value: &str) -> Tag {
    Tag {
        category: category.into(),
        key: key.into(),
        value: value.into(),
    }
}

async fn create(store: &dyn GroupStore, g: &TaskGroup) -> CreateGroup {
    store.create_group(g).await.expect("create group")
}

async fn get(store: &dyn GroupStore, account: &str, name: &str) -> Option<TaskGroup> {
    store
        .get_group(&acc(account), name)
        .await
        .expect("get group")
}

async fn delete(store: &dyn GroupStore, account: &str, name: &str, now: i64) -> DeleteGroup {
    store
        .delete_group(&acc(account), name, now)
        .await
        .expect("delete group")
}

async fn update_tags(
    store: &dyn GroupStore,
    account: &str,
    name: &str,
    tags: &[Tag],
    now: i64,
) -> bool {
    store
        .update_group_tags(&acc(account), name, tags, now)
        .await
        .expect("update tags")
}

async fn list(
    store: &dyn GroupStore,
    account: &str,
    statuses: &[GroupStatus],
    p: Page,
) -> GroupList {
    store
        .list_groups(&acc(account), statuses, p)
        .await
        .expect("list groups")
}

fn names(l: &GroupList) -> Vec<&str> {
    l.groups.iter().map(|g| g.name.as_str()).collect()
}

/// Every field comes back as stored: odd text, tags in order (none, and several), extreme
/// times; names are case-sensitive; a name never created is `None`.
pub async fn groups_round_trip(store: &dyn GroupStore) {
    let mut odd = group("账户 'quoted' %_ \\", "组 «Live» 'q' \"d\" 100%_ \\", 0);
    odd.project = "项目 'p' %_".into();
    odd.tags = vec![
        tag("System", "k", "v"),
        tag("Custom", "键 \"quoted\"", "值 'x' %_ \\"),
        tag("Custom", "", ""),
        tag("Custom", "k", "v"),
    ];
    odd.created_at = i64::MIN;
    odd.updated_at = i64::MAX;
    let plain = group("acc", "Live", 100);
    let lower = group("acc", "live", 200);
    for g in [&odd, &plain, &lower] {
        assert_eq!(create(store, g).await, CreateGroup::Created, "{}", g.name);
    }
    assert_eq!(
        get(store, &odd.account.0, &odd.name).await,
        Some(odd.clone())
    );
    assert_eq!(get(store, "acc", "Live").await, Some(plain.clone()));
    assert_eq!(get(store, "acc", "live").await, Some(lower.clone()));
    assert_eq!(get(store, "acc", "LIVE").await, None);
    assert_eq!(get(store, "acc", "Liv").await, None);
    assert_eq!(
        list(store, "acc", &[], page(1, 10)).await,
        GroupList {
            groups: vec![plain, lower],
            total: 2
        }
    );
    assert_eq!(
        list(store, &odd.account.0, &[], page(1, 10)).await,
        GroupList {
            groups: vec![odd],
            total: 1
        }
    );

    // Only available groups are created.
    let mut deleted = group("acc", "born-deleted", 1);
    deleted.status = GroupStatus::Deleted;
    let r = store.create_group(&deleted).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    assert_eq!(get(store, "acc", "born-deleted").await, None);
}

/// Creating the name of an available group writes nothing and says `Exists`; the same name in
/// another account is another group.
pub async fn creating_an_existing_group_is_refused(store: &dyn GroupStore) {
    let first = group("acc", "g", 100);
    assert_eq!(create(store, &first).await, CreateGroup::Created);
    let mut again = group("acc", "g", 200);
    again.project = "other project".into();
    again.tags = vec![tag("Custom", "k", "v")];
    assert_eq!(create(store, &again).await, CreateGroup::Exists);
    assert_eq!(get(store, "acc", "g").await, Some(first));
    assert_eq!(list(store, "acc", &[], page(1, 10)).await.total, 1);
    assert_eq!(
        create(store, &group("other", "g", 300)).await,
        CreateGroup::Created
    );
}

/// A deleted group's name can be created again: the row is revived with the new project, tags
/// and times, and is available (one group of that name, not two).
pub async fn a_deleted_group_is_revived_by_create(store: &dyn GroupStore) {
    let mut old = group("acc", "g", 100);
    old.project = "old".into();
    old.tags = vec![tag("System", "a", "1")];
    assert_eq!(create(store, &old).await, CreateGroup::Created);
    assert_eq!(delete(store, "acc", "g", 150).await, DeleteGroup::Deleted);

    let mut new = group("acc", "g", 200);
    new.project = "new".into();
    new.tags = vec![tag("Custom", "b", "2"), tag("Custom", "c", "3")];
    assert_eq!(create(store, &new).await, CreateGroup::Created);
    assert_eq!(get(store, "acc", "g").await, Some(new.clone()));
    assert_eq!(
        list(store, "acc", &[], page(1, 10)).await,
        GroupList {
            groups: vec![new.clone()],
            total: 1
        }
    );
    // Revived, it is available again: Exists, and it can be deleted again.
    assert_eq!(create(store, &old).await, CreateGroup::Exists);
    assert_eq!(delete(store, "acc", "g", 250).await, DeleteGroup::Deleted);
}

/// Tags are replaced (order kept, `updated_at = now`, nothing else changed) only on an
/// available group of the account; a missing, deleted or other account's group is `false`.
pub async fn update_tags_of_available_groups_only(store: &dyn GroupStore) {
    let mut g = group("acc", "g", 100);
    g.tags = vec![tag("System", "a", "1")];
    assert_eq!(create(store, &g).await, CreateGroup::Created);
    let tags = &[tag("Custom", "z", "26"), tag("Custom", "b", "2")];
    let update = |account, name, tags, now| update_tags(store, account, name, tags, now);
    assert!(update("acc", "g", tags, 150).await);
    let mut expected = g.clone();
    expected.tags = tags.to_vec();
    expected.updated_at = 150;
    assert_eq!(get(store, "acc", "g").await, Some(expected.clone()));

    // No tags at all is a value too.
    assert!(update("acc", "g", &[], 160).await);
    expected.tags = Vec::new();
    expected.updated_at = 160;
    assert_eq!(get(store, "acc", "g").await, Some(expected.clone()));

    assert!(!update("acc", "missing", tags, 170).await);
    assert_eq!(get(store, "acc", "missing").await, None);
    assert!(
        !update("acc", "G", tags, 170).await,
        "names are case-sensitive"
    );
    assert!(!update("other", "g", tags, 170).await);
    assert_eq!(get(store, "acc", "g").await, Some(expected.clone()));

    assert_eq!(delete(store, "acc", "g", 180).await, DeleteGroup::Deleted);
    assert!(!update("acc", "g", tags, 190).await);
    expected.status = GroupStatus::Deleted;
    expected.updated_at = 180;
    assert_eq!(get(store, "acc", "g").await, Some(expected));
}

/// Deletion: `NotFound` without an available group; `InUse` while tasks of the account that
/// have not exited are in it (counted; exited tasks, other groups' and other accounts' tasks
/// do not count); then `Deleted` — kept, with status Deleted and `updated_at = now` — and a
/// second deletion is `NotFound`.
pub async fn delete_group_counts_tasks_that_have_not_exited(store: &dyn TaskGroupStore) {
    assert_eq!(delete(store, "acc", "g", 100).await, DeleteGroup::NotFound);
    let g = group("acc", "g", 100);
    assert_eq!(create(store, &g).await, CreateGroup::Created);
    assert_eq!(
        create(store, &group("acc", "G", 100)).await,
        CreateGroup::Created
    );
    assert_eq!(
        create(store, &group("acc", "h", 100)).await,
        CreateGroup::Created
    );

    // (account, id, group, status)
    let tasks = [
        ("acc", "t-running", "g", TaskStatus::Running),
        ("acc", "t-waiting", "g", TaskStatus::NotStarted),
        ("acc", "t-exited", "g", TaskStatus::Exited),
        ("acc", "t-upper", "G", TaskStatus::Running),
        ("acc", "t-other-group", "h", TaskStatus::Exited),
        ("other", "t-other-account", "h", TaskStatus::Running),
    ];
    let mut stored = Vec::new();
    for (account, id, group, status) in tasks {
        let mut t = task(account, id, 1);
        t.spec.group = group.into();
        t.runtime.status = status;
        store.insert(&t, &[]).await.expect("insert");
        stored.push(t);
    }

    assert_eq!(
        delete(store, "acc", "g", 200).await,
        DeleteGroup::InUse { tasks: 2 }
    );
    assert_eq!(
        get(store, "acc", "g").await,
        Some(g.clone()),
        "nothing written"
    );
    assert_eq!(
        delete(store, "acc", "G", 200).await,
        DeleteGroup::InUse { tasks: 1 }
    );
    // `h` holds only an exited task of its own account: not in use.
    assert_eq!(delete(store, "acc", "h", 200).await, DeleteGroup::Deleted);

    // A stopped task still holds the group; once every task has exited (or is gone), it
    // does not.
    let mut stopped = stored[0].clone();
    stopped.runtime.status = TaskStatus::Stopped;
    stopped.version += 1;
    store
        .update(&stopped, stored[0].version, &[])
        .await
        .expect("update");
    assert_eq!(
        delete(store, "acc", "g", 300).await,
        DeleteGroup::InUse { tasks: 2 }
    );
    let mut exited = stopped.clone();
    exited.runtime.status = TaskStatus::Exited;
    exited.version += 1;
    store
        .update(&exited, stopped.version, &[])
        .await
        .expect("update");
    store
        .delete(&stored[1].account, &stored[1].id, stored[1].version, &[])
        .await
        .expect("delete task");
    assert_eq!(delete(store, "acc", "g", 400).await, DeleteGroup::Deleted);
    let mut expected = g;
    expected.status = GroupStatus::Deleted;
    expected.updated_at = 400;
    assert_eq!(get(store, "acc", "g").await, Some(expected.clone()));
    assert_eq!(delete(store, "acc", "g", 500).await, DeleteGroup::NotFound);
    assert_eq!(get(store, "acc", "g").await, Some(expected), "unchanged");
    assert_eq!(
        delete(store, "acc", "missing", 500).await,
        DeleteGroup::NotFound
    );
}

/// Listing: by name (byte order), filtered by any of the statuses given (none: every status),
/// in pages, the total counting every match.
pub async fn list_groups_by_status_pages_and_counts(store: &dyn GroupStore) {
    // Created out of order; b, d and f are deleted.
    for (i, name) in ["e", "b", "a", "f", "c", "B", "d"].iter().enumerate() {
        let g = group("acc", name, 100 + i as i64);
        assert_eq!(create(store, &g).await, CreateGroup::Created);
    }
    for name in ["b", "d", "f"] {
        assert_eq!(delete(store, "acc", name, 200).await, DeleteGroup::Deleted);
    }
    assert_eq!(
        create(store, &group("other", "a", 1)).await,
        CreateGroup::Created
    );
    use GroupStatus::{Available, Deleted};

    let every = list(store, "acc", &[], page(1, 100)).await;
    assert_eq!(names(&every), ["B", "a", "b", "c", "d", "e", "f"]);
    assert_eq!(every.total, 7);
    assert_eq!(
        list(store, "acc", &[Available, Deleted], page(1, 100)).await,
        every
    );
    let available = list(store, "acc", &[Available], page(1, 100)).await;
    assert_eq!(
        (names(&available), available.total),
        (vec!["B", "a", "c", "e"], 4)
    );
    assert!(available.groups.iter().all(|g| g.status == Available));
    let deleted = list(store, "acc", &[Deleted], page(1, 100)).await;
    assert_eq!((names(&deleted), deleted.total), (vec!["b", "d", "f"], 3));
    assert!(
        deleted
            .groups
            .iter()
            .all(|g| g.status == Deleted && g.updated_at == 200)
    );

    // Pages: totals on every page, empty past the end, page 0 is page 1.
    let p1 = list(store, "acc", &[], page(1, 3)).await;
    let p3 = list(store, "acc", &[], page(3, 3)).await;
    let p4 = list(store, "acc", &[], page(4, 3)).await;
    assert_eq!((names(&p1), p1.total), (vec!["B", "a", "b"], 7));
    assert_eq!((names(&p3), p3.total), (vec!["f"], 7));
    assert_eq!((p4.groups.len(), p4.total), (0, 7));
    assert_eq!(list(store, "acc", &[], page(0, 3)).await, p1);
    let p2 = list(store, "acc", &[Available], page(2, 2)).await;
    assert_eq!((names(&p2), p2.total), (vec!["c", "e"], 4));

    assert_eq!(
        list(store, "nobody", &[], page(1, 10)).await,
        GroupList::default()
    );
}

/// An account never sees, changes or deletes another account's group of the same name.
pub async fn groups_are_isolated_by_account(store: &dyn GroupStore) {
    let alice = group("alice", "shared", 100);
    assert_eq!(create(store, &alice).await, CreateGroup::Created);
    assert_eq!(get(store, "bob", "shared").await, None);
    assert_eq!(list(store, "bob", &[], page(1, 10)).await.total, 0);
    assert_eq!(
        delete(store, "bob", "shared", 200).await,
        DeleteGroup::NotFound
    );
    assert!(
        !store
            .update_group_tags(&acc("bob"), "shared", &[tag("Custom", "k", "v")], 200)
            .await
            .expect("update tags")
    );
    assert_eq!(get(store, "alice", "shared").await, Some(alice.clone()));

    // Bob's own group of that name is his, and deleting it leaves Alice's alone.
    let bob = group("bob", "shared", 300);
    assert_eq!(create(store, &bob).await, CreateGroup::Created);
    assert_eq!(
        delete(store, "bob", "shared", 400).await,
        DeleteGroup::Deleted
    );
    assert_eq!(get(store, "alice", "shared").await, Some(alice));
    assert_eq!(
        get(store, "bob", "shared").await.map(|g| g.status),
        Some(GroupStatus::Deleted)
    );
}

/// Concurrent deletions of one group (count and mark are atomic): exactly one deletes it, the
/// others find it gone; and concurrent creates of one name create it once.
pub async fn concurrent_group_writes_one_wins(store: &dyn TaskGroupStore) {
    let g = group("acc", "g", 100);
    let created = futures_util::future::join_all((0..8).map(|_| store.create_group(&g))).await;
    let created: Vec<CreateGroup> = created.into_iter().map(|r| r.expect("create")).collect();
    let n = created
        .iter()
        .filter(|c| **c == CreateGroup::Created)
        .count();
    assert_eq!(n, 1, "{created:?}");

    // Concurrent reads first: a pooled backend opens its connections now, so the deletions
    // below really overlap instead of the first finishing while the others connect.
    for _ in 0..3 {
        futures_util::future::join_all((0..8).map(|_| store.get_group(&g.account, "g"))).await;
    }
    let deleted =
        futures_util::future::join_all((0..8).map(|_| store.delete_group(&g.account, "g", 200)))
            .await;
    let deleted: Vec<DeleteGroup> = deleted.into_iter().map(|r| r.expect("delete")).collect();
    let n = deleted
        .iter()
        .filter(|d| **d == DeleteGroup::Deleted)
        .count();
    let gone = deleted
        .iter()
        .filter(|d| **d == DeleteGroup::NotFound)
        .count();
    assert_eq!((n, gone), (1, 7), "{deleted:?}");
    let stored = store
        .get_group(&g.account, "g")
        .await
        .expect("get")
        .expect("kept as deleted");
    assert_eq!(stored.status, GroupStatus::Deleted);
}
