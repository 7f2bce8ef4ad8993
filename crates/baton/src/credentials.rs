//! Accounts and API keys.
//!
//! Three sources, all active together:
//! * the config file: `[[accounts]]` (id, callback_secret) and `[[api.keys]]`
//!   (access_key_id, access_key_secret, account, optional policy);
//! * the environment: `BATON_ACCESS_KEY_ID` / `BATON_ACCESS_KEY_SECRET`, a key of the root
//!   account;
//! * `<data-dir>/credentials.toml`, managed by `baton account …` / `baton key …` (mode 0600). A
//!   running server picks up its changes within a second.
//!
//! With no key anywhere, the first `baton serve` generates a root key into that file and prints
//! it once, so the service works out of the box.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use baton_api::{Credential, KeyStore, KeyStoreError, Policy};
use baton_domain::AccountId;
use futures_util::future::BoxFuture;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub id: String,
    /// HMAC-SHA256 key that signs this account's task callbacks.
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
}

/// Accounts and keys from one source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
}

/// The account of the environment's and the generated key.
pub const ROOT_ACCOUNT: &str = "root";
/// The managed credentials file, in the data dir.
pub const FILE_NAME: &str = "credentials.toml";

impl Credentials {
    /// `self` then `other`; for a key or account in both, `self` wins.
    fn merged(&self, other: &Credentials) -> Credentials {
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
        out
    }

    /// Checks keys: unique ids, secrets of at least 16 characters.
    pub fn check(&self) -> anyhow::Result<()> {
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
        }
        Ok(())
    }

    fn credential(&self, access_key_id: &str) -> Option<Credential> {
        let key = self
            .api_keys
            .iter()
            .find(|k| k.access_key_id == access_key_id)?;
        Some(Credential {
            account: AccountId(key.account.clone()),
            secret: key.access_key_secret.clone(),
            policy: if key.policy.is_empty() {
                Policy::AllowAll
            } else {
                Policy::Allow(key.policy.clone())
            },
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

    fn modified(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
    }
}

/// The credentials a running server uses: the fixed ones (config file, environment) and the
/// managed file's, re-read when the file changes (checked at most once a second).
#[derive(Debug)]
pub struct LiveCredentials {
    fixed: Credentials,
    file: CredentialsFile,
    cache: Mutex<Cache>,
}

#[derive(Debug)]
struct Cache {
    checked: Instant,
    modified: Option<SystemTime>,
    merged: Credentials,
}

/// What [`LiveCredentials::open`] generated, to print once.
#[derive(Debug)]
pub struct Generated {
    pub path: PathBuf,
    pub key: ApiKeyConfig,
}

impl LiveCredentials {
    /// Combines the sources; generates a root key into the file when there is no key at all.
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
            });
        }
        fixed.check()?;
        let file = CredentialsFile::in_dir(data_dir);
        let mut stored = file.load()?;
        let mut generated = None;
        if fixed.api_keys.is_empty() && stored.api_keys.is_empty() {
            let key = ApiKeyConfig {
                access_key_id: format!("LTAI{}", random_string(20)),
                access_key_secret: random_string(30),
                account: ROOT_ACCOUNT.into(),
                policy: Vec::new(),
            };
            stored.api_keys.push(key.clone());
            file.save(&stored)?;
            generated = Some(Generated {
                path: file.path().to_path_buf(),
                key,
            });
        }
        let live = LiveCredentials {
            cache: Mutex::new(Cache {
                checked: Instant::now(),
                modified: file.modified(),
                merged: with_account_secrets(fixed.merged(&stored)),
            }),
            fixed,
            file,
        };
        Ok((live, generated))
    }

    /// The current merged credentials.
    pub fn current(&self) -> Credentials {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.checked.elapsed().as_secs() >= 1 {
            cache.checked = Instant::now();
            let modified = self.file.modified();
            if modified != cache.modified {
                match self.file.load() {
                    Ok(stored) => {
                        cache.merged = with_account_secrets(self.fixed.merged(&stored));
                        cache.modified = modified;
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

impl KeyStore for LiveCredentials {
    fn lookup<'a>(
        &'a self,
        access_key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Credential>, KeyStoreError>> {
        let found = self.current().credential(access_key_id);
        Box::pin(std::future::ready(Ok(found)))
    }
}

/// Every account a key names gets a callback secret (derived from its keys when none is
/// configured, so callbacks are always signed with something only the account's holder knows).
fn with_account_secrets(mut c: Credentials) -> Credentials {
    let missing: Vec<(String, String)> = c
        .api_keys
        .iter()
        .filter(|k| !c.accounts.iter().any(|a| a.id == k.account))
        .map(|k| (k.account.clone(), k.access_key_secret.clone()))
        .collect();
    for (account, secret) in missing {
        if !c.accounts.iter().any(|a| a.id == account) {
            c.accounts.push(AccountConfig {
                id: account,
                callback_secret: secret,
            });
        }
    }
    c
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
        assert_eq!(generated.key.account, ROOT_ACCOUNT);
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
        assert!(generated.is_none());
        let c = live.current();
        assert_eq!(c.api_keys[0].account, ROOT_ACCOUNT);
        assert!(
            c.accounts.iter().any(|a| a.id == ROOT_ACCOUNT),
            "callback secret derived"
        );
        std::fs::remove_dir_all(&dir).unwrap();
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
        });
        // Make sure the modification time differs from the first write's.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        file.save(&stored).unwrap();
        let cred = live.lookup("LTAInew").await.unwrap().expect("reloaded");
        assert_eq!(cred.account, AccountId("acme".into()));
        assert!(cred.policy.allows("live:DescribeLivePullToPush"));
        assert!(!cred.policy.allows("live:DeleteLivePullToPush"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn duplicate_and_short_keys_are_refused() {
        let key = ApiKeyConfig {
            access_key_id: "LTAI5tTestAccessKeyId".into(),
            access_key_secret: "TestAccessKeySecret0123456789ab".into(),
            account: "acme".into(),
            policy: Vec::new(),
        };
        let twice = Credentials {
            accounts: vec![],
            api_keys: vec![key.clone(), key.clone()],
        };
        assert!(twice.check().is_err());
        let mut short = key;
        short.access_key_secret = "short".into();
        let c = Credentials {
            accounts: vec![],
            api_keys: vec![short],
        };
        assert!(c.check().is_err());
    }
}
