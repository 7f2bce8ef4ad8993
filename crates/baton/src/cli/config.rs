//! Where the API commands find the endpoint and the token: `--endpoint` / `--token`, then
//! `BATON_ENDPOINT` / `BATON_TOKEN`, then the config file (`$BATON_CLI_CONFIG`, else
//! `~/.config/baton/cli.toml`), then the default endpoint. Each value resolves separately, so
//! a token in the file works with an endpoint in the environment.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// `baton serve`'s default API listener.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";

/// `cli.toml`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub endpoint: Option<String>,
    pub token: Option<String>,
}

/// The config file to read, and whether it was named explicitly (an explicitly named file
/// must exist; the default one may be absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPath {
    pub path: PathBuf,
    pub explicit: bool,
}

impl ConfigPath {
    /// `$BATON_CLI_CONFIG`, else `$HOME/.config/baton/cli.toml`; None without either.
    pub fn locate(env: &dyn Fn(&str) -> Option<String>) -> Option<ConfigPath> {
        if let Some(p) = env("BATON_CLI_CONFIG").filter(|p| !p.is_empty()) {
            return Some(ConfigPath {
                path: PathBuf::from(p),
                explicit: true,
            });
        }
        let home = env("HOME").filter(|h| !h.is_empty())?;
        Some(ConfigPath {
            path: Path::new(&home).join(".config/baton/cli.toml"),
            explicit: false,
        })
    }

    pub fn load(&self) -> anyhow::Result<FileConfig> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.explicit => {
                return Ok(FileConfig::default());
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("reading the CLI config file {}", self.path.display())
                });
            }
        };
        toml::from_str(&text).with_context(|| {
            format!(
                "parsing the CLI config file {} (keys: endpoint, token)",
                self.path.display()
            )
        })
    }
}

/// The effective endpoint and token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub endpoint: String,
    pub token: Option<String>,
    /// The file consulted, for error messages.
    pub file: Option<PathBuf>,
}

/// Flag, then environment, then file, then default. Empty values count as absent.
pub fn resolve(
    flag_endpoint: Option<&str>,
    flag_token: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<(&ConfigPath, FileConfig)>,
) -> Resolved {
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let (path, file) = match file {
        Some((p, f)) => (Some(p.path.clone()), f),
        None => (None, FileConfig::default()),
    };
    let endpoint = given(flag_endpoint.map(str::to_string))
        .or_else(|| given(env("BATON_ENDPOINT")))
        .or_else(|| given(file.endpoint))
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    let token = given(flag_token.map(str::to_string))
        .or_else(|| given(env("BATON_TOKEN")))
        .or_else(|| given(file.token));
    Resolved {
        endpoint: endpoint.trim().to_string(),
        token: token.map(|t| t.trim().to_string()),
        file: path,
    }
}

/// The error for a missing token, naming the three ways to give one.
pub fn missing_token(file: Option<&Path>) -> String {
    let file = match file {
        Some(p) => p.display().to_string(),
        None => "~/.config/baton/cli.toml".to_string(),
    };
    format!(
        "no API token: pass --token TOKEN, set BATON_TOKEN, or put `token = \"...\"` in {file} \
         (BATON_CLI_CONFIG names another file); create a token with \
         `baton token create --account NAME`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    fn file(endpoint: Option<&str>, token: Option<&str>) -> FileConfig {
        FileConfig {
            endpoint: endpoint.map(str::to_string),
            token: token.map(str::to_string),
        }
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let path = ConfigPath {
            path: "/x/cli.toml".into(),
            explicit: false,
        };
        let full_env = env(&[
            ("BATON_ENDPOINT", "http://env:1"),
            ("BATON_TOKEN", "env-token"),
        ]);
        let r = resolve(
            Some("http://flag:1"),
            Some("flag-token"),
            &full_env,
            Some((&path, file(Some("http://file:1"), Some("file-token")))),
        );
        assert_eq!(r.endpoint, "http://flag:1");
        assert_eq!(r.token.as_deref(), Some("flag-token"));

        let r = resolve(
            None,
            None,
            &full_env,
            Some((&path, file(Some("http://file:1"), Some("file-token")))),
        );
        assert_eq!(r.endpoint, "http://env:1");
        assert_eq!(r.token.as_deref(), Some("env-token"));

        let r = resolve(
            None,
            None,
            &env(&[("BATON_TOKEN", "")]),
            Some((&path, file(Some("http://file:1"), Some("file-token")))),
        );
        assert_eq!(r.endpoint, "http://file:1");
        assert_eq!(r.token.as_deref(), Some("file-token"));
        assert_eq!(r.file.as_deref(), Some(Path::new("/x/cli.toml")));

        // Each value on its own: the endpoint from the environment, the token from the file.
        let r = resolve(
            None,
            None,
            &env(&[("BATON_ENDPOINT", "http://env:1")]),
            Some((&path, file(None, Some("file-token")))),
        );
        assert_eq!(r.endpoint, "http://env:1");
        assert_eq!(r.token.as_deref(), Some("file-token"));

        let r = resolve(None, None, &env(&[]), None);
        assert_eq!(r.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(r.token, None);
    }

    #[test]
    fn locates_the_file() {
        let p = ConfigPath::locate(&env(&[("BATON_CLI_CONFIG", "/etc/b.toml"), ("HOME", "/h")]));
        assert_eq!(
            p,
            Some(ConfigPath {
                path: "/etc/b.toml".into(),
                explicit: true
            })
        );
        let p = ConfigPath::locate(&env(&[("HOME", "/h")])).unwrap();
        assert_eq!(p.path, PathBuf::from("/h/.config/baton/cli.toml"));
        assert!(!p.explicit);
        assert_eq!(ConfigPath::locate(&env(&[])), None);
    }

    #[test]
    fn reads_the_file() {
        let dir = std::env::temp_dir().join(format!(
            "baton-cli-config-{}",
            crate::credentials::random_string(8)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cli.toml");
        std::fs::write(
            &path,
            "endpoint = \"https://baton.example.com\"\ntoken = \"t0k\"\n",
        )
        .unwrap();
        let explicit = ConfigPath {
            path: path.clone(),
            explicit: true,
        };
        assert_eq!(
            explicit.load().unwrap(),
            file(Some("https://baton.example.com"), Some("t0k"))
        );
        std::fs::write(&path, "endpiont = \"x\"\n").unwrap();
        assert!(explicit.load().is_err(), "typos are errors");

        let missing = ConfigPath {
            path: dir.join("absent.toml"),
            explicit: false,
        };
        assert_eq!(missing.load().unwrap(), FileConfig::default());
        let missing = ConfigPath {
            explicit: true,
            ..missing
        };
        assert!(missing.load().is_err(), "a named file must exist");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_token_names_every_way() {
        let m = missing_token(None);
        for needle in [
            "--token",
            "BATON_TOKEN",
            "~/.config/baton/cli.toml",
            "BATON_CLI_CONFIG",
        ] {
            assert!(m.contains(needle), "{m}");
        }
        assert!(missing_token(Some(Path::new("/etc/b.toml"))).contains("/etc/b.toml"));
    }
}
