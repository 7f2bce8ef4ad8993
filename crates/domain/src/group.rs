//! Task groups (Volcengine `CreatePullToPushGroup` / `UpdatePullToPushGroup` /
//! `DeletePullToPushGroup` / `ListPullToPushGroup`): named sets of an account's tasks, with a
//! project and tags, that lists filter by.
//!
//! * Every task is in exactly one group ([`TaskSpec::group`](crate::TaskSpec::group)), chosen at
//!   creation; dialects without groups use [`DEFAULT_GROUP`].
//! * A group is deleted softly: it stays stored, [`GroupStatus::Deleted`], and is listed as
//!   such; creating the name again revives it. It cannot be deleted while tasks that have not
//!   exited are in it ([`DeleteGroup::InUse`]).
//! * [`GroupStore`] is the storage port; the store conformance suite checks it.
//!
//! Group names are case-sensitive (`Live` and `live` are two groups).

use std::fmt;

use crate::request::{Field, Page, Rejection};
use crate::store::StoreFuture;
use crate::task::{AccountId, UnixTime};

/// The group of tasks created without one (the Alibaba dialect, and Volcengine requests that
/// name none).
pub const DEFAULT_GROUP: &str = "default";

/// Longest group name, in characters. Baton's choice (the provider documents none; its
/// console's names are short).
pub const MAX_GROUP_NAME_LEN: usize = 64;

/// Checks a group name: 1–64 characters, no control or bidirectional formatting characters. The culprit is
/// [`Field::Group`]. [`TaskSpec::validate`](crate::TaskSpec::validate) applies it to a task's
/// group; a dialect applies it to the name of a group it creates, updates or deletes.
pub fn check_group_name(name: &str) -> Result<(), Rejection> {
    let invalid = |reason: &str| Rejection::Invalid {
        field: Field::Group,
        reason: reason.to_owned(),
    };
    if name.is_empty() {
        return Err(invalid("empty"));
    }
    // The byte length bounds the character count from above: most names skip the count.
    if name.len() > MAX_GROUP_NAME_LEN && name.chars().count() > MAX_GROUP_NAME_LEN {
        return Err(invalid("longer than 64 characters"));
    }
    if name.chars().any(crate::text::is_control_or_bidi) {
        return Err(invalid("control or bidirectional formatting characters"));
    }
    Ok(())
}

/// A tag of a group, as Volcengine has them: a category (`System` or `Custom`), a key and a
/// value. Stored and echoed; Baton gives tags no meaning.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    /// `System` or `Custom` (the provider's values; not checked here).
    pub category: String,
    pub key: String,
    pub value: String,
}

/// Whether a group can be used. The numbers are Volcengine's `Status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupStatus {
    /// 0: usable.
    Available,
    /// 1: deleted; kept and listed until its name is created again.
    Deleted,
}

impl GroupStatus {
    /// Every status.
    pub const ALL: [GroupStatus; 2] = [GroupStatus::Available, GroupStatus::Deleted];

    /// Volcengine's integer code (also how stores keep it).
    pub fn code(self) -> i32 {
        match self {
            GroupStatus::Available => 0,
            GroupStatus::Deleted => 1,
        }
    }

    /// The status with Volcengine's integer code `code`, if any.
    pub fn from_code(code: i32) -> Option<GroupStatus> {
        match code {
            0 => Some(GroupStatus::Available),
            1 => Some(GroupStatus::Deleted),
            _ => None,
        }
    }
}

/// One task group of one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskGroup {
    pub account: AccountId,
    /// Unique per account (case-sensitive), whatever the status.
    pub name: String,
    /// The provider's project the group belongs to. Stored and echoed.
    pub project: String,
    /// In the order given.
    pub tags: Vec<Tag>,
    pub status: GroupStatus,
    /// When the group was (last) created: a revived group's is its revival.
    pub created_at: UnixTime,
    /// When it last changed (created, tags replaced, deleted).
    pub updated_at: UnixTime,
}

/// What [`GroupStore::create_group`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateGroup {
    /// Stored: the name was new, or its group was deleted and has been revived.
    Created,
    /// Not stored: the account has an available group of that name.
    Exists,
}

/// What [`GroupStore::delete_group`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteGroup {
    /// The group is now [`GroupStatus::Deleted`].
    Deleted,
    /// The account has no available group of that name (never created, or deleted already).
    NotFound,
    /// Not deleted: `tasks` tasks of the account that have not exited are in the group.
    InUse { tasks: u64 },
}

/// One page of an account's groups and the total count of matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupList {
    /// The page's groups, by name.
    pub groups: Vec<TaskGroup>,
    /// How many groups match in all pages.
    pub total: u64,
}

/// Durable storage of task groups. Writes are committed when the future resolves. The store
/// that keeps the tasks keeps the groups: [`GroupStore::delete_group`] counts the group's tasks
/// in the same transaction as the deletion.
pub trait GroupStore: Send + Sync + fmt::Debug {
    /// Stores a new available group. [`CreateGroup::Exists`] (nothing written) if the account
    /// has an available group of that name; a deleted one of that name is replaced — revived
    /// with the new project, tags and times. `group.status` must be
    /// [`GroupStatus::Available`] ([`StoreError::Invalid`](crate::StoreError::Invalid)
    /// otherwise).
    fn create_group<'a>(&'a self, group: &'a TaskGroup) -> StoreFuture<'a, CreateGroup>;

    /// Replaces the tags of the account's available group `name` (`updated_at = now`);
    /// `false` (nothing written) if there is none.
    fn update_group_tags<'a>(
        &'a self,
        account: &'a AccountId,
        name: &'a str,
        tags: &'a [Tag],
        now: UnixTime,
    ) -> StoreFuture<'a, bool>;

    /// Marks the account's available group `name` deleted (`updated_at = now`; it stays
    /// stored and listed), unless tasks of the account that have not exited (status ≠ -1) are
    /// in it: [`DeleteGroup::InUse`], counted in the same transaction, so a task created in
    /// the group concurrently is either counted or created after the deletion.
    /// [`DeleteGroup::NotFound`] if there is no available group of that name.
    fn delete_group<'a>(
        &'a self,
        account: &'a AccountId,
        name: &'a str,
        now: UnixTime,
    ) -> StoreFuture<'a, DeleteGroup>;

    /// The account's group `name` in any status (`None` if it was never created).
    fn get_group<'a>(
        &'a self,
        account: &'a AccountId,
        name: &'a str,
    ) -> StoreFuture<'a, Option<TaskGroup>>;

    /// One page of the account's groups whose status is one of `statuses` (empty: any),
    /// ordered by name (byte order), and how many match in all.
    fn list_groups<'a>(
        &'a self,
        account: &'a AccountId,
        statuses: &'a [GroupStatus],
        page: Page,
    ) -> StoreFuture<'a, GroupList>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip() {
        for s in GroupStatus::ALL {
            assert_eq!(GroupStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(GroupStatus::Available.code(), 0);
        assert_eq!(GroupStatus::Deleted.code(), 1);
        assert_eq!(GroupStatus::from_code(2), None);
        assert_eq!(GroupStatus::from_code(-1), None);
    }

    #[test]
    fn group_names() {
        let field = |name: &str| match check_group_name(name) {
            Ok(()) => None,
            Err(Rejection::Invalid { field, .. }) => Some(field),
            Err(other) => panic!("{other:?}"),
        };
        assert_eq!(field(DEFAULT_GROUP), None);
        assert_eq!(field("g"), None);
        assert_eq!(field("直播 group_1 %"), None);
        assert_eq!(field(&"g".repeat(64)), None);
        assert_eq!(field(&"組".repeat(64)), None);
        assert_eq!(field(""), Some(Field::Group));
        assert_eq!(field(&"g".repeat(65)), Some(Field::Group));
        assert_eq!(field("a\nb"), Some(Field::Group));
        assert_eq!(field("a\u{7f}"), Some(Field::Group));
    }
}
