//! Faults survived: each component runs as its own `portal serve` process on PostgreSQL and
//! Redis, and the tests break things under a stream of writes. The record service is hung and
//! then killed with SIGKILL; PostgreSQL (a cluster of the test's own) is crashed and restarted;
//! Redis (a server of the test's own) is stopped and started. Every acknowledged write must be
//! there afterwards, callers must get an answer within their deadline, calls that do not need
//! the broken part must keep working, and the portal must recover without being restarted.

use crate::support;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::authed;
use crate::support::processes::{Portal, free_port, run};
use crate::support::redis::RedisServer;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_client::AdministrationClient;
use portal_common::component::names;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::{Code, Request};

/// The deadline every call in these tests carries.
const DEADLINE: Duration = Duration::from_secs(2);
/// What an answer may take beyond its deadline: the time to carry it back.
const SLACK: Duration = Duration::from_secs(1);

/// A PostgreSQL cluster of the test's own, on its own port, removed when dropped.
struct Postgres {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
}

impl Postgres {
    /// `None` when PostgreSQL's server programs are not installed and CI does not require them.
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| versions.filter_map(Result::ok).map(|v| v.path()).max())
            .map(|version| version.join("bin"))
            .filter(|bin| bin.join("initdb").exists());
        let Some(bin) = bin else {
            assert!(
                !support::external_required(),
                "PostgreSQL's initdb is required"
            );
            eprintln!("no initdb; skipping");
            return None;
        };
        let dir = std::env::temp_dir().join(format!("portal-pg-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let postgres = Self {
            dir,
            port: free_port(),
            bin,
        };
        // PostgreSQL refuses to run as root: run it as `postgres` then.
        if Self::as_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&postgres.dir));
        }
        let data = postgres.dir.join("data");
        run(postgres.command("initdb").arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ]));
        postgres.pg_ctl("start");
        Some(postgres)
    }

    fn as_root() -> bool {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if Self::as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// `pg_ctl <action>`, waiting for it to finish; an immediate stop is a crash as far as the
    /// data is concerned: no checkpoint, recovery from the write-ahead log at the next start.
    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=100",
            self.port,
            self.dir.display()
        );
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "-o", &options])
            .arg("-l")
            .arg(self.dir.join("log"))
            .arg(action));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn with_deadline<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(DEADLINE);
    request
}

fn authed_with_deadline<T>(message: T, token: &str) -> Request<T> {
    let mut request = authed(message, token);
    request.set_timeout(DEADLINE);
    request
}

fn new_teacher(n: usize) -> pb::CreateTeacherRequest {
    pb::CreateTeacherRequest {
        first_name: "Faults".into(),
        last_name: format!("Writer{}", char::from(b'a' + (n % 26) as u8)),
        date_of_birth: "1985-04-12".into(),
        ..Default::default()
    }
}

/// What a stream of writes saw: the TRNs acknowledged, and each refusal's code and how long
/// it took to come.
#[derive(Default)]
struct Writes {
    acknowledged: Vec<String>,
    refused: Vec<(Code, Duration)>,
}

/// Creates teachers one after another until `stop`, each with [`DEADLINE`].
fn write_until(
    admin: AdministrationClient<Channel>,
    token: String,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Writes> {
    tokio::spawn(async move {
        let mut writes = Writes::default();
        let mut n = 0;
        while !stop.load(Ordering::SeqCst) {
            n += 1;
            let started = Instant::now();
            let answer = admin
                .clone()
                .create_teacher(authed_with_deadline(new_teacher(n), &token))
                .await;
            match answer {
                Ok(record) => writes.acknowledged.push(record.into_inner().trn),
                Err(status) => {
                    writes.refused.push((status.code(), started.elapsed()));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        writes
    })
}

/// Waits until a write is acknowledged again.
async fn until_acknowledged(portal: &Portal, token: &str, what: &str) {
    let started = Instant::now();
    loop {
        let answer = portal
            .admin()
            .create_teacher(authed_with_deadline(new_teacher(0), token))
            .await;
        if answer.is_ok() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: writes did not recover by themselves: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every acknowledged TRN reads back.
async fn all_there(portal: &Portal, token: &str, trns: &[String]) {
    for trn in trns {
        let record = portal
            .admin()
            .get_teacher(authed_with_deadline(
                pb::GetTeacherRequest { trn: trn.clone() },
                token,
            ))
            .await;
        assert!(record.is_ok(), "acknowledged write {trn} lost: {record:?}");
    }
}

/// A stream of writes that met a fault: some went through, some were refused, each refusal
/// came within its deadline as UNAVAILABLE or DEADLINE_EXCEEDED, and every acknowledged write
/// is there.
async fn writes_survived(portal: &Portal, token: &str, writes: Writes) {
    assert!(writes.acknowledged.len() >= 2, "writes went through");
    assert!(!writes.refused.is_empty(), "some writes met the fault");
    for (code, took) in &writes.refused {
        assert!(
            matches!(code, Code::Unavailable | Code::DeadlineExceeded),
            "unexpected refusal {code:?}"
        );
        assert!(
            *took <= DEADLINE + SLACK,
            "a refusal took {took:?}, beyond the deadline"
        );
    }
    all_there(portal, token, &writes.acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_service_hung_then_killed_under_writes() {
    let Some(redis) = support::reachable_redis().await else {
        return;
    };
    let postgres = support::postgres_base_url();
    // The teacher's session reaches employment without a step-up: this test is about faults,
    // not assurance levels.
    let env = [("PORTAL_VERIFICATION", "off")];
    let Some(mut portal) = Portal::start(Some(&postgres), &redis, &env).await else {
        return;
    };
    let admin = portal.sign_in_admin().await.expect("admin signs in");
    let teacher_trn = portal
        .admin()
        .create_teacher(authed_with_deadline(new_teacher(0), &admin))
        .await
        .expect("teacher created")
        .into_inner()
        .trn;
    let teacher = portal
        .auth()
        .sign_in_teacher(with_deadline(pb::SignInTeacherRequest {
            trn: teacher_trn,
            surname: "Writera".into(),
            forename: "Faults".into(),
            date_of_birth: "1985-04-12".into(),
            ..Default::default()
        }))
        .await
        .expect("teacher signs in")
        .into_inner()
        .token;

    let stop = Arc::new(AtomicBool::new(false));
    let writer = write_until(portal.admin(), admin.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Hung: the call is answered DEADLINE_EXCEEDED by the gateway within the deadline, not
    // left to hang on a service that holds the connection open and never answers.
    portal.signal(names::RECORD, "-STOP");
    let started = Instant::now();
    let hung = portal
        .portal()
        .get_my_record(authed_with_deadline(pb::GetMyRecordRequest {}, &teacher))
        .await
        .expect_err("no answer from a stopped service");
    assert_eq!(hung.code(), Code::DeadlineExceeded, "{hung:?}");
    assert!(started.elapsed() <= DEADLINE + SLACK);
    portal.signal(names::RECORD, "-CONT");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Killed mid-stream.
    portal.kill(names::RECORD);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let down = portal
        .portal()
        .get_my_record(authed_with_deadline(pb::GetMyRecordRequest {}, &teacher))
        .await
        .expect_err("the record service is down");
    assert_eq!(down.code(), Code::Unavailable, "{down:?}");
    assert!(started.elapsed() <= DEADLINE + SLACK);
    let record_address = portal.address(names::RECORD);
    assert!(
        !down.message().contains(&record_address),
        "no internal address"
    );

    // What does not need the record service goes on working.
    portal
        .portal()
        .list_my_employments(authed_with_deadline(
            pb::ListMyEmploymentsRequest {},
            &teacher,
        ))
        .await
        .expect("employment answers without the record service");
    portal
        .sign_in_admin()
        .await
        .expect("client sign-in needs only identity");

    // Back: the gateway reconnects by itself.
    portal.start_component(names::RECORD);
    until_acknowledged(&portal, &admin, "record restarted").await;
    portal
        .portal()
        .get_my_record(authed_with_deadline(pb::GetMyRecordRequest {}, &teacher))
        .await
        .expect("the teacher reads their record again");

    stop.store(true, Ordering::SeqCst);
    writes_survived(&portal, &admin, writer.await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crash_and_restart_under_writes() {
    let Some(redis) = support::reachable_redis().await else {
        return;
    };
    let Some(postgres) = Postgres::start() else {
        return;
    };
    let Some(portal) = Portal::start(Some(&postgres.url()), &redis, &[]).await else {
        return;
    };
    let admin = portal.sign_in_admin().await.expect("admin signs in");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = write_until(portal.admin(), admin.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;

    postgres.pg_ctl("stop");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refused = portal
        .admin()
        .create_teacher(authed_with_deadline(new_teacher(0), &admin))
        .await
        .expect_err("no database");
    assert!(
        matches!(refused.code(), Code::Unavailable | Code::DeadlineExceeded),
        "{refused:?}"
    );
    postgres.pg_ctl("start");

    until_acknowledged(&portal, &admin, "PostgreSQL restarted").await;
    portal
        .sign_in_admin()
        .await
        .expect("identity's connections recovered too");
    stop.store(true, Ordering::SeqCst);
    writes_survived(&portal, &admin, writer.await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_fails_closed_then_recovers() {
    let Some(mut redis) = RedisServer::start().await else {
        return;
    };
    let postgres = std::env::var("PORTAL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let Some(portal) = Portal::start(Some(&postgres), &redis.url(), &[]).await else {
        return;
    };
    let admin = portal.sign_in_admin().await.expect("admin signs in");
    redis.stop();

    // Fail closed: no session can be checked, so nothing is let through.
    let started = Instant::now();
    let refused = portal
        .admin()
        .get_teacher(authed_with_deadline(
            pb::GetTeacherRequest {
                trn: "1000001".into(),
            },
            &admin,
        ))
        .await
        .expect_err("sessions cannot be checked");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(started.elapsed() <= DEADLINE + SLACK);
    let refused = portal
        .sign_in_admin()
        .await
        .expect_err("nowhere to keep it");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");

    redis.run().await.expect("redis-server starts again");
    // Each process reconnects by itself. Redis kept nothing: the old session is gone, and a
    // new sign-in works.
    let started = Instant::now();
    let recovered = |status: &tonic::Status| {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(started.elapsed() < Duration::from_secs(30), "no recovery");
    };
    let old = loop {
        let answer = portal
            .admin()
            .create_teacher(authed_with_deadline(new_teacher(0), &admin))
            .await
            .expect_err("the old session went with Redis");
        if answer.code() != Code::Unavailable {
            break answer;
        }
        recovered(&answer);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(old.code(), Code::Unauthenticated, "{old:?}");
    let token = loop {
        match portal.sign_in_admin().await {
            Ok(token) => break token,
            Err(status) => {
                recovered(&status);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    portal
        .admin()
        .create_teacher(authed_with_deadline(new_teacher(0), &token))
        .await
        .expect("a new session works");
}
