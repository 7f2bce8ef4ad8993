//! The data directory is private: it holds stream keys (tasks' URLs), API and callback
//! secrets. The directory is `0700`, the files Baton keeps there `0600` — created so, and
//! tightened (with a log line) at start when an older install or a hand-made copy left them
//! readable by others.
//!
//! SQLite creates a database's `-wal` and `-shm` with the permissions of the database file,
//! so both database files (`baton.db`, and `baton-replay.db` of the replay protection) are
//! created here, empty and private, before the store opens them.

//!
//! Who serves a data directory: `baton serve` holds an exclusive lock on
//! `<data-dir>/serve.json` while it runs (so a second server on the same directory is
//! refused) and writes its pid and API address there once the API listens. The admin
//! commands read it ([`running_server`]) to say whether a server picks up what they wrote; the
//! lock, not the file, is the truth — a killed server's lock goes with its process.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The files Baton keeps in the data directory.
const PRIVATE_FILES: [&str; 7] = [
    baton_store_sqlite::FILE_NAME,
    "baton.db-wal",
    "baton.db-shm",
    baton_store_sqlite::REPLAY_FILE_NAME,
    "baton-replay.db-wal",
    "baton-replay.db-shm",
    crate::credentials::FILE_NAME,
];

/// The database files, created empty and private before the store opens them.
const DATABASES: [&str; 2] = [
    baton_store_sqlite::FILE_NAME,
    baton_store_sqlite::REPLAY_FILE_NAME,
];

/// Creates `dir` (mode `0700`) and the empty database files (`0600`) if missing, and takes
/// group and other permissions away from the directory and the files that exist. Returns the
/// paths it tightened, for the log.
pub fn secure(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    secure_with(dir, true)
}

/// [`secure`], creating the SQLite database files only if `sqlite` (a server whose store is
/// PostgreSQL keeps none in its data dir).
pub fn secure_with(dir: &Path, sqlite: bool) -> anyhow::Result<Vec<PathBuf>> {
    let mut tightened = Vec::new();
    create_private_dir(dir).with_context(|| format!("creating data dir {}", dir.display()))?;
    if tighten(dir, 0o700)? {
        tightened.push(dir.to_path_buf());
    }
    if sqlite {
        for name in DATABASES {
            create_private_file(&dir.join(name))?;
        }
    }
    for name in PRIVATE_FILES {
        let path = dir.join(name);
        if path.exists() && tighten(&path, 0o600)? {
            tightened.push(path);
        }
    }
    Ok(tightened)
}

/// The running server's lock and announcement, in the data dir.
pub const SERVE_FILE: &str = "serve.json";

/// This node's identity on a shared database (docs/design/multi-node.md), in the data dir:
/// kept across restarts so that a restarted node claims its own tasks back first.
pub const NODE_ID_FILE: &str = "node-id";

/// The node ID kept in `dir` ([`NODE_ID_FILE`]): read, or on the first start of a node
/// created (a random v4 UUID) and written before it is used. A file that does not hold a
/// valid ID is refused by name, not replaced: replacing it would make the node a stranger to
/// its own leases.
pub fn node_id(dir: &Path) -> anyhow::Result<baton_domain::NodeId> {
    let path = dir.join(NODE_ID_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Uuid::new_v4().to_string();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            file.write_all(format!("{id}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            id
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    baton_domain::NodeId::parse(text.trim())
        .map_err(|e| anyhow::anyhow!("{}: not a node ID ({e})", path.display()))
}

/// Whether `dir` holds state a `baton serve` wrote: the credentials file (every first start
/// writes root's callback secret there) or a database with its migrations (an empty
/// `baton.db` is only what [`secure`] creates).
pub fn has_server_state(dir: &Path) -> bool {
    let size = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
    dir.join(crate::credentials::FILE_NAME).is_file() || size(baton_store_sqlite::FILE_NAME) > 0
}

/// What a running `baton serve` says about itself in [`SERVE_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeInfo {
    pub pid: u32,
    /// The control API, e.g. `http://127.0.0.1:8080` (None while the server starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
}

/// `baton serve`'s hold on its data dir: an exclusive lock on [`SERVE_FILE`] for the life of
/// the process; the file is removed on drop (the lock goes with the process in any case).
#[derive(Debug)]
pub struct ServeLock {
    file: std::fs::File,
    path: PathBuf,
}

impl ServeLock {
    /// Locks `dir`'s [`SERVE_FILE`]; an error naming the other server when one holds it.
    pub fn acquire(dir: &Path) -> anyhow::Result<ServeLock> {
        let path = dir.join(SERVE_FILE);
        let mut file = open_private(&path)?;
        let mut reopened = 0;
        loop {
            match file.try_lock() {
                // A server stopping removes the file: a lock won on the removed file would
                // hold nothing. Open the file now at the path and lock that.
                Ok(()) if reopened < 3 && !same_file(&file, &path) => {
                    file = open_private(&path)?;
                    reopened += 1;
                }
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let other = running_server(dir)
                        .map(|s| describe(&s))
                        .unwrap_or_else(|| "another baton serve".to_string());
                    anyhow::bail!(
                        "{other} is using the data dir {}; stop it first, or give this one \
                         another --data-dir",
                        absolute(dir).display()
                    );
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("locking {}", path.display()));
                }
            }
        }
        let mut lock = ServeLock { file, path };
        lock.write(&ServeInfo {
            pid: std::process::id(),
            api: None,
        })?;
        Ok(lock)
    }

    /// Records the API's address (as bound) for the admin commands.
    pub fn announce(&mut self, api: std::net::SocketAddr) -> anyhow::Result<()> {
        self.write(&ServeInfo {
            pid: std::process::id(),
            api: Some(api_url(api)),
        })
    }

    fn write(&mut self, info: &ServeInfo) -> anyhow::Result<()> {
        let text = serde_json::to_string(info)? + "\n";
        (|| {
            self.file.set_len(0)?;
            self.file.rewind()?;
            self.file.write_all(text.as_bytes())?;
            self.file.flush()
        })()
        .with_context(|| format!("writing {}", self.path.display()))
    }
}

impl Drop for ServeLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The server running on `dir` (holding its lock), if any.
pub fn running_server(dir: &Path) -> Option<ServeInfo> {
    let mut file = std::fs::File::open(dir.join(SERVE_FILE)).ok()?;
    match file.try_lock_shared() {
        // Nobody holds it: a server that stopped (or was killed) left it.
        Ok(()) => None,
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            // Locked but not yet written: a server in its first instants.
            Some(serde_json::from_str(&text).unwrap_or(ServeInfo { pid: 0, api: None }))
        }
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

/// "the server at http://… (pid N)".
pub fn describe(server: &ServeInfo) -> String {
    match (&server.api, server.pid) {
        (Some(api), pid) => format!("the server at {api} (pid {pid})"),
        (None, 0) => "a starting baton serve".to_string(),
        (None, pid) => format!("a starting baton serve (pid {pid})"),
    }
}

/// `dir` as an absolute path (against the current directory), for messages.
pub fn absolute(dir: &Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// The URL of an API bound to `addr`; an unspecified address is reached through loopback.
fn api_url(addr: std::net::SocketAddr) -> String {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}")
}

/// Whether `file` is the file now at `path`.
#[cfg(unix)]
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &std::fs::File, path: &Path) -> bool {
    path.exists()
}

fn open_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    // Parents are created with the usual mode; only the data directory itself is private.
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

fn create_private_file(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Takes away every permission bit `mode` does not have; whether anything changed.
#[cfg(unix)]
fn tighten(path: &Path, mode: u32) -> anyhow::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)
        .with_context(|| format!("reading the permissions of {}", path.display()))?
        .permissions()
        .mode()
        & 0o777;
    if current & !mode == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode))
        .with_context(|| format!("restricting the permissions of {}", path.display()))?;
    Ok(true)
}

#[cfg(not(unix))]
fn tighten(_path: &Path, _mode: u32) -> anyhow::Result<bool> {
    Ok(false)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn a_new_data_dir_and_its_database_are_private() {
        let root = std::env::temp_dir().join(format!(
            "baton-datadir-{}",
            crate::credentials::random_string(8)
        ));
        let dir = root.join("data");
        assert_eq!(secure(&dir).unwrap(), Vec::<PathBuf>::new());
        assert_eq!(mode(&dir), 0o700);
        let store = baton_store_sqlite::SqliteStore::open(&dir).await.unwrap();
        // The migrations at open are writes: the WAL and its index exist now.
        for name in PRIVATE_FILES.iter().filter(|n| n.starts_with("baton")) {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        store.close().await;
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_node_id_is_created_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("baton-node-id-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join(NODE_ID_FILE));
        let first = node_id(&dir).unwrap();
        assert_eq!(first.as_str().len(), 36, "a UUID: {first}");
        assert_eq!(node_id(&dir).unwrap(), first, "kept across starts");
        #[cfg(unix)]
        assert_eq!(mode(&dir.join(NODE_ID_FILE)) & 0o777, 0o600);
        std::fs::write(dir.join(NODE_ID_FILE), "two words\n").unwrap();
        let e = node_id(&dir).unwrap_err().to_string();
        assert!(e.contains("node-id") && e.contains("not a node ID"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn one_server_holds_a_data_dir_and_says_where_its_api_is() {
        let dir = std::env::temp_dir().join(format!(
            "baton-datadir-{}",
            crate::credentials::random_string(8)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(running_server(&dir), None);
        let mut lock = ServeLock::acquire(&dir).unwrap();
        let pid = std::process::id();
        assert_eq!(running_server(&dir), Some(ServeInfo { pid, api: None }));
        lock.announce("0.0.0.0:8080".parse().unwrap()).unwrap();
        let info = running_server(&dir).unwrap();
        assert_eq!(info.api.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(
            describe(&info),
            format!("the server at http://127.0.0.1:8080 (pid {pid})")
        );
        let second = ServeLock::acquire(&dir).unwrap_err().to_string();
        assert!(second.contains("is using the data dir"), "{second}");
        drop(lock);
        assert!(!dir.join(SERVE_FILE).exists());
        assert_eq!(running_server(&dir), None);
        // A file left by a killed server (no lock) is no server.
        std::fs::write(dir.join(SERVE_FILE), "{\"pid\":1}").unwrap();
        assert_eq!(running_server(&dir), None);
        drop(ServeLock::acquire(&dir).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn loose_permissions_are_tightened_and_reported() {
        let dir = std::env::temp_dir().join(format!(
            "baton-datadir-{}",
            crate::credentials::random_string(8)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        for name in ["baton.db", "baton.db-wal", "credentials.toml"] {
            std::fs::write(dir.join(name), b"").unwrap();
            std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644))
                .unwrap();
        }
        let mut tightened = secure(&dir).unwrap();
        tightened.sort();
        let mut expected = vec![
            dir.clone(),
            dir.join("baton.db"),
            dir.join("baton.db-wal"),
            dir.join("credentials.toml"),
        ];
        expected.sort();
        assert_eq!(tightened, expected);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("baton.db")), 0o600);
        assert_eq!(mode(&dir.join("credentials.toml")), 0o600);
        assert!(secure(&dir).unwrap().is_empty(), "once is enough");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
