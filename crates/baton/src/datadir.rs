//! The data directory is private: it holds stream keys (tasks' URLs), API and callback
//! secrets. The directory is `0700`, the files Baton keeps there `0600` — created so, and
//! tightened (with a log line) at start when an older install or a hand-made copy left them
//! readable by others.
//!
//! SQLite creates a database's `-wal` and `-shm` with the permissions of the database file,
//! so both database files (`baton.db`, and `baton-replay.db` of the replay protection) are
//! created here, empty and private, before the store opens them.

use std::path::{Path, PathBuf};

use anyhow::Context;

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
    let mut tightened = Vec::new();
    create_private_dir(dir).with_context(|| format!("creating data dir {}", dir.display()))?;
    if tighten(dir, 0o700)? {
        tightened.push(dir.to_path_buf());
    }
    for name in DATABASES {
        create_private_file(&dir.join(name))?;
    }
    for name in PRIVATE_FILES {
        let path = dir.join(name);
        if path.exists() && tighten(&path, 0o600)? {
            tightened.push(path);
        }
    }
    Ok(tightened)
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
