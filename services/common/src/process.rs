//! What a process uses, read from Linux's /proc: for the `process_*` metrics of every server
//! and for `portal bench`'s report of each process in a run. Elsewhere there is nothing to read.

/// Clock ticks of /proc's times are 1/100 s on Linux (USER_HZ, fixed for user space).
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// User and system CPU time so far.
    pub cpu_seconds: f64,
    /// Resident memory now, and at its peak, in kB.
    pub resident_kb: u64,
    pub peak_resident_kb: u64,
    /// Virtual memory now, in kB.
    pub virtual_kb: u64,
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

/// The usage of process `pid`, or of this one for `"self"`.
pub fn usage(pid: &str) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces and parentheses: state is the
    // first, utime the 12th, stime the 13th, starttime the 20th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let number = |i: usize| fields.get(i)?.parse::<f64>().ok();
    let cpu_seconds = (number(11)? + number(12)?) / TICKS_PER_SECOND;
    let started_after_boot = number(19)? / TICKS_PER_SECOND;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some(Usage {
        cpu_seconds,
        resident_kb: kb("VmRSS:")?,
        peak_resident_kb: kb("VmHWM:")?,
        virtual_kb: kb("VmSize:")?,
        start_time_seconds: boot_time()? + started_after_boot,
    })
}

/// When this machine booted, in seconds since the Unix epoch.
fn boot_time() -> Option<f64> {
    std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// This process's open file descriptors, and the most it may open.
pub fn descriptors() -> Option<(u64, u64)> {
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count();
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let max = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((u64::try_from(open).ok()?, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_reads_back_plausibly() {
        let usage = usage("self").expect("a Linux /proc");
        assert!(usage.cpu_seconds >= 0.0);
        assert!(usage.resident_kb > 0 && usage.peak_resident_kb >= usage.resident_kb);
        assert!(usage.virtual_kb >= usage.resident_kb);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(usage.start_time_seconds <= now + 1.0);
        assert!(usage.start_time_seconds > now - 24.0 * 3600.0);
        let (open, max) = descriptors().unwrap();
        assert!(open > 0 && max >= open);
    }
}
