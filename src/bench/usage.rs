//! What each process used over a run: CPU seconds and peak memory, from /proc, Redis's `INFO`
//! and PostgreSQL's backends.

use anyhow::Context as _;

/// CPU seconds and peak resident memory (kB) of a process, from /proc.
pub fn usage(pid: u32) -> Option<(f64, u64)> {
    portal_common::process::usage(&pid.to_string()).map(|u| (u.cpu_seconds, u.peak_resident_kb))
}

/// Redis's CPU seconds so far and its own peak memory in kB, from `INFO`: the server may be on
/// another host, where /proc cannot see it.
pub async fn redis_usage(url: &str) -> anyhow::Result<(f64, u64)> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO").query_async(&mut connection).await?;
    let field = |name: &str| -> anyhow::Result<f64> {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .with_context(|| format!("INFO has no {name}"))?
            .trim()
            .parse::<f64>()
            .with_context(|| format!("INFO {name}"))
    };
    let cpu = field("used_cpu_sys")? + field("used_cpu_user")?;
    Ok((cpu, (field("used_memory_peak")? / 1024.0) as u64))
}

/// CPU seconds of the PostgreSQL backends serving the databases at `urls`, and the largest
/// backend's peak memory (kB), from /proc: only when the server runs on this machine. The
/// backends are the portal's pooled connections, opened when it started.
pub async fn postgres_usage(urls: &[&str]) -> anyhow::Result<Option<(f64, u64)>> {
    use sea_orm::{ConnectionTrait as _, Database, DbBackend, Statement};
    let sql = "SELECT pid FROM pg_stat_activity \
               WHERE datname = current_database() AND pid <> pg_backend_pid()";
    let mut pids = Vec::new();
    for url in urls {
        let db = Database::connect(*url).await?;
        for row in db
            .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await?
        {
            pids.push(row.try_get::<i32>("", "pid")?);
        }
        db.close().await?;
    }
    // A server elsewhere has its own process ids: only a PostgreSQL process here is read.
    let local = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
    };
    let usages: Vec<(f64, u64)> = pids
        .into_iter()
        .filter_map(|pid| u32::try_from(pid).ok())
        .filter(|pid| local(*pid))
        .filter_map(usage)
        .collect();
    Ok((!usages.is_empty()).then(|| {
        let cpu = usages.iter().map(|(cpu, _)| cpu).sum();
        let peak = usages.iter().map(|(_, peak)| *peak).max().unwrap_or(0);
        (cpu, peak)
    }))
}
