//! `portal up` as a process: it logs where the gateway listens once it answers, and on SIGTERM
//! turns health NOT_SERVING, lets calls finish, and exits 0.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn sigterm_turns_health_not_serving_then_exits_zero() {
    let data_dir =
        std::env::temp_dir().join(format!("portal-shutdown-{:016x}", rand::random::<u64>()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal"))
        .arg("up")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTAL_GATEWAY_ADDR", "127.0.0.1:0")
        .env("PORTAL_DATA_DIR", &data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("portal starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a log line");
        if let Some((_, rest)) = line.split_once("gateway listening on ") {
            break rest.split('"').next().unwrap().to_owned();
        }
    };

    let mut health = HealthClient::new(
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy(),
    );
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "dqt.portal.v1.TeacherPortal".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let next = tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .expect("health changes")
        .unwrap()
        .unwrap();
    assert_eq!(next.status(), ServingStatus::NotServing);
    drop(watch);
    drop(health);

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "portal did not stop before its 10 s grace period"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    let _ = std::fs::remove_dir_all(&data_dir);
}
