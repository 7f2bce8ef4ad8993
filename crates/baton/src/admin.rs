//! `baton account …`, `baton key …`, `baton token …` and `baton domain …`: manage the
//! accounts, API keys, native-API tokens and ingest domains kept in
//! `<data-dir>/credentials.toml`. A running `baton serve` picks the
//! changes up within a second.

use std::path::PathBuf;
use std::process::ExitCode;

use baton_net::ingest::{resolve_domain, split_query};
use clap::{Args, Subcommand};

use crate::credentials::{
    AccountConfig, ApiKeyConfig, CALLBACK_SECRET_LEN, CredentialsFile, DomainConfig, ROOT_ACCOUNT,
    TokenConfig, random_string,
};

#[derive(Args, Debug)]
pub struct DataDir {
    /// Directory of the server's durable state.
    #[arg(long, env = "BATON_DATA_DIR", default_value = "./baton-data")]
    data_dir: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Creates an account (and its callback signing secret, printed once).
    Create {
        /// The account's id (tasks, keys and callbacks belong to it).
        id: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Lists accounts.
    List {
        #[command(flatten)]
        dir: DataDir,
    },
    /// Replaces an account's callback signing secret (`root` too) with a new one, printed
    /// once; a running server signs with it within a second. It wins over a
    /// `callback_secret` in the config file.
    RotateCallbackSecret {
        /// The account.
        id: String,
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Creates an API key pair for an account (the secret is printed once).
    Create {
        /// The account the key acts for.
        #[arg(long, default_value = ROOT_ACCOUNT)]
        account: String,
        /// Allowed actions, comma-separated, RAM style: `live:DescribeLivePullToPush`,
        /// `live:Describe*`, `live:*`. Default: every action.
        #[arg(long, value_delimiter = ',')]
        policy: Vec<String>,
        /// Resources the key may act on, comma-separated RAM ARNs with `*` wildcards; for
        /// the ingest-control actions the domain, e.g.
        /// `acs:cdn:*:*:domain/live.example.com`. Default: every resource.
        #[arg(long, value_delimiter = ',')]
        resources: Vec<String>,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Lists keys (without secrets).
    List {
        #[command(flatten)]
        dir: DataDir,
    },
    /// Deletes a key.
    Delete {
        /// The AccessKeyId to delete; the running server refuses it within a second.
        access_key_id: String,
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(Subcommand, Debug)]
pub enum DomainCommand {
    /// Adds an ingest domain for an account. Once any domain is configured, publishing to a
    /// domain nobody owns is refused.
    Add {
        /// The domain publishers use (URL host or `vhost`): `live.example.com`, `127.0.0.1`,
        /// or `*.example.com` for every subdomain.
        name: String,
        /// The account that owns it (ForbidLiveStream etc. act on it).
        #[arg(long, default_value = ROOT_ACCOUNT)]
        account: String,
        /// Require signed publish URLs (`auth_key`), with a generated key (printed).
        #[arg(long)]
        publish_auth: bool,
        /// Require signed publish URLs with this key (at least 16 characters).
        #[arg(long, conflicts_with = "publish_auth")]
        publish_auth_key: Option<String>,
        /// How long a signed URL stays valid after its timestamp.
        #[arg(long, value_parser = crate::duration::parse, default_value = "30m")]
        auth_validity: std::time::Duration,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Removes an ingest domain.
    Remove {
        name: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Lists ingest domains.
    List {
        #[command(flatten)]
        dir: DataDir,
    },
    /// Prints a signed publish URL (`?auth_key=timestamp-rand-uid-md5hash`) for a domain
    /// that requires one.
    Sign {
        /// `rtmp://HOST[:PORT]/APP/STREAM`; the domain is HOST unless `--domain` says otherwise.
        url: String,
        /// The ingest domain whose key signs (default: the URL's host).
        #[arg(long)]
        domain: Option<String>,
        /// The signature's timestamp, Unix seconds (default: now). The URL is valid until
        /// timestamp + the domain's validity.
        #[arg(long)]
        timestamp: Option<i64>,
        #[command(flatten)]
        dir: DataDir,
    },
}

pub fn domain(command: DomainCommand) -> anyhow::Result<ExitCode> {
    match command {
        DomainCommand::Add {
            name,
            account,
            publish_auth,
            publish_auth_key,
            auth_validity,
            dir,
        } => {
            let name = name.to_ascii_lowercase();
            let file = file(&dir)?;
            let mut c = file.load()?;
            anyhow::ensure!(
                !c.domains.iter().any(|d| d.name == name),
                "domain {name} exists (remove it first)"
            );
            anyhow::ensure!(
                account == ROOT_ACCOUNT || c.accounts.iter().any(|a| a.id == account),
                "no account {account} (create it with `baton account create {account}`)"
            );
            let key = match (publish_auth, publish_auth_key) {
                (_, Some(key)) => Some(key),
                (true, None) => Some(random_string(32)),
                (false, None) => None,
            };
            c.domains.push(DomainConfig {
                name: name.clone(),
                account: account.clone(),
                publish_auth_key: key.clone(),
                publish_auth_key2: None,
                publish_auth_validity: key.as_ref().map(|_| auth_validity.as_secs().max(1)),
            });
            file.save(&c)?;
            println!("domain {name} added for account {account}");
            if let Some(key) = key {
                println!("publish auth key: {key}");
            }
        }
        DomainCommand::Remove { name, dir } => {
            let file = file(&dir)?;
            let mut c = file.load()?;
            let before = c.domains.len();
            c.domains.retain(|d| d.name != name.to_ascii_lowercase());
            anyhow::ensure!(c.domains.len() < before, "no domain {name}");
            file.save(&c)?;
            println!("domain {name} removed");
        }
        DomainCommand::List { dir } => {
            for d in file(&dir)?.load()?.domains {
                let auth = match d.publish_auth() {
                    Some(a) => format!("signed URLs, valid {} s", a.validity),
                    None => "open".to_string(),
                };
                println!("{}\t{}\t{}", d.name, d.account, auth);
            }
        }
        DomainCommand::Sign {
            url,
            domain,
            timestamp,
            dir,
        } => {
            let parsed =
                baton_rtmp::url::RtmpUrl::parse(&url).map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
            let (app, _) = split_query(&parsed.app);
            let (stream, stream_query) = split_query(&parsed.stream);
            let domain = domain
                .unwrap_or_else(|| resolve_domain(Some(&parsed.tc_url), &parsed.app, stream_query))
                .to_ascii_lowercase();
            let c = file(&dir)?.load()?;
            let entry = c.domain(&domain).ok_or_else(|| {
                anyhow::anyhow!("no domain {domain} in {}", dir.data_dir.display())
            })?;
            let auth = entry
                .publish_auth()
                .ok_or_else(|| anyhow::anyhow!("domain {domain} does not require signed URLs"))?;
            let timestamp = timestamp.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64)
            });
            let rand = random_string(32).to_ascii_lowercase();
            let auth_key = auth.sign(app, stream, timestamp, &rand, "0");
            let sep = if url.contains('?') { '&' } else { '?' };
            println!("{url}{sep}auth_key={auth_key}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn account(command: AccountCommand) -> anyhow::Result<ExitCode> {
    match command {
        AccountCommand::Create { id, dir } => {
            anyhow::ensure!(
                !id.is_empty()
                    && id.len() <= 64
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "an account id is 1 to 64 letters, digits, '-' or '_'"
            );
            let file = file(&dir)?;
            let mut c = file.load()?;
            anyhow::ensure!(
                !c.accounts.iter().any(|a| a.id == id),
                "account {id} exists"
            );
            let secret = random_string(CALLBACK_SECRET_LEN);
            c.accounts.push(AccountConfig {
                id: id.clone(),
                callback_secret: secret.clone(),
            });
            file.save(&c)?;
            println!("account {id} created\ncallback secret: {secret}");
        }
        AccountCommand::RotateCallbackSecret { id, dir } => {
            let file = file(&dir)?;
            let mut c = file.load()?;
            let named = id == ROOT_ACCOUNT
                || c.accounts.iter().any(|a| a.id == id)
                || c.api_keys.iter().any(|k| k.account == id)
                || c.tokens.iter().any(|t| t.account == id)
                || c.domains.iter().any(|d| d.account == id);
            anyhow::ensure!(
                named,
                "no account {id} (create it with `baton account create {id}`)"
            );
            let secret = random_string(CALLBACK_SECRET_LEN);
            match c.accounts.iter_mut().find(|a| a.id == id) {
                Some(a) => a.callback_secret.clone_from(&secret),
                None => c.accounts.push(AccountConfig {
                    id: id.clone(),
                    callback_secret: secret.clone(),
                }),
            }
            file.save(&c)?;
            println!("account {id}: new callback secret (shown once)\ncallback secret: {secret}");
        }
        AccountCommand::List { dir } => {
            let c = file(&dir)?.load()?;
            for a in &c.accounts {
                let keys = c.api_keys.iter().filter(|k| k.account == a.id).count();
                println!("{}\t{} key(s)", a.id, keys);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn key(command: KeyCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeyCommand::Create {
            account,
            policy,
            resources,
            dir,
        } => {
            let file = file(&dir)?;
            let mut c = file.load()?;
            anyhow::ensure!(
                account == ROOT_ACCOUNT || c.accounts.iter().any(|a| a.id == account),
                "no account {account} (create it with `baton account create {account}`)"
            );
            let key = ApiKeyConfig {
                access_key_id: format!("LTAI{}", random_string(20)),
                access_key_secret: random_string(30),
                account,
                policy,
                resources,
            };
            c.api_keys.push(key.clone());
            file.save(&c)?;
            println!(
                "AccessKeyId:     {}\nAccessKeySecret: {}\naccount:         {}",
                key.access_key_id, key.access_key_secret, key.account
            );
        }
        KeyCommand::List { dir } => {
            for k in file(&dir)?.load()?.api_keys {
                let policy = if k.policy.is_empty() {
                    "*".to_string()
                } else {
                    k.policy.join(",")
                };
                println!("{}\t{}\t{}", k.access_key_id, k.account, policy);
            }
        }
        KeyCommand::Delete { access_key_id, dir } => {
            let file = file(&dir)?;
            let mut c = file.load()?;
            let before = c.api_keys.len();
            c.api_keys.retain(|k| k.access_key_id != access_key_id);
            anyhow::ensure!(c.api_keys.len() < before, "no key {access_key_id}");
            file.save(&c)?;
            println!("key {access_key_id} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Creates a bearer token for the native API (`/v1`) of an account. The token is printed
    /// once, on the last line; only its SHA-256 is stored.
    Create {
        /// The account the token acts for.
        #[arg(long, default_value = ROOT_ACCOUNT)]
        account: String,
        /// A unique name (default: generated).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Lists tokens (names and accounts; tokens themselves are not stored).
    List {
        #[command(flatten)]
        dir: DataDir,
    },
    /// Revokes a token; the running server refuses it within a second.
    Revoke {
        name: String,
        #[command(flatten)]
        dir: DataDir,
    },
}

pub fn token(command: TokenCommand) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Create { account, name, dir } => {
            let (name, token) = create_token(&dir, &account, name)?;
            eprintln!("token {name} for account {account} (shown once; keep it secret):");
            println!("{token}");
        }
        TokenCommand::List { dir } => {
            for t in file(&dir)?.load()?.tokens {
                println!("{}\t{}\t{}", t.name, t.account, t.created_at);
            }
        }
        TokenCommand::Revoke { name, dir } => {
            let file = file(&dir)?;
            let mut c = file.load()?;
            let before = c.tokens.len();
            c.tokens.retain(|t| t.name != name);
            anyhow::ensure!(c.tokens.len() < before, "no token {name}");
            file.save(&c)?;
            println!("token {name} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Creates a native-API token for `account` in `dir` (named `name`, else generated) and
/// returns its name and the token, which exists nowhere else: only its SHA-256 is stored.
pub fn create_token(
    dir: &DataDir,
    account: &str,
    name: Option<String>,
) -> anyhow::Result<(String, String)> {
    let file = file(dir)?;
    let mut c = file.load()?;
    anyhow::ensure!(
        account == ROOT_ACCOUNT || c.accounts.iter().any(|a| a.id == account),
        "no account {account} (create it with `baton account create {account}`)"
    );
    let name = name.unwrap_or_else(|| format!("token-{}", random_string(8)));
    anyhow::ensure!(
        !name.is_empty() && !name.chars().any(char::is_control),
        "a token name must be non-empty text"
    );
    anyhow::ensure!(
        !c.tokens.iter().any(|t| t.name == name),
        "a token named {name} exists (revoke it first, or pick another --name)"
    );
    let token = format!("btn_{}", random_string(40));
    c.tokens.push(TokenConfig {
        name: name.clone(),
        account: account.to_string(),
        sha256: baton_api::common::signature::sha256_hex(token.as_bytes()),
        created_at: baton_domain::time::rfc3339(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        ),
    });
    file.save(&c)?;
    Ok((name, token))
}

fn file(dir: &DataDir) -> anyhow::Result<CredentialsFile> {
    crate::datadir::secure(&dir.data_dir)?;
    Ok(CredentialsFile::in_dir(&dir.data_dir))
}
