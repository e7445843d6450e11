//! `portal bench` runs every scenario against a portal it starts itself and reports each in the
//! documented JSON shape. Only that it works is checked here: its numbers belong to
//! docs/performance.md, never to a pass/fail test.

use crate::support;
use std::process::Command;

/// `portal bench <scenario>` on embedded stores: what it printed.
fn bench(scenario: &str) -> String {
    let data_dir =
        std::env::temp_dir().join(format!("portal-bench-test-{:016x}", rand::random::<u64>()));
    let out = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["bench", scenario, "--json", "--concurrency", "2"])
        .args(["--duration", "0.3", "--warmup", "0.1", "--teachers", "3"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTAL_DATA_DIR", &data_dir)
        .env("RUST_LOG", "error")
        .output()
        .expect("portal bench runs");
    let _ = std::fs::remove_dir_all(&data_dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The scenarios reported, each checked for the documented keys and no failed call.
fn scenarios(stdout: &str) -> Vec<&str> {
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("{\"scenario\""))
        .collect();
    for line in &lines {
        for key in [
            "\"requests\":",
            "\"rps\":",
            "\"p50_ms\":",
            "\"p90_ms\":",
            "\"p99_ms\":",
            "\"p999_ms\":",
            "\"max_ms\":",
        ] {
            assert!(line.contains(key), "{line} lacks {key}");
        }
        assert!(
            line.contains("\"errors\":{}"),
            "every call answered: {line}"
        );
        assert!(!line.contains("\"requests\":0,"), "{line}");
    }
    lines.iter().map(|l| l.split('"').nth(3).unwrap()).collect()
}

#[test]
fn every_scenario_runs_and_reports_its_json() {
    let stdout = bench("all");
    assert_eq!(
        scenarios(&stdout),
        [
            "health",
            "record-direct",
            "my-record",
            "sign-in",
            "certificate",
            "employer-check",
            "bulk-check",
            "secret-flood",
            "feed-write",
            "feed-lag",
            "feed-replay",
            "find-trn-found",
            "find-trn-none"
        ],
        "pg-commit only on PostgreSQL"
    );
    assert!(stdout.contains("{\"process\":\"portal up\""));
    assert_eq!(scenarios(&bench("evidence")), ["evidence"]);
}

/// On PostgreSQL and Redis it reports their CPU and memory beside its own and the portal's.
#[tokio::test]
async fn on_postgres_and_redis_it_reports_their_usage_too() {
    let tag = format!("{:016x}", rand::random::<u64>());
    let mut config = support::default_config();
    let Some(()) = support::create_databases(&mut config, &tag).await else {
        return;
    };
    let Some(redis) = support::reachable_redis().await else {
        return;
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_portal"));
    command
        .args(["bench", "all", "--json", "--concurrency", "2"])
        .args(["--duration", "0.3", "--warmup", "0.1", "--teachers", "2"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .env("PORTAL_REDIS_URL", redis)
        .env("PORTAL_REDIS_KEY_PREFIX", format!("portal_t_{tag}:"));
    for component in config.components() {
        if let Some(url) = component.database().and_then(|d| d.url) {
            let name = component.name().to_uppercase();
            command.env(format!("PORTAL_{name}_DATABASE_URL"), url);
        }
    }
    let out = command.output().expect("portal bench runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        scenarios(&stdout).contains(&"pg-commit"),
        "PostgreSQL's own commits measured beside the portal's"
    );
    for process in ["portal up", "bench", "redis", "postgres"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{{\"process\":\"{process}\"")))
            .unwrap_or_else(|| panic!("no usage of {process} in {stdout}"));
        assert!(line.contains("\"cpu_seconds\":"), "{line}");
        assert!(!line.contains("\"peak_rss_mb\":0.0"), "{line}");
    }
}
