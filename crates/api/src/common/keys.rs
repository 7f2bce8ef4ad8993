//! API keys: `AccessKeyId → (account, secret, policy)`.
//!
//! The [`KeyStore`] trait lets the binary back keys by configuration or by the database; the
//! lookup is async so a store may query. [`StaticKeyStore`] is the in-memory map built from
//! configuration (`[[api.keys]]`).

use std::collections::HashMap;
use std::fmt;

use baton_domain::AccountId;
use futures_util::future::BoxFuture;

/// What an AccessKeyId stands for.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The account the key acts for: it sees only this account's tasks.
    pub account: AccountId,
    /// The AccessKeySecret (HMAC key).
    pub secret: String,
    /// The RAM-style policy of the key: which actions it may call.
    pub policy: Policy,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("Credential")
            .field("account", &self.account)
            .field("secret", &"<redacted>")
            .field("policy", &self.policy)
            .finish()
    }
}

/// Which actions a key may call. Resources are always "all": the provider grants no
/// resource-level permissions for these actions (cloud-apis.md §2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Every action.
    #[default]
    AllowAll,
    /// Only the listed actions, written as in a RAM policy: `live:CreateLivePullToPush`,
    /// `live:Describe*` (a trailing `*` matches any suffix), `live:*`, or `*`.
    Allow(Vec<String>),
}

impl Policy {
    /// Whether `action` (e.g. `live:StopLivePullToPush`) is allowed. Names compare
    /// case-sensitively except for the service prefix, as RAM does.
    pub fn allows(&self, action: &str) -> bool {
        match self {
            Policy::AllowAll => true,
            Policy::Allow(patterns) => patterns.iter().any(|p| pattern_matches(p, action)),
        }
    }
}

/// Why a key lookup failed (the store itself, not an unknown key).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("key store: {0}")]
pub struct KeyStoreError(pub String);

/// Looks up API keys.
pub trait KeyStore: Send + Sync + 'static {
    /// The credential of `access_key_id`, `Ok(None)` if there is no such key.
    fn lookup<'a>(
        &'a self,
        access_key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Credential>, KeyStoreError>>;
}

impl fmt::Debug for dyn KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyStore")
    }
}

/// Keys held in memory, built from configuration.
#[derive(Clone, Default)]
pub struct StaticKeyStore {
    keys: HashMap<String, Credential>,
}

impl fmt::Debug for StaticKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticKeyStore")
            .field("access_key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl StaticKeyStore {
    pub fn new() -> StaticKeyStore {
        StaticKeyStore::default()
    }

    /// Adds (or replaces) a key allowed to call every action.
    pub fn insert(
        &mut self,
        access_key_id: impl Into<String>,
        account: AccountId,
        secret: impl Into<String>,
    ) -> &mut StaticKeyStore {
        self.insert_with_policy(access_key_id, account, secret, Policy::AllowAll)
    }

    /// Adds (or replaces) a key with a policy.
    pub fn insert_with_policy(
        &mut self,
        access_key_id: impl Into<String>,
        account: AccountId,
        secret: impl Into<String>,
        policy: Policy,
    ) -> &mut StaticKeyStore {
        self.keys.insert(
            access_key_id.into(),
            Credential {
                account,
                secret: secret.into(),
                policy,
            },
        );
        self
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl KeyStore for StaticKeyStore {
    fn lookup<'a>(
        &'a self,
        access_key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Credential>, KeyStoreError>> {
        let found = self.keys.get(access_key_id).cloned();
        Box::pin(async move { Ok(found) })
    }
}

fn pattern_matches(pattern: &str, action: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let (Some((p_service, p_name)), Some((a_service, a_name))) =
        (pattern.split_once(':'), action.split_once(':'))
    else {
        return false;
    };
    if !p_service.eq_ignore_ascii_case(a_service) {
        return false;
    }
    match p_name.strip_suffix('*') {
        Some(prefix) => a_name.starts_with(prefix),
        None => p_name == a_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_patterns() {
        let p = Policy::Allow(vec![
            "live:Describe*".into(),
            "LIVE:StopLivePullToPush".into(),
        ]);
        assert!(p.allows("live:DescribeLivePullToPush"));
        assert!(p.allows("live:DescribeLivePullToPushList"));
        assert!(p.allows("live:StopLivePullToPush"));
        assert!(!p.allows("live:stopLivePullToPush"));
        assert!(!p.allows("live:CreateLivePullToPush"));
        assert!(!p.allows("vod:DescribeLivePullToPush"));
        assert!(Policy::Allow(vec!["live:*".into()]).allows("live:DeleteLivePullToPush"));
        assert!(Policy::Allow(vec!["*".into()]).allows("live:DeleteLivePullToPush"));
        assert!(!Policy::Allow(vec![]).allows("live:DeleteLivePullToPush"));
        assert!(Policy::AllowAll.allows("anything"));
    }

    #[tokio::test]
    async fn static_store_looks_up_and_hides_secrets() {
        let mut store = StaticKeyStore::new();
        store.insert("AK1", AccountId("acct".into()), "s3cr3t-value-0123");
        let cred = store.lookup("AK1").await.unwrap().unwrap();
        assert_eq!(cred.account, AccountId("acct".into()));
        assert_eq!(cred.secret, "s3cr3t-value-0123");
        assert!(!format!("{cred:?}").contains("s3cr3t"));
        assert!(store.lookup("AK2").await.unwrap().is_none());
        assert!(!format!("{store:?}").contains("s3cr3t"));
    }
}
