//! API credentials and accounts.
//!
//! Configured in the TOML file:
//! ```toml
//! [[accounts]]
//! id = "root"
//! callback_secret = "…"        # HMAC key of this account's task callbacks
//! [[api.keys]]
//! access_key_id = "LTAI…"
//! access_key_secret = "…"
//! account = "root"
//! ```
//! With no key configured, `baton serve` works out of the box: it creates a root account and
//! key once, stores them in `<data-dir>/credentials.toml` (mode 0600) and logs where they are.

use std::path::Path;

use anyhow::Context;
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

/// One API key pair (Alibaba AccessKeyId / AccessKeySecret; Volcengine AK / SK).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    pub access_key_id: String,
    pub access_key_secret: String,
    /// The account the key acts for.
    pub account: String,
}

/// Accounts and keys, as configured or as generated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
}

/// The account used when nothing is configured.
pub const ROOT_ACCOUNT: &str = "root";
/// Where generated credentials are kept, in the data dir.
pub const FILE_NAME: &str = "credentials.toml";

impl Credentials {
    /// Checks references and uniqueness; adds a generated callback secret for any account a
    /// key names but no `[[accounts]]` entry declares.
    pub fn validated(mut self) -> anyhow::Result<Credentials> {
        let mut ids = std::collections::HashSet::new();
        for key in &self.api_keys {
            anyhow::ensure!(
                ids.insert(key.access_key_id.clone()),
                "api key {} is configured twice",
                key.access_key_id
            );
            anyhow::ensure!(
                key.access_key_secret.len() >= 16,
                "api key {}: the secret must be at least 16 characters",
                key.access_key_id
            );
            if !self.accounts.iter().any(|a| a.id == key.account) {
                self.accounts.push(AccountConfig {
                    id: key.account.clone(),
                    callback_secret: random_string(40),
                });
            }
        }
        Ok(self)
    }

    /// The configured credentials, or those generated earlier in `data_dir`, or new ones
    /// (written there). The second value says whether they were just generated.
    pub fn load_or_create(
        configured: Credentials,
        data_dir: &Path,
    ) -> anyhow::Result<(Credentials, bool)> {
        if !configured.api_keys.is_empty() {
            return Ok((configured.validated()?, false));
        }
        let path = data_dir.join(FILE_NAME);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let stored: Credentials =
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
            let mut merged = stored;
            merged.accounts.extend(configured.accounts);
            return Ok((merged.validated()?, false));
        }
        let generated = Credentials {
            accounts: vec![AccountConfig {
                id: ROOT_ACCOUNT.into(),
                callback_secret: random_string(40),
            }],
            api_keys: vec![ApiKeyConfig {
                access_key_id: format!("LTAI{}", random_string(20)),
                access_key_secret: random_string(30),
                account: ROOT_ACCOUNT.into(),
            }],
        };
        write_private(&path, &toml::to_string(&generated)?)?;
        Ok((generated, true))
    }
}

fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Writes `text` to `path` readable by the owner only.
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

    #[test]
    fn generates_once_then_reuses() {
        let dir = std::env::temp_dir().join(format!("baton-cred-{}", random_string(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let (first, created) = Credentials::load_or_create(Credentials::default(), &dir).unwrap();
        assert!(created);
        assert_eq!(first.api_keys.len(), 1);
        assert_eq!(first.api_keys[0].account, ROOT_ACCOUNT);
        let (second, created) = Credentials::load_or_create(Credentials::default(), &dir).unwrap();
        assert!(!created);
        assert_eq!(first, second);
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
    fn configured_keys_win_and_are_checked() {
        let configured = Credentials {
            accounts: vec![],
            api_keys: vec![ApiKeyConfig {
                access_key_id: "LTAI5tTestAccessKeyId".into(),
                access_key_secret: "TestAccessKeySecret0123456789ab".into(),
                account: "acme".into(),
            }],
        };
        let dir = std::env::temp_dir();
        let (c, created) = Credentials::load_or_create(configured.clone(), &dir).unwrap();
        assert!(!created);
        assert_eq!(c.accounts.len(), 1, "the account gets a callback secret");
        assert_eq!(c.accounts[0].id, "acme");
        let mut twice = configured.clone();
        twice.api_keys.push(configured.api_keys[0].clone());
        assert!(twice.validated().is_err());
        let mut short = configured;
        short.api_keys[0].access_key_secret = "short".into();
        assert!(short.validated().is_err());
    }
}
