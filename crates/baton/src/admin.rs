//! `baton account …` and `baton key …`: manage the accounts and API keys kept in
//! `<data-dir>/credentials.toml`. A running `baton serve` picks the changes up within a second.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::credentials::{
    AccountConfig, ApiKeyConfig, CredentialsFile, ROOT_ACCOUNT, random_string,
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
            let secret = random_string(40);
            c.accounts.push(AccountConfig {
                id: id.clone(),
                callback_secret: secret.clone(),
            });
            file.save(&c)?;
            println!("account {id} created\ncallback secret: {secret}");
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

fn file(dir: &DataDir) -> anyhow::Result<CredentialsFile> {
    std::fs::create_dir_all(&dir.data_dir)?;
    Ok(CredentialsFile::in_dir(&dir.data_dir))
}
