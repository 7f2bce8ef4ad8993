//! Names the commit `baton --version` was built from, as `BATON_BUILD`: `commit
//! 1a2b3c4d5e6f, 2026-12-07` (12 hex digits, `-dirty` when tracked files differed from it,
//! and the commit's date: a commit date rather than the build's keeps builds of one commit
//! identical), `commit <BATON_COMMIT>`, or `commit unknown`.
//!
//! Where from, first found wins:
//! 1. git, when the crate sits in a git checkout of this workspace (a worktree, whose `.git` is
//!    a file, included): `git rev-parse` finds the git dirs, so the rerun triggers name the
//!    real `HEAD`, branch ref, `packed-refs` and index;
//! 2. the `BATON_COMMIT` environment variable (a source tarball's builder sets it);
//! 3. `unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BATON_COMMIT");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let (commit, date) = from_git(&manifest)
        .or_else(|| {
            let commit = std::env::var("BATON_COMMIT").ok()?;
            let commit = commit.trim();
            (!commit.is_empty()).then(|| (commit.to_string(), String::new()))
        })
        .unwrap_or_else(|| ("unknown".to_string(), String::new()));
    let build = if date.is_empty() {
        format!("commit {commit}")
    } else {
        format!("commit {commit}, {date}")
    };
    println!("cargo:rustc-env=BATON_BUILD={build}");
}

/// `git` in `dir`, its trimmed stdout when it succeeded.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn from_git(manifest: &Path) -> Option<(String, String)> {
    // A tarball unpacked inside some other repository must not take that repository's commit:
    // the checkout's top level has to be this workspace's (two levels above the crate).
    let top = PathBuf::from(git(manifest, &["rev-parse", "--show-toplevel"])?);
    let workspace = manifest.join("../..");
    if top.canonicalize().ok()? != workspace.canonicalize().ok()? {
        return None;
    }
    let absolute = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { manifest.join(p) }
    };
    let git_dir = absolute(git(manifest, &["rev-parse", "--git-dir"])?);
    let common_dir = absolute(git(manifest, &["rev-parse", "--git-common-dir"])?);
    let mut watched = vec![
        git_dir.join("HEAD"),
        git_dir.join("index"),
        common_dir.join("packed-refs"),
    ];
    // HEAD names a branch: a commit on it moves that ref, not HEAD.
    if let Some(reference) = git(manifest, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common_dir.join(reference));
    }
    // A path that does not exist would rerun the script on every build.
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let hash = git(manifest, &["rev-parse", "--short=12", "HEAD"])?;
    let date = git(manifest, &["log", "-1", "--format=%cs", "HEAD"]).unwrap_or_default();
    let dirty = git(manifest, &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    Some((if dirty { format!("{hash}-dirty") } else { hash }, date))
}
