//! Accounts, API keys and ingest domains.
//!
//! Three sources, all active together:
//! * the config file: `[[accounts]]` (id, callback_secret), `[[api.keys]]`
//!   (access_key_id, access_key_secret, account, optional policy) and `[[domains]]` (name,
//!   account, optional publish authentication);
//! * the environment: `BATON_ACCESS_KEY_ID` / `BATON_ACCESS_KEY_SECRET`, a key of the root
//!   account;
//! * `<data-dir>/credentials.toml`, managed by `baton account …` / `baton key …` /
//!   `baton domain …` / `baton token …` (mode 0600). A running server picks up its changes
//!   within [`RELOAD_INTERVAL`]: a request checks the file's modification time, size and
//!   inode (a save renames a new file in) when the last check is that old, and re-reads it
//!   when they changed.
//!
//! Ingest domains: with none configured, every domain belongs to the root account (so a
//! fresh install works with `rtmp://127.0.0.1/live/s`); once any is configured, a publish to a
//! domain nobody owns is refused.
//!
//! With no key anywhere, the first `baton serve` generates a root key into that file and prints
//! it once, so the service works out of the box.
//!
//! Callback secrets: every account — root, and every account a key, token or domain names —
//! has its own callback secret, which signs its task callbacks and nothing else: a webhook
//! receiver holds it, so it must never be a credential that can call the API. `baton serve`
//! generates the missing ones into the file at start and prints them once; `baton account
//! rotate-callback-secret` replaces one. A secret in the file (generated or rotated) wins over
//! one in the config file.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use baton_api::{Credential, KeyStore, KeyStoreError, Policy, TokenInfo};
use baton_domain::{AccountId, PublishAuth};
use baton_engine::DomainDirectory;
use futures_util::future::BoxFuture;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub id: String,
    /// HMAC-SHA256 key that signs this account's task callbacks (at least 16 characters,
    /// never one of the API key secrets).
    pub callback_secret: String,
}

/// One API key pair (Alibaba AccessKeyId / AccessKeySecret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    pub access_key_id: String,
    pub access_key_secret: String,
    /// The account the key acts for: it sees only that account's tasks.
    pub account: String,
    /// Allowed actions, RAM style (`live:CreateLivePullToPush`, `live:Describe*`, `live:*`).
    /// Empty: every action.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy: Vec<String>,
    /// Resources the key may act on, as RAM ARNs with `*` wildcards — for the ingest-control
    /// actions, the domain: `acs:cdn:*:{account}:domain/live.example.com`. Empty: every
    /// resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
}

/// One native-API bearer token: only its SHA-256 is kept (the token is printed once, by
/// `baton token create`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Unique name (for `baton token revoke` and logs).
    pub name: String,
    /// The account the token acts for.
    pub account: String,
    /// Lower-case hex SHA-256 of the token.
    pub sha256: String,
    /// When it was created (RFC 3339).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_at: String,
}

/// One ingest domain (the host, or `vhost`, publishers use) and who owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// `live.example.com`, `127.0.0.1`, or `*.example.com` (any subdomain).
    pub name: String,
    pub account: String,
    /// Publish authentication ("type A" signed URLs): the primary key. None: unsigned
    /// publishing is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_auth_key: Option<String>,
    /// A second key accepted too, for rotating keys without breaking signed URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_auth_key2: Option<String>,
    /// Seconds a signed URL stays valid after its timestamp (default 1800).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_auth_validity: Option<u64>,
}

impl DomainConfig {
    /// Whether this entry covers `domain` (lower-case): the same name, or a subdomain of a
    /// `*.` entry.
    pub fn covers(&self, domain: &str) -> bool {
        let name = self.name.to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(parent) => domain
                .strip_suffix(parent)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => name == domain,
        }
    }

    pub fn publish_auth(&self) -> Option<PublishAuth> {
        let key = self.publish_auth_key.clone()?;
        Some(PublishAuth {
            primary_key: key,
            secondary_key: self.publish_auth_key2.clone(),
            validity: self
                .publish_auth_validity
                .unwrap_or(PublishAuth::DEFAULT_VALIDITY),
        })
    }
}

/// Accounts, keys and domains from one source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
    #[serde(default)]
    pub domains: Vec<DomainConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<TokenConfig>,
}

/// The account of the environment's and the generated key.
pub const ROOT_ACCOUNT: &str = "root";
/// Shortest callback secret.
pub const MIN_CALLBACK_SECRET_LEN: usize = 16;
/// Length of a generated callback secret.
pub const CALLBACK_SECRET_LEN: usize = 40;
/// The managed credentials file, in the data dir.
pub const FILE_NAME: &str = "credentials.toml";

impl Credentials {
    /// The running server's view: `fixed` (config file, environment) and `stored` (the
    /// managed file); for a key, token or domain in both `fixed` wins, for an account's
    /// callback secret `stored` (generated or rotated there).
    fn combined(fixed: &Credentials, stored: &Credentials) -> Credentials {
        let mut out = fixed.merged(stored);
        for a in &stored.accounts {
            if let Some(slot) = out.accounts.iter_mut().find(|x| x.id == a.id) {
                slot.clone_from(a);
            }
        }
        out
    }

    /// Accounts that something names (root always; keys, tokens, domains) without a callback
    /// secret, in order.
    fn accounts_without_secret(&self) -> Vec<String> {
        let named = std::iter::once(ROOT_ACCOUNT)
            .chain(self.api_keys.iter().map(|k| k.account.as_str()))
            .chain(self.tokens.iter().map(|t| t.account.as_str()))
            .chain(self.domains.iter().map(|d| d.account.as_str()));
        let mut missing: Vec<String> = named
            .filter(|id| !self.accounts.iter().any(|a| a.id == *id))
            .map(str::to_string)
            .collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// `self` then `other`; for a key or account in both, `self` wins.
    pub fn merged(&self, other: &Credentials) -> Credentials {
        let mut out = self.clone();
        for a in &other.accounts {
            if !out.accounts.iter().any(|x| x.id == a.id) {
                out.accounts.push(a.clone());
            }
        }
        for k in &other.api_keys {
            if !out
                .api_keys
                .iter()
                .any(|x| x.access_key_id == k.access_key_id)
            {
                out.api_keys.push(k.clone());
            }
        }
        for d in &other.domains {
            if !out.domains.iter().any(|x| x.name == d.name) {
                out.domains.push(d.clone());
            }
        }
        for t in &other.tokens {
            if !out.tokens.iter().any(|x| x.name == t.name) {
                out.tokens.push(t.clone());
            }
        }
        out
    }

    /// Checks keys: unique ids, secrets of at least 16 characters; callback secrets of at
    /// least 16 characters that are no API key's secret.
    pub fn check(&self) -> anyhow::Result<()> {
        let mut accounts = std::collections::HashSet::new();
        for a in &self.accounts {
            anyhow::ensure!(
                accounts.insert(&a.id),
                "account {} is configured twice",
                a.id
            );
            anyhow::ensure!(
                a.callback_secret.len() >= MIN_CALLBACK_SECRET_LEN,
                "account {}: the callback secret must be at least {MIN_CALLBACK_SECRET_LEN} characters",
                a.id
            );
            anyhow::ensure!(
                !self
                    .api_keys
                    .iter()
                    .any(|k| k.access_key_secret == a.callback_secret),
                "account {}: the callback secret is an API key's secret; a callback receiver \
                 must not hold a credential that can call the API",
                a.id
            );
        }
        let mut ids = std::collections::HashSet::new();
        for key in &self.api_keys {
            anyhow::ensure!(
                ids.insert(&key.access_key_id),
                "api key {} is configured twice",
                key.access_key_id
            );
            anyhow::ensure!(
                key.access_key_secret.len() >= 16,
                "api key {}: the secret must be at least 16 characters",
                key.access_key_id
            );
            for pattern in &key.resources {
                baton_api::common::keys::check_resource_pattern(pattern).map_err(|e| {
                    anyhow::anyhow!("api key {}: resource {pattern:?}: {e}", key.access_key_id)
                })?;
            }
        }
        let mut token_names = std::collections::HashSet::new();
        for t in &self.tokens {
            anyhow::ensure!(
                token_names.insert(&t.name),
                "token {} is configured twice",
                t.name
            );
            anyhow::ensure!(
                t.sha256.len() == 64 && t.sha256.bytes().all(|b| b.is_ascii_hexdigit()),
                "token {}: sha256 must be 64 hex digits",
                t.name
            );
        }
        let mut names = std::collections::HashSet::new();
        for d in &self.domains {
            let bare = d.name.strip_prefix("*.").unwrap_or(&d.name);
            baton_domain::ingest::check_domain(bare)
                .map_err(|e| anyhow::anyhow!("domain {:?}: {e}", d.name))?;
            anyhow::ensure!(
                d.name == d.name.to_ascii_lowercase(),
                "domain {:?} must be lower-case",
                d.name
            );
            anyhow::ensure!(
                names.insert(&d.name),
                "domain {} is configured twice",
                d.name
            );
            for key in [&d.publish_auth_key, &d.publish_auth_key2]
                .into_iter()
                .flatten()
            {
                anyhow::ensure!(
                    key.len() >= 16,
                    "domain {}: publish auth keys must be at least 16 characters",
                    d.name
                );
            }
            anyhow::ensure!(
                d.publish_auth_key.is_some() || d.publish_auth_key2.is_none(),
                "domain {}: publish_auth_key2 without publish_auth_key",
                d.name
            );
            anyhow::ensure!(
                d.publish_auth_validity.is_none_or(|v| v > 0),
                "domain {}: publish_auth_validity must be at least 1 second",
                d.name
            );
        }
        Ok(())
    }

    /// The entry for `domain`: an exact name first, else the longest `*.` entry covering it.
    pub fn domain(&self, domain: &str) -> Option<&DomainConfig> {
        self.domains.iter().find(|d| d.name == domain).or_else(|| {
            self.domains
                .iter()
                .filter(|d| d.covers(domain))
                .max_by_key(|d| d.name.len())
        })
    }

    fn credential(&self, access_key_id: &str) -> Option<Credential> {
        let key = self
            .api_keys
            .iter()
            .find(|k| k.access_key_id == access_key_id)?;
        let policy = if key.policy.is_empty() {
            Policy::AllowAll
        } else {
            Policy::Allow(key.policy.clone())
        };
        Some(
            Credential::new(
                AccountId(key.account.clone()),
                key.access_key_secret.clone(),
                policy,
            )
            .with_resources(key.resources.clone()),
        )
    }

    fn token(&self, sha256: &str) -> Option<TokenInfo> {
        self.tokens
            .iter()
            .find(|t| t.sha256.eq_ignore_ascii_case(sha256))
            .map(|t| TokenInfo {
                account: AccountId(t.account.clone()),
                name: t.name.clone(),
            })
    }

    fn callback_secret(&self, account: &AccountId) -> Option<Vec<u8>> {
        self.accounts
            .iter()
            .find(|a| a.id == account.0)
            .map(|a| a.callback_secret.as_bytes().to_vec())
    }
}

/// `<data-dir>/credentials.toml`.
#[derive(Debug, Clone)]
pub struct CredentialsFile {
    path: PathBuf,
}

impl CredentialsFile {
    pub fn in_dir(data_dir: &Path) -> CredentialsFile {
        CredentialsFile {
            path: data_dir.join(FILE_NAME),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's credentials (none if it does not exist).
    pub fn load(&self) -> anyhow::Result<Credentials> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("parsing {}", self.path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    /// Replaces the file atomically (write a private temporary file, then rename).
    pub fn save(&self, credentials: &Credentials) -> anyhow::Result<()> {
        credentials.check()?;
        let tmp = self.path.with_extension("toml.tmp");
        let _ = std::fs::remove_file(&tmp);
        write_private(&tmp, &toml::to_string(credentials)?)?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("replacing {}", self.path.display()))
    }

    /// What tells one version of the file from another: a save renames a new file in, so
    /// the inode changes even when the modification time (coarse on some file systems) does
    /// not.
    fn stamp(&self) -> Option<Stamp> {
        let meta = std::fs::metadata(&self.path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode,
        })
    }

    /// Adds a native-API token for `account` (root, or an account of this file or of
    /// `fixed`, the config file's) named `name` (default: generated) and returns it — the
    /// only time the token exists in clear; the file keeps its SHA-256.
    pub fn create_token(
        &self,
        fixed: &Credentials,
        account: &str,
        name: Option<String>,
    ) -> anyhow::Result<IssuedToken> {
        let mut c = self.load()?;
        anyhow::ensure!(
            account == ROOT_ACCOUNT
                || c.accounts.iter().any(|a| a.id == account)
                || fixed.accounts.iter().any(|a| a.id == account),
            "no account {account} (create it with `baton account create {account}`)"
        );
        let name = name.unwrap_or_else(|| format!("token-{}", random_string(8)));
        let now = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let token = issue_token(&mut c, account, &name, now)?;
        self.save(&c)?;
        Ok(IssuedToken {
            name,
            account: account.to_string(),
            token,
        })
    }
}

/// A token [`CredentialsFile::create_token`] made: show it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub name: String,
    pub account: String,
    /// The bearer token itself (`btn_…`).
    pub token: String,
}

/// How often, at most, a running server looks at the credentials file: a change is in force
/// for every request that arrives this long after it was saved.
pub const RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// The credentials a running server uses: the fixed ones (config file, environment) and the
/// managed file's, re-read when the file changes (checked at most every [`RELOAD_INTERVAL`]).
#[derive(Debug)]
pub struct LiveCredentials {
    fixed: Credentials,
    file: CredentialsFile,
    cache: Mutex<Cache>,
}

#[derive(Debug)]
struct Cache {
    checked: Instant,
    stamp: Option<Stamp>,
    merged: Credentials,
}

/// What [`LiveCredentials::open`] generated, to print once.
#[derive(Debug)]
pub struct Generated {
    pub path: PathBuf,
    /// The root key, when no key was configured anywhere.
    pub key: Option<ApiKeyConfig>,
    /// (account, callback secret) of the accounts that had none.
    pub callback_secrets: Vec<(String, String)>,
}

impl LiveCredentials {
    /// Combines the sources; generates a root key into the file when there is no key at all,
    /// and a callback secret for every account without one.
    pub fn open(
        configured: Credentials,
        env_key: Option<(String, String)>,
        data_dir: &Path,
    ) -> anyhow::Result<(LiveCredentials, Option<Generated>)> {
        let mut fixed = configured;
        if let Some((id, secret)) = env_key {
            fixed.api_keys.push(ApiKeyConfig {
                access_key_id: id,
                access_key_secret: secret,
                account: ROOT_ACCOUNT.into(),
                policy: Vec::new(),
                resources: Vec::new(),
            });
        }
        fixed.check()?;
        let file = CredentialsFile::in_dir(data_dir);
        let mut stored = file.load()?;
        let mut key = None;
        if fixed.api_keys.is_empty() && stored.api_keys.is_empty() {
            let generated = ApiKeyConfig {
                access_key_id: format!("LTAI{}", random_string(20)),
                access_key_secret: random_string(30),
                account: ROOT_ACCOUNT.into(),
                policy: Vec::new(),
                resources: Vec::new(),
            };
            stored.api_keys.push(generated.clone());
            key = Some(generated);
        }
        let mut callback_secrets = Vec::new();
        for account in Credentials::combined(&fixed, &stored).accounts_without_secret() {
            let secret = random_string(CALLBACK_SECRET_LEN);
            stored.accounts.push(AccountConfig {
                id: account.clone(),
                callback_secret: secret.clone(),
            });
            callback_secrets.push((account, secret));
        }
        let generated = (key.is_some() || !callback_secrets.is_empty()).then(|| Generated {
            path: file.path().to_path_buf(),
            key,
            callback_secrets,
        });
        if generated.is_some() {
            file.save(&stored)?;
        }
        let live = LiveCredentials {
            cache: Mutex::new(Cache {
                checked: Instant::now(),
                stamp: file.stamp(),
                merged: Credentials::combined(&fixed, &stored),
            }),
            fixed,
            file,
        };
        Ok((live, generated))
    }

    /// The current merged credentials.
    pub fn current(&self) -> Credentials {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.checked.elapsed() >= RELOAD_INTERVAL {
            cache.checked = Instant::now();
            let stamp = self.file.stamp();
            if stamp != cache.stamp {
                match self.file.load() {
                    Ok(stored) => {
                        cache.merged = Credentials::combined(&self.fixed, &stored);
                        cache.stamp = stamp;
                        tracing::info!(path = %self.file.path().display(), "credentials reloaded");
                    }
                    Err(e) => tracing::warn!(error = %e, "credentials file not reloaded"),
                }
            }
        }
        cache.merged.clone()
    }

    pub fn callback_secret(&self, account: &AccountId) -> Option<Vec<u8>> {
        self.current().callback_secret(account)
    }
}

impl DomainDirectory for LiveCredentials {
    fn owner(&self, domain: &str) -> Option<AccountId> {
        let c = self.current();
        if c.domains.is_empty() {
            return Some(AccountId(ROOT_ACCOUNT.into()));
        }
        c.domain(domain).map(|d| AccountId(d.account.clone()))
    }

    fn publish_auth(&self, domain: &str) -> Option<PublishAuth> {
        self.current()
            .domain(domain)
            .and_then(DomainConfig::publish_auth)
    }
}

impl KeyStore for LiveCredentials {
    fn lookup<'a>(
        &'a self,
        access_key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Credential>, KeyStoreError>> {
        let found = self.current().credential(access_key_id);
        Box::pin(std::future::ready(Ok(found)))
    }

    fn lookup_token<'a>(
        &'a self,
        token_sha256: &'a str,
    ) -> BoxFuture<'a, Result<Option<TokenInfo>, KeyStoreError>> {
        let found = self.current().token(token_sha256);
        Box::pin(std::future::ready(Ok(found)))
    }
}

/// Adds a new native-API bearer token of `account` named `name` to `credentials` and returns
/// it: only its SHA-256 is kept, so this is the one moment it can be shown.
fn issue_token(
    credentials: &mut Credentials,
    account: &str,
    name: &str,
    now_unix: i64,
) -> anyhow::Result<String> {
    anyhow::ensure!(
        !name.is_empty() && !name.chars().any(char::is_control),
        "a token name must be non-empty text"
    );
    anyhow::ensure!(
        !credentials.tokens.iter().any(|t| t.name == name),
        "a token named {name} exists (revoke it first, or pick another --name)"
    );
    let token = format!("btn_{}", random_string(40));
    credentials.tokens.push(TokenConfig {
        name: name.to_string(),
        account: account.to_string(),
        sha256: baton_api::common::signature::sha256_hex(token.as_bytes()),
        created_at: baton_domain::time::rfc3339(now_unix),
    });
    Ok(token)
}

pub fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Writes `text` to a new file at `path`, readable by the owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("baton-cred-{}", random_string(8)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn generates_once_then_reuses() {
        let dir = temp_dir();
        let (live, generated) = LiveCredentials::open(Credentials::default(), None, &dir).unwrap();
        let generated = generated.expect("a key is generated");
        assert_eq!(generated.key.expect("a key").account, ROOT_ACCOUNT);
        assert_eq!(live.current().api_keys.len(), 1);
        let (live2, again) = LiveCredentials::open(Credentials::default(), None, &dir).unwrap();
        assert!(again.is_none());
        assert_eq!(live.current(), live2.current());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn environment_and_config_keys_need_no_generated_one() {
        let dir = temp_dir();
        let env = Some(("LTAIenv".to_string(), "0123456789abcdef".to_string()));
        let (live, generated) = LiveCredentials::open(Credentials::default(), env, &dir).unwrap();
        // No key generated; root's callback secret is (its own, see below).
        assert!(generated.expect("root's callback secret").key.is_none());
        let c = live.current();
        assert_eq!(c.api_keys[0].account, ROOT_ACCOUNT);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_account_gets_its_own_callback_secret_never_an_api_secret() {
        let dir = temp_dir();
        let env = Some(("LTAIenv".to_string(), "0123456789abcdef".to_string()));
        let configured = Credentials {
            api_keys: vec![ApiKeyConfig {
                access_key_id: "LTAIacme".into(),
                access_key_secret: "acme-api-secret-0123".into(),
                account: "acme".into(),
                policy: Vec::new(),
                resources: Vec::new(),
            }],
            domains: vec![domain("live.example.com", "media")],
            ..Credentials::default()
        };
        let (live, generated) =
            LiveCredentials::open(configured.clone(), env.clone(), &dir).unwrap();
        let generated = generated.expect("secrets are generated and printed once");
        assert!(generated.key.is_none(), "keys are configured");
        let accounts: Vec<&str> = generated
            .callback_secrets
            .iter()
            .map(|(a, _)| a.as_str())
            .collect();
        assert_eq!(accounts, ["acme", "media", ROOT_ACCOUNT]);
        for (account, secret) in &generated.callback_secrets {
            let used = live.callback_secret(&AccountId(account.clone())).unwrap();
            assert_eq!(used, secret.as_bytes(), "{account}");
            assert_eq!(secret.len(), CALLBACK_SECRET_LEN);
            assert_ne!(secret, "0123456789abcdef");
            assert_ne!(secret, "acme-api-secret-0123");
        }
        // Kept in the file: the next start generates nothing and uses the same.
        let (again, none) = LiveCredentials::open(configured, env, &dir).unwrap();
        assert!(none.is_none());
        assert_eq!(
            again.callback_secret(&AccountId(ROOT_ACCOUNT.into())),
            live.callback_secret(&AccountId(ROOT_ACCOUNT.into()))
        );
        // An account nothing names has none.
        assert_eq!(live.callback_secret(&AccountId("nobody".into())), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_callback_secret_that_is_an_api_secret_or_short_is_refused() {
        let key = ApiKeyConfig {
            access_key_id: "LTAIacme".into(),
            access_key_secret: "acme-api-secret-0123".into(),
            account: "acme".into(),
            policy: Vec::new(),
            resources: Vec::new(),
        };
        let with = |secret: &str| Credentials {
            accounts: vec![AccountConfig {
                id: "acme".into(),
                callback_secret: secret.into(),
            }],
            api_keys: vec![key.clone()],
            ..Credentials::default()
        };
        assert!(with("acme-api-secret-0123").check().is_err());
        assert!(with("short").check().is_err());
        assert!(with("a-callback-secret-of-its-own").check().is_ok());
    }

    #[tokio::test]
    async fn keys_added_to_the_file_are_picked_up() {
        let dir = temp_dir();
        let (live, _) = LiveCredentials::open(Credentials::default(), None, &dir).unwrap();
        assert!(live.lookup("LTAInew").await.unwrap().is_none());
        let file = CredentialsFile::in_dir(&dir);
        let mut stored = file.load().unwrap();
        stored.api_keys.push(ApiKeyConfig {
            access_key_id: "LTAInew".into(),
            access_key_secret: "0123456789abcdef".into(),
            account: "acme".into(),
            policy: vec!["live:Describe*".into()],
            resources: vec!["acs:cdn:*:acme:domain/*.example.com".into()],
        });
        // Make sure the modification time differs from the first write's.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        file.save(&stored).unwrap();
        let cred = live.lookup("LTAInew").await.unwrap().expect("reloaded");
        assert_eq!(cred.account, AccountId("acme".into()));
        assert!(cred.policy.allows("live:DescribeLivePullToPush"));
        assert!(!cred.policy.allows("live:DeleteLivePullToPush"));
        assert!(cred.covers("acs:cdn:*:acme:domain/live.example.com"));
        assert!(!cred.covers("acs:cdn:*:acme:domain/127.0.0.1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn duplicate_and_short_keys_are_refused() {
        let key = ApiKeyConfig {
            access_key_id: "LTAI5tTestAccessKeyId".into(),
            access_key_secret: "TestAccessKeySecret0123456789ab".into(),
            account: "acme".into(),
            policy: Vec::new(),
            resources: Vec::new(),
        };
        let twice = Credentials {
            api_keys: vec![key.clone(), key.clone()],
            ..Credentials::default()
        };
        assert!(twice.check().is_err());
        let mut short = key;
        short.access_key_secret = "short".into();
        let c = Credentials {
            api_keys: vec![short],
            ..Credentials::default()
        };
        assert!(c.check().is_err());
    }

    fn domain(name: &str, account: &str) -> DomainConfig {
        DomainConfig {
            name: name.into(),
            account: account.into(),
            publish_auth_key: None,
            publish_auth_key2: None,
            publish_auth_validity: None,
        }
    }

    #[test]
    fn domains_and_their_owners() {
        let dir = temp_dir();
        let (live, _) = LiveCredentials::open(Credentials::default(), None, &dir).unwrap();
        // No domain configured: every domain is root's, none needs a signature.
        assert_eq!(live.owner("127.0.0.1"), Some(AccountId("root".into())));
        assert_eq!(
            live.owner("anything.example"),
            Some(AccountId("root".into()))
        );
        assert!(DomainDirectory::publish_auth(&live, "127.0.0.1").is_none());

        let mut signed = domain("live.example.com", "acme");
        signed.publish_auth_key = Some("0123456789abcdef".into());
        signed.publish_auth_validity = Some(60);
        let configured = Credentials {
            domains: vec![
                signed,
                domain("*.example.com", "wild"),
                domain("*.eu.example.com", "eu"),
            ],
            ..Credentials::default()
        };
        let (live, _) = LiveCredentials::open(configured, None, &dir).unwrap();
        let owner = |d: &str| live.owner(d).map(|a| a.0);
        assert_eq!(owner("live.example.com").as_deref(), Some("acme"));
        assert_eq!(owner("a.example.com").as_deref(), Some("wild"));
        assert_eq!(owner("a.eu.example.com").as_deref(), Some("eu"));
        assert_eq!(owner("example.com"), None);
        assert_eq!(owner("badexample.com"), None);
        assert_eq!(owner("127.0.0.1"), None);
        let auth = DomainDirectory::publish_auth(&live, "live.example.com").unwrap();
        assert_eq!(auth.validity, 60);
        assert!(DomainDirectory::publish_auth(&live, "a.example.com").is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_domains_are_refused() {
        let check = |d: DomainConfig| {
            Credentials {
                domains: vec![d],
                ..Credentials::default()
            }
            .check()
        };
        assert!(check(domain("live.example.com", "a")).is_ok());
        assert!(check(domain("Live.Example.com", "a")).is_err());
        assert!(check(domain("a b", "a")).is_err());
        assert!(check(domain("", "a")).is_err());
        let mut short = domain("x.com", "a");
        short.publish_auth_key = Some("short".into());
        assert!(check(short).is_err());
        let mut only2 = domain("x.com", "a");
        only2.publish_auth_key2 = Some("0123456789abcdef".into());
        assert!(check(only2).is_err());
        let twice = Credentials {
            domains: vec![domain("x.com", "a"), domain("x.com", "b")],
            ..Credentials::default()
        };
        assert!(twice.check().is_err());
    }
}
