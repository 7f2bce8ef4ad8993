//! Process accounting from /proc: CPU time (utime + stime, and the nanosecond run time from
//! schedstat), memory (RSS, USS) and a description of the machine.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// CPU time consumed so far by a set of processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// utime + stime, in clock ticks (proc(5) /proc/PID/stat fields 14 and 15).
    pub ticks: u64,
    /// Time on a CPU in nanoseconds, summed over the live threads (/proc/PID/task/*/schedstat
    /// field 1): the same quantity as utime + stime, without the 10 ms tick rounding.
    pub run_ns: u64,
}

impl CpuTime {
    /// CPU time of `pids`, summed. A process that has exited contributes nothing.
    pub fn of(pids: &[u32]) -> CpuTime {
        let mut total = CpuTime::default();
        for &pid in pids {
            if let Ok(t) = cpu_ticks(pid) {
                total.ticks += t;
            }
            total.run_ns += run_ns(pid);
        }
        total
    }

    /// Percent of one core used between `self` and the later sample `end`, over `seconds`.
    pub fn percent_until(&self, end: &CpuTime, seconds: f64, ticks_per_second: u64) -> (f64, f64) {
        let ticks = end.ticks.saturating_sub(self.ticks) as f64 / ticks_per_second as f64;
        let ns = end.run_ns.saturating_sub(self.run_ns) as f64 / 1e9;
        (100.0 * ticks / seconds, 100.0 * ns / seconds)
    }
}

/// Resident memory of a set of processes, in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// VmRSS: resident pages, shared ones (libraries) included.
    pub rss_kib: u64,
    /// Unique set size: Private_Clean + Private_Dirty, what the processes alone cost.
    pub uss_kib: u64,
}

impl Memory {
    /// Memory of `pids`, summed. A process that has exited contributes nothing.
    pub fn of(pids: &[u32]) -> Memory {
        let mut total = Memory::default();
        for &pid in pids {
            if let Ok(m) = memory(pid) {
                total.rss_kib += m.rss_kib;
                total.uss_kib += m.uss_kib;
            }
        }
        total
    }
}

/// CPU time the whole machine spent busy (all but idle and iowait), in clock ticks, from the
/// first line of /proc/stat. Lets a report say how much *else* ran during a measurement.
pub fn machine_busy_ticks() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...; guest time is already in user.
    let busy = fields.iter().take(8).sum::<u64>() - fields.get(3)? - fields.get(4)?;
    Some(busy)
}

/// utime + stime of one process (all its threads), in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    parse_stat_cpu(&stat).with_context(|| format!("parsing /proc/{pid}/stat"))
}

/// VmRSS and USS of one process.
pub fn memory(pid: u32) -> Result<Memory> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .with_context(|| format!("reading /proc/{pid}/smaps_rollup"))?;
    Ok(Memory {
        rss_kib: kib_field(&status, "VmRSS:").unwrap_or(0),
        uss_kib: kib_field(&rollup, "Private_Clean:").unwrap_or(0)
            + kib_field(&rollup, "Private_Dirty:").unwrap_or(0),
    })
}

/// Direct children of `pid` (e.g. nginx's worker), from /proc/PID/task/*/children, falling
/// back to a scan of /proc for kernels without that file.
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(list) = fs::read_to_string(task.path().join("children")) {
                out.extend(
                    list.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
    }
    if out.is_empty()
        && let Ok(entries) = fs::read_dir("/proc")
    {
        for e in entries.flatten() {
            let Some(child) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let ppid = fs::read_to_string(e.path().join("stat"))
                .ok()
                .and_then(|s| parse_stat_field(&s, 4));
            if ppid == Some(u64::from(pid)) {
                out.push(child);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Clock ticks per second for /proc/PID/stat (USER_HZ), from `getconf CLK_TCK`; 100 (the
/// value on every mainstream Linux architecture) when that fails.
pub fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// The machine a benchmark ran on.
#[derive(Clone, Debug)]
pub struct MachineInfo {
    pub cpu_model: String,
    pub cores: usize,
    pub kernel: String,
    pub memory_mib: u64,
}

impl MachineInfo {
    pub fn collect() -> MachineInfo {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".to_string(), |(_, v)| v.trim().to_string());
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
        MachineInfo {
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".to_string(), |s| s.trim().to_string()),
            memory_mib: kib_field(&meminfo, "MemTotal:").unwrap_or(0) / 1024,
        }
    }
}

/// The first line a tool prints about its version (`nginx -v` writes to stderr).
pub fn tool_version(program: &str, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
}

/// Whether `program` can be run (found on PATH).
pub fn installed(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| Path::new(&dir).join(program).is_file())
    })
}

/// Sum of schedstat run times over the live threads of `pid`; 0 when unavailable.
fn run_ns(pid: u32) -> u64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// utime + stime from the text of /proc/PID/stat.
fn parse_stat_cpu(stat: &str) -> Result<u64> {
    match (parse_stat_field(stat, 14), parse_stat_field(stat, 15)) {
        (Some(u), Some(s)) => Ok(u + s),
        _ => bail!("no utime/stime fields"),
    }
}

/// Field `n` (1-based, as numbered in proc(5)) of /proc/PID/stat. The command name (field 2)
/// is parenthesised and may contain spaces and parentheses, so fields are counted from the
/// last ')'.
fn parse_stat_field(stat: &str, n: usize) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts with field 3 (state).
    rest.split_whitespace().nth(n.checked_sub(3)?)?.parse().ok()
}

/// The number of a `Name:   1234 kB` line.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_odd_command_names() {
        let stat = "4242 (a b) (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 1 0";
        assert_eq!(parse_stat_field(stat, 4), Some(1));
        assert_eq!(parse_stat_cpu(stat).ok(), Some(22));
        assert!(parse_stat_cpu("garbage").is_err());
        assert!(parse_stat_cpu("1 (x) S 1").is_err());
    }

    #[test]
    fn kib_fields() {
        let status = "Name:\tx\nVmRSS:\t   1234 kB\nVmSwap:\t0 kB\n";
        assert_eq!(kib_field(status, "VmRSS:"), Some(1234));
        assert_eq!(kib_field(status, "VmHWM:"), None);
    }

    #[test]
    fn this_process_is_measurable() {
        let me = std::process::id();
        assert!(memory(me).expect("own memory").rss_kib > 0);
        assert!(cpu_ticks(me).is_ok());
        let a = CpuTime::of(&[me]);
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        let b = CpuTime::of(&[me]);
        assert!(b.run_ns >= a.run_ns);
        assert!(MachineInfo::collect().cores >= 1);
        assert!(machine_busy_ticks().is_some());
    }
}
