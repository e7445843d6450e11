//! `portal bench` runs every scenario against a portal it starts itself and reports each in the
//! documented JSON shape. Only that it works is checked here: its numbers belong to
//! docs/performance.md, never to a pass/fail test.

use std::process::Command;

#[test]
fn every_scenario_runs_and_reports_its_json() {
    let data_dir =
        std::env::temp_dir().join(format!("portal-bench-test-{:016x}", rand::random::<u64>()));
    let out = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["bench", "all", "--json", "--concurrency", "2"])
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
    let stdout = String::from_utf8(out.stdout).unwrap();
    let scenarios: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("{\"scenario\""))
        .collect();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|l| l.split('"').nth(3).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "health",
            "record-direct",
            "my-record",
            "sign-in",
            "certificate",
            "employer-check",
            "bulk-check"
        ]
    );
    for line in scenarios {
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
    assert!(stdout.contains("{\"process\":\"portal up\""));
}
