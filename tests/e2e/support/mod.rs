//! Starts a whole portal for a test with the same start-up code as `portal up`: embedded
//! stores, or PostgreSQL and Redis (a fresh database per service per test).

pub mod mail;
pub mod pdf;
pub mod processes;
pub mod redis;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser as _;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_client::AdministrationClient;
use dqt_proto::dqt::portal::v1::authentication_client::AuthenticationClient;
use dqt_proto::dqt::portal::v1::teacher_portal_client::TeacherPortalClient;
use portal::{Config, Stack};
use portal_common::Signer;
use portal_common::component::names;
use sea_orm::{ConnectionTrait as _, Database};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

pub const ADMIN_SECRET: &str = "test-admin-secret-0123456789";

#[derive(clap::Parser)]
struct TestCli {
    #[command(flatten)]
    config: Config,
}

/// The configuration with every default, as `portal` reads it with nothing set.
pub fn default_config() -> Config {
    TestCli::parse_from(["test"]).config
}

/// Where the stores live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stores {
    Embedded,
    PostgresRedis,
}

pub struct Harness {
    pub stack: Option<Stack>,
    pub config: Config,
    pub gateway: Channel,
    /// The mail server the portal sends to, when it has one; else its outbox folder is read.
    pub smtp: Option<mail::SmtpServer>,
    data_dir: PathBuf,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn postgres_base_url() -> String {
    std::env::var("PORTAL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn redis_url() -> String {
    std::env::var("PORTAL_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// True when CI said PostgreSQL and Redis are there: a test that needs them then fails
/// rather than skips.
pub fn external_required() -> bool {
    std::env::var("PORTAL_TEST_EXTERNAL").is_ok_and(|v| v == "required")
}

/// Creates one empty PostgreSQL database per service; `None` when PostgreSQL is unreachable
/// and not required.
pub async fn create_databases(config: &mut Config, tag: &str) -> Option<()> {
    create_databases_at(config, tag, &postgres_base_url()).await
}

/// [`create_databases`] on the PostgreSQL server at `base` (`postgres://user@host:port`).
pub async fn create_databases_at(config: &mut Config, tag: &str, base: &str) -> Option<()> {
    let admin = match Database::connect(format!("{base}/postgres")).await {
        Ok(db) => db,
        Err(error) if !external_required() => {
            eprintln!(
                "PostgreSQL unreachable ({error}); set PORTAL_TEST_EXTERNAL=required to fail instead of skipping"
            );
            return None;
        }
        Err(error) => panic!("PostgreSQL is required but unreachable: {error}"),
    };
    for component in config.components_mut() {
        let name = format!("portal_t_{tag}_{}", component.name());
        let Some(url) = component.database_url_mut() else {
            continue;
        };
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        *url = Some(format!("{base}/{name}"));
    }
    Some(())
}

async fn redis_reachable(url: &str) -> bool {
    let host_port = url.trim_start_matches("redis://").trim_end_matches('/');
    tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(host_port),
    )
    .await
    .is_ok_and(|c| c.is_ok())
}

/// The test Redis URL; `None` when it is unreachable and not required.
pub async fn reachable_redis() -> Option<String> {
    let url = redis_url();
    if redis_reachable(&url).await {
        return Some(url);
    }
    assert!(
        !external_required(),
        "Redis is required but unreachable at {url}"
    );
    eprintln!("Redis unreachable; skipping");
    None
}

/// Starts every component; `None` only when external stores are asked for, unreachable, and
/// not required.
pub async fn start(stores: Stores, adjust: impl FnOnce(&mut Config)) -> Option<Harness> {
    let config = default_config();
    let all: Vec<&str> = config.components().iter().map(|c| c.name()).collect();
    start_only(&all, stores, adjust).await
}

/// Starts only the components named in `started`; the others are not running, and the
/// harness's public clients reach the gateway only when it is among them.
pub async fn start_only(
    started: &[&str],
    stores: Stores,
    adjust: impl FnOnce(&mut Config),
) -> Option<Harness> {
    let tag = format!("{:016x}", rand::random::<u64>());
    let mut config = default_config();
    for component in config.components_mut() {
        *component.addr_mut() = "127.0.0.1:0".to_owned();
    }
    let data_dir = std::env::temp_dir().join(format!("portal-test-{tag}"));
    config.shared.databases.data_dir = data_dir.clone();
    config.shared.databases.database_max_connections = 4;
    config.identity.admin_client_secret = Some(ADMIN_SECRET.into());
    config.shared.shutdown_grace_seconds = 5;
    if stores == Stores::PostgresRedis {
        create_databases(&mut config, &tag).await?;
        config.shared.redis_url = Some(reachable_redis().await?);
        // Tests share one Redis: each keeps to its own keys.
        config.shared.redis_key_prefix = format!("portal_t_{tag}:");
    }
    adjust(&mut config);
    let stack = Stack::start(&config, started, Signer::random())
        .await
        .expect("stack starts");
    let gateway = Endpoint::from_shared(format!("http://{}", stack.addr(names::GATEWAY)))
        .unwrap()
        .connect_lazy();
    Some(Harness {
        stack: Some(stack),
        config,
        gateway,
        smtp: None,
        data_dir,
    })
}

/// [`start`], sending email to a real SMTP server started for the test; `None` also when that
/// server cannot be run and is not required.
pub async fn start_with_smtp(stores: Stores, adjust: impl FnOnce(&mut Config)) -> Option<Harness> {
    let smtp = mail::SmtpServer::start().await?;
    let url = smtp.url();
    let mut harness = start(stores, |config| {
        config.notification.smtp_url = Some(url);
        adjust(config);
    })
    .await?;
    harness.smtp = Some(smtp);
    Some(harness)
}

/// The seed's sign-in details of a record, as its teacher would type them.
pub fn sign_in_request(record: &pb::TeacherRecord) -> pb::SignInTeacherRequest {
    pb::SignInTeacherRequest {
        trn: record.trn.clone(),
        surname: record.last_name.clone(),
        forename: record.first_name.clone(),
        date_of_birth: record.date_of_birth.clone(),
        ..Default::default()
    }
}

/// A request with `authorization: Bearer <token>`.
pub fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

impl Harness {
    pub fn addr(&self, component: &str) -> String {
        self.stack.as_ref().unwrap().addr(component).to_owned()
    }

    pub fn auth(&self) -> AuthenticationClient<Channel> {
        AuthenticationClient::new(self.gateway.clone())
    }

    pub fn admin(&self) -> AdministrationClient<Channel> {
        AdministrationClient::new(self.gateway.clone())
    }

    pub fn portal(&self) -> TeacherPortalClient<Channel> {
        TeacherPortalClient::new(self.gateway.clone())
    }

    pub async fn sign_in_admin(&self) -> String {
        self.auth()
            .sign_in_client(pb::SignInClientRequest {
                client_id: "admin".into(),
                client_secret: ADMIN_SECRET.into(),
            })
            .await
            .expect("admin signs in")
            .into_inner()
            .token
    }

    /// A new client with `roles`, created by the admin and signed in: its session token.
    pub async fn signed_in_client(
        &self,
        admin_token: &str,
        client_id: &str,
        roles: &[&str],
    ) -> String {
        let created = self
            .admin()
            .create_client(authed(
                pb::CreateClientRequest {
                    client_id: client_id.into(),
                    display_name: format!("Client {client_id}"),
                    roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                },
                admin_token,
            ))
            .await
            .expect("client created")
            .into_inner();
        self.auth()
            .sign_in_client(pb::SignInClientRequest {
                client_id: created.client_id,
                client_secret: created.client_secret,
            })
            .await
            .expect("client signs in")
            .into_inner()
            .token
    }

    /// The audit events of a record, newest first (one page).
    pub async fn audit_events(&self, admin_token: &str, trn: &str) -> Vec<pb::AuditEvent> {
        self.admin()
            .list_audit_events(authed(
                pb::ListAuditEventsRequest {
                    trn: trn.into(),
                    ..Default::default()
                },
                admin_token,
            ))
            .await
            .expect("audit events")
            .into_inner()
            .events
    }

    pub async fn create_teacher(
        &self,
        admin_token: &str,
        request: pb::CreateTeacherRequest,
    ) -> pb::TeacherRecord {
        self.admin()
            .create_teacher(authed(request, admin_token))
            .await
            .expect("teacher created")
            .into_inner()
    }

    /// Where the emails the portal sent arrive.
    pub fn mailbox(&self) -> mail::Mailbox {
        match &self.smtp {
            Some(smtp) => smtp.mailbox(),
            None => mail::Mailbox::outbox(&self.data_dir),
        }
    }

    /// Signs a teacher in with the seed's details: a session at the knowledge level.
    pub async fn sign_in_teacher(&self, record: &pb::TeacherRecord) -> pb::SignInResponse {
        self.auth()
            .sign_in_teacher(sign_in_request(record))
            .await
            .expect("teacher signs in")
            .into_inner()
    }

    /// Raises a knowledge session to the verified level with the code emailed to `email`;
    /// the new session's token.
    pub async fn verify(&self, token: &str, email: &str) -> String {
        let before = self.mailbox().to(email).len();
        let verification = self
            .auth()
            .start_verification(authed(pb::StartVerificationRequest {}, token))
            .await
            .expect("verification starts")
            .into_inner();
        let code = self.mailbox().latest(email, before + 1).await.code();
        self.auth()
            .complete_verification(authed(
                pb::CompleteVerificationRequest {
                    verification_id: verification.verification_id,
                    code,
                },
                token,
            ))
            .await
            .expect("the emailed code verifies")
            .into_inner()
            .token
    }

    /// A teacher signed in and verified through the email on their record.
    pub async fn verified_teacher(&self, record: &pb::TeacherRecord) -> String {
        let email = record
            .contact_details
            .as_ref()
            .map(|c| c.email.clone())
            .expect("a teacher with an email");
        let token = self.sign_in_teacher(record).await.token;
        self.verify(&token, &email).await
    }

    pub async fn shutdown(mut self) {
        self.stack
            .take()
            .unwrap()
            .shutdown()
            .await
            .expect("clean shutdown");
    }
}

/// The field paths of an INVALID_ARGUMENT status's BadRequest detail.
pub fn bad_fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("BadRequest detail")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// `portal` run as a process, its standard output and error read line by line.
pub struct PortalProcess {
    pub child: std::process::Child,
    /// The address the process said it listens on (the gateway's, for `portal up`).
    pub gateway: String,
    lines: std::sync::mpsc::Receiver<String>,
    pub data_dir: PathBuf,
}

impl PortalProcess {
    /// Starts `portal <args>` with only `envs` set (and PATH), and waits for the gateway's
    /// "listening" line.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::start_listening(args, envs, "gateway")
    }

    /// Starts `portal serve <component>` and waits until it listens.
    pub fn serve(component: &str, envs: &[(&str, &str)]) -> Self {
        Self::start_listening(&["serve", component], envs, component)
    }

    /// Starts `portal <args>` and waits for the line saying that `listener` listens.
    fn start_listening(args: &[&str], envs: &[(&str, &str)], listener: &str) -> Self {
        use std::io::{BufRead as _, BufReader};
        use std::process::{Command, Stdio};
        let data_dir =
            std::env::temp_dir().join(format!("portal-process-{:016x}", rand::random::<u64>()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_portal"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORTAL_GATEWAY_ADDR", "127.0.0.1:0")
            .env("PORTAL_DATA_DIR", &data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in envs {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("portal starts");
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let out = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out.send(line);
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut process = Self {
            child,
            gateway: String::new(),
            lines,
            data_dir,
        };
        let marker = format!("{listener} listening on ");
        process.gateway = loop {
            let line = process
                .lines
                .recv_timeout(Duration::from_secs(60))
                .expect("a log line");
            if let Some((_, rest)) = line.split_once(&marker) {
                break rest.split('"').next().unwrap().to_owned();
            }
        };
        process
    }

    pub fn channel(&self) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.gateway))
            .unwrap()
            .connect_lazy()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
    }

    /// Waits for the process to end, at most `timeout`.
    pub async fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < timeout,
                "portal did not stop in {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every line the process wrote that has not been read yet; after it has ended, all of
    /// them (the readers stop at the end of its output).
    pub fn output(&self) -> Vec<String> {
        self.lines.iter().collect()
    }
}

impl Drop for PortalProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
