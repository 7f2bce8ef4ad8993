//! File descriptors: the process's soft `RLIMIT_NOFILE` is raised to the hard limit at start,
//! and the listeners' connection caps are made to fit under it, so that a flood of one
//! listener (idle sockets, slowloris) runs into that listener's own cap — never into the fd
//! limit that RTMP ingest, HTTP-FLV, `/healthz`, the database and the relays share.

/// File descriptors kept for everything that is not a listener's connection: the database
/// and its WAL, relays' source and destination sockets, played files, callback deliveries.
pub const FD_RESERVE: u64 = 256;

/// Raises the soft limit on open files to the hard limit; the limit in force after (`None` if
/// it cannot be read).
pub fn raise_fd_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}

/// The listeners' caps (`caps`, in any order) fitted under `fd_limit` less [`FD_RESERVE`]:
/// unchanged when they fit, else each scaled down in proportion (at least 1).
pub fn fit_caps<const N: usize>(fd_limit: u64, caps: [usize; N]) -> [usize; N] {
    let budget = fd_limit.saturating_sub(FD_RESERVE).max(N as u64);
    let total: u64 = caps.iter().map(|&c| c as u64).sum();
    if total <= budget {
        return caps;
    }
    caps.map(|c| ((c as u128 * budget as u128 / total as u128) as usize).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_that_fit_are_kept() {
        assert_eq!(fit_caps(1 << 20, [4096, 512, 4096]), [4096, 512, 4096]);
        assert_eq!(fit_caps(256 + 300, [100, 100, 100]), [100, 100, 100]);
    }

    #[test]
    fn caps_that_do_not_fit_share_what_there_is() {
        // The default caps under the common soft limit of 1024: the sum stays below it.
        let caps = fit_caps(1024, [4096, 512, 4096]);
        let sum: usize = caps.iter().sum();
        assert!(sum as u64 <= 1024 - FD_RESERVE, "{caps:?}");
        assert_eq!(caps, [361, 45, 361]);
        assert_eq!(fit_caps(10, [5, 5, 5]), [1, 1, 1]);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let now = raise_fd_limit().unwrap();
        assert!(now >= soft && now <= hard, "{soft} → {now} (hard {hard})");
        assert_eq!(rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap().0, now);
        #[cfg(target_os = "linux")]
        assert_eq!(now, hard);
    }
}
