//! API keys: `AccessKeyId → (account, secret, policy, resources)`.
//!
//! Authorization is RAM-shaped: a key's [`Policy`] names the actions it may call, and its
//! [`Credential::resources`] the resources it may act on, as RAM ARNs with `*` wildcards
//! (`acs:cdn:*:acme:domain/live.example.com`, `acs:cdn:*:*:domain/*.example.com`). An action
//! with resource-level authorization (the ingest-control actions act on
//! `acs:cdn:*:{account}:domain/{DomainName}`) is allowed when both match; an action without it
//! (the pull-to-push tasks: resource `*`) only needs the action to match.
//!
//! The [`KeyStore`] trait lets the binary back keys by configuration or by the database; the
//! lookup is async so a store may query. [`StaticKeyStore`] is the in-memory map built from
//! configuration (`[[api.keys]]`).

use std::collections::HashMap;
use std::fmt;

use baton_domain::AccountId;
use futures_util::future::BoxFuture;

/// The operator's account: its tokens alone may read what holds every account's data
/// (`/metrics` on the API listener, `/v1/nodes`).
pub const ROOT_ACCOUNT: &str = "root";

/// What an AccessKeyId stands for.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The account the key acts for: it sees only this account's tasks.
    pub account: AccountId,
    /// The AccessKeySecret (HMAC key).
    pub secret: String,
    /// The RAM-style policy of the key: which actions it may call.
    pub policy: Policy,
    /// The resources the key may act on, as RAM ARNs in which `*` matches any run of
    /// characters (compared ASCII case-insensitively, as domain names are), e.g.
    /// `acs:cdn:*:acme:domain/live.example.com` or `acs:cdn:*:*:domain/*.example.com`.
    /// Empty: every resource. Only actions with resource-level authorization consult it.
    pub resources: Vec<String>,
}

impl Credential {
    /// A key for every resource the policy's actions reach.
    pub fn new(account: AccountId, secret: impl Into<String>, policy: Policy) -> Credential {
        Credential {
            account,
            secret: secret.into(),
            policy,
            resources: Vec::new(),
        }
    }

    /// The same key, restricted to `resources` (see [`Credential::resources`]).
    pub fn with_resources(mut self, resources: Vec<String>) -> Credential {
        self.resources = resources;
        self
    }

    /// Whether the key may act on `resource` (an ARN such as
    /// `acs:cdn:*:acme:domain/live.example.com`).
    pub fn covers(&self, resource: &str) -> bool {
        self.resources.is_empty() || self.resources.iter().any(|p| resource_matches(p, resource))
    }

    /// Whether the key may call `action` on `resource` (`None`: an action without
    /// resource-level authorization, where only the policy's actions count).
    pub fn allows(&self, action: &str, resource: Option<&str>) -> bool {
        self.policy.allows(action) && resource.is_none_or(|r| self.covers(r))
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("Credential")
            .field("account", &self.account)
            .field("secret", &"<redacted>")
            .field("policy", &self.policy)
            .field("resources", &self.resources)
            .finish()
    }
}

/// Which actions a key may call. The resources it may act on are
/// [`Credential::resources`]: the pull-to-push actions have no resource-level permissions
/// (cloud-apis.md §2.2), the ingest-control actions act on a domain.
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

/// What a native-API bearer token stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// The account the token acts for (every action on that account's resources).
    pub account: AccountId,
    /// The token's name, for logs and `whoami`.
    pub name: String,
}

/// Looks up API keys and bearer tokens.
pub trait KeyStore: Send + Sync + 'static {
    /// The credential of `access_key_id`, `Ok(None)` if there is no such key.
    fn lookup<'a>(
        &'a self,
        access_key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Credential>, KeyStoreError>>;

    /// The token whose SHA-256 (lower-case hex) is `token_sha256`, `Ok(None)` if there is
    /// none. Stores keep only the digests, never the tokens. Default: no tokens.
    fn lookup_token<'a>(
        &'a self,
        token_sha256: &'a str,
    ) -> BoxFuture<'a, Result<Option<TokenInfo>, KeyStoreError>> {
        let _ = token_sha256;
        Box::pin(std::future::ready(Ok(None)))
    }
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
    /// Token digest (SHA-256 hex) → token.
    tokens: HashMap<String, TokenInfo>,
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

    /// Adds (or replaces) a key with a policy, for every resource.
    pub fn insert_with_policy(
        &mut self,
        access_key_id: impl Into<String>,
        account: AccountId,
        secret: impl Into<String>,
        policy: Policy,
    ) -> &mut StaticKeyStore {
        self.insert_credential(access_key_id, Credential::new(account, secret, policy))
    }

    /// Adds (or replaces) a key.
    pub fn insert_credential(
        &mut self,
        access_key_id: impl Into<String>,
        credential: Credential,
    ) -> &mut StaticKeyStore {
        self.keys.insert(access_key_id.into(), credential);
        self
    }

    /// Adds a bearer token (given in clear; only its digest is kept).
    pub fn insert_token(
        &mut self,
        token: &str,
        account: AccountId,
        name: impl Into<String>,
    ) -> &mut StaticKeyStore {
        let digest = crate::common::signature::sha256_hex(token.as_bytes());
        self.tokens.insert(
            digest,
            TokenInfo {
                account,
                name: name.into(),
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

    fn lookup_token<'a>(
        &'a self,
        token_sha256: &'a str,
    ) -> BoxFuture<'a, Result<Option<TokenInfo>, KeyStoreError>> {
        let found = self.tokens.get(token_sha256).cloned();
        Box::pin(async move { Ok(found) })
    }
}

/// Checks a resource pattern for [`Credential::resources`]: `*`, or an ARN
/// `acs:<service>:<region>:<account>:<relative id>` with no empty field (the relative id may
/// contain `:`, e.g. an IPv6 domain). A pattern that fails can never match a resource; callers
/// building credentials from configuration should refuse it.
pub fn check_resource_pattern(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    let fields: Vec<&str> = pattern.splitn(5, ':').collect();
    if fields.len() != 5 || fields.iter().any(|f| f.is_empty()) {
        return Err(format!(
            "{pattern:?} is not a resource ARN acs:<service>:<region>:<account>:<resource>"
        ));
    }
    if !fields[0].eq_ignore_ascii_case("acs") && fields[0] != "*" {
        return Err(format!("{pattern:?} does not start with acs:"));
    }
    Ok(())
}

/// Whether the resource pattern `pattern` (`*` matches any run of characters, `:` and `/`
/// included) matches `resource`, ASCII case-insensitively.
pub fn resource_matches(pattern: &str, resource: &str) -> bool {
    let (p, r) = (pattern.as_bytes(), resource.as_bytes());
    let (mut pi, mut ri) = (0, 0);
    // The last `*` seen, and where in the resource its match currently ends.
    let mut star: Option<(usize, usize)> = None;
    while ri < r.len() {
        if p.get(pi) == Some(&b'*') {
            star = Some((pi, ri));
            pi += 1;
        } else if p.get(pi).is_some_and(|c| c.eq_ignore_ascii_case(&r[ri])) {
            pi += 1;
            ri += 1;
        } else if let Some((sp, sr)) = star {
            // Let the last `*` swallow one more character and retry after it.
            star = Some((sp, sr + 1));
            pi = sp + 1;
            ri = sr + 1;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
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

    #[test]
    fn resource_patterns() {
        let arn = "acs:cdn:*:acme:domain/live.example.com";
        for yes in [
            "*",
            "acs:cdn:*:acme:domain/live.example.com",
            "acs:cdn:*:*:domain/*",
            "acs:cdn:*:*:domain/*.example.com",
            "ACS:CDN:*:acme:domain/Live.Example.COM",
            "acs:*",
            "acs:cdn:*:acme:domain/live*com",
            "*:domain/live.example.com",
        ] {
            assert!(resource_matches(yes, arn), "{yes}");
        }
        for no in [
            "",
            "acs:cdn:*:other:domain/live.example.com",
            "acs:cdn:*:*:domain/*.example.org",
            "acs:cdn:*:*:domain/example.com",
            "acs:cdn:*:acme:domain/live.example.com.evil",
            "acs:live:*:acme:domain/live.example.com",
            "domain/live.example.com",
            "acs:cdn:*:acme:domain/live.example.co",
        ] {
            assert!(!resource_matches(no, arn), "{no}");
        }
        assert!(resource_matches("a*b*c", "abc"));
        assert!(resource_matches("a*b*c", "axxbyybzc"));
        assert!(!resource_matches("a*b*c", "axxbyyb"));
        assert!(resource_matches("**", ""));
        assert!(!resource_matches("a", ""));
    }

    #[test]
    fn resource_pattern_syntax() {
        for ok in [
            "*",
            "acs:cdn:*:acme:domain/live.example.com",
            "acs:cdn:*:*:domain/[::1]",
        ] {
            assert!(check_resource_pattern(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "domain/live.example.com",
            "acs:cdn:*:acme",
            "acs:cdn::acme:domain/x",
            "arn:cdn:*:acme:domain/x",
        ] {
            assert!(check_resource_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_check_action_and_resource() {
        let arn = "acs:cdn:*:acct:domain/live.example.com";
        let open = Credential::new(AccountId("acct".into()), "s", Policy::AllowAll);
        assert!(open.allows("live:ForbidLiveStream", Some(arn)));
        let narrow = Credential::new(
            AccountId("acct".into()),
            "s",
            Policy::Allow(vec!["live:ForbidLiveStream".into()]),
        )
        .with_resources(vec!["acs:cdn:*:acct:domain/*.example.com".into()]);
        assert!(narrow.allows("live:ForbidLiveStream", Some(arn)));
        assert!(!narrow.allows("live:ResumeLiveStream", Some(arn)));
        assert!(!narrow.allows(
            "live:ForbidLiveStream",
            Some("acs:cdn:*:acct:domain/live.example.org")
        ));
        // No resource-level authorization: only the action counts.
        let tasks = narrow
            .clone()
            .with_resources(vec!["acs:cdn:*:acct:domain/nothing".into()]);
        assert!(tasks.allows("live:ForbidLiveStream", None));
        assert!(!tasks.allows("live:ForbidLiveStream", Some(arn)));
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
