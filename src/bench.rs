//! `portal bench`: a gRPC load generator for the whole stack. Closed loop (a fixed number of
//! callers, each sending its next request when the last returns) or open loop (requests sent at
//! a fixed rate, latency counted from when each was due, so that queueing is not hidden).
//! Latencies go into an HDR histogram.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_client::AdministrationClient;
use dqt_proto::dqt::portal::v1::authentication_client::AuthenticationClient;
use dqt_proto::dqt::portal::v1::employer_access_client::EmployerAccessClient;
use dqt_proto::dqt::portal::v1::teacher_portal_client::TeacherPortalClient;
use dqt_proto::dqt::record::v1::record_service_client::RecordServiceClient;
use hdrhistogram::Histogram;
use portal_common::principal::DEFAULT_DEADLINE;
use portal_common::values::Trn;
use portal_common::{Assurance, Caller, Principal, Signer};
use tokio::sync::Mutex;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// grpc.health.v1 Check on the gateway: the floor of one gRPC call here.
    Health,
    /// The record service's own read, with a minted principal, bypassing the gateway.
    RecordDirect,
    /// GetMyRecord through the gateway with a real session.
    MyRecord,
    /// SignInTeacher with correct details.
    SignIn,
    /// DownloadDocument of a QTS certificate.
    Certificate,
    /// EmployerAccess.CheckTeacher.
    EmployerCheck,
    /// EmployerAccess.CheckTeachers with 500 queries.
    BulkCheck,
    /// One-INSERT transactions straight to the record database on PostgreSQL: the floor of an
    /// audited check (PORTAL_RECORD_DATABASE_URL).
    PgCommit,
    /// RequestNameChange with 3 MB of evidence: the largest message the gateway passes on (a
    /// teacher's first request is taken, later ones refused once read, as one is already open;
    /// needs PORTAL_VERIFICATION=off on a portal given with --addr).
    Evidence,
    /// Every scenario in turn.
    All,
}

impl Scenario {
    /// What `all` runs (evidence apart: it is about memory, not speed).
    const EACH: [Scenario; 8] = [
        Scenario::Health,
        Scenario::RecordDirect,
        Scenario::MyRecord,
        Scenario::SignIn,
        Scenario::Certificate,
        Scenario::EmployerCheck,
        Scenario::BulkCheck,
        Scenario::PgCommit,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Health => "health",
            Scenario::RecordDirect => "record-direct",
            Scenario::MyRecord => "my-record",
            Scenario::SignIn => "sign-in",
            Scenario::Certificate => "certificate",
            Scenario::EmployerCheck => "employer-check",
            Scenario::BulkCheck => "bulk-check",
            Scenario::PgCommit => "pg-commit",
            Scenario::Evidence => "evidence",
            Scenario::All => "all",
        }
    }
}

/// How load is applied and for how long.
#[derive(Debug, Clone, clap::Args)]
pub struct Load {
    /// Callers in a closed loop (ignored with --rate).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Requests a second in an open loop.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds run first and not measured.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// One JSON object per scenario instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The stack under test: addresses and the secrets that reach it.
#[derive(Clone)]
pub struct Target {
    pub gateway: SocketAddr,
    pub record: Option<SocketAddr>,
    pub signer: Signer,
    pub admin_secret: String,
    /// The record database, when it is PostgreSQL: where pg-commit commits.
    pub record_database: Option<String>,
}

/// The outcome of one scenario.
pub struct Outcome {
    pub scenario: &'static str,
    pub requests: u64,
    pub errors: BTreeMap<String, u64>,
    pub seconds: f64,
    pub histogram: Histogram<u64>,
}

impl Outcome {
    fn ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds.max(f64::EPSILON)
    }

    pub fn json(&self) -> String {
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|(code, n)| format!("\"{code}\":{n}"))
            .collect();
        format!(
            "{{\"scenario\":\"{}\",\"requests\":{},\"errors\":{{{}}},\"rps\":{:.1},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"max_ms\":{:.3}}}",
            self.scenario,
            self.requests,
            errors.join(","),
            self.rps(),
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            self.ms(0.999),
            self.histogram.max() as f64 / 1000.0,
        )
    }

    pub fn row(&self) -> String {
        let errors: u64 = self.errors.values().sum();
        format!(
            "{:<15} {:>9} {:>7} {:>10.1} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            self.scenario,
            self.requests,
            errors,
            self.rps(),
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            self.ms(0.999),
            self.histogram.max() as f64 / 1000.0,
        )
    }

    pub const HEADER: &'static str =
        "scenario         requests  errors        rps   p50 ms   p90 ms   p99 ms  p999 ms   max ms";
}

fn channel(addr: SocketAddr) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect_lazy())
}

fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = MetadataValue::try_from(format!("Bearer {token}")) {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Teachers, sessions and an employer made for the run.
struct Fixture {
    gateway: Channel,
    record: Option<Channel>,
    signer: Signer,
    teachers: Vec<(String, String)>,
    sessions: Vec<String>,
    employer: String,
    bulk: Vec<pb::TeacherQuery>,
    /// A pool on the record database with a table of the run's own, for pg-commit.
    commits: Option<sea_orm::DatabaseConnection>,
}

/// The table pg-commit inserts into, made for the run and dropped after it.
const COMMITS: &str = "portal_bench_commits";

/// A pool of `size` connections to the PostgreSQL database at `url`, with the commits table.
async fn commits(url: &str, size: u32) -> anyhow::Result<sea_orm::DatabaseConnection> {
    use sea_orm::ConnectionTrait as _;
    let mut options = sea_orm::ConnectOptions::new(url.to_owned());
    options
        .max_connections(size)
        .min_connections(size)
        .sqlx_logging(false);
    let db = sea_orm::Database::connect(options).await?;
    db.execute_unprepared(&format!(
        "CREATE TABLE IF NOT EXISTS {COMMITS} (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())"
    ))
    .await?;
    Ok(db)
}

const BENCH_DOB: &str = "1984-02-29";

async fn fixture(target: &Target, teachers: usize, callers: u32) -> anyhow::Result<Fixture> {
    let gateway = channel(target.gateway)?;
    let mut auth = AuthenticationClient::new(gateway.clone());
    let mut admin = AdministrationClient::new(gateway.clone());
    let admin_token = auth
        .sign_in_client(pb::SignInClientRequest {
            client_id: "admin".into(),
            client_secret: target.admin_secret.clone(),
        })
        .await
        .context("signing in as admin (PORTAL_ADMIN_CLIENT_SECRET)")?
        .into_inner()
        .token;
    let mut made = Vec::with_capacity(teachers);
    for i in 0..teachers {
        let surname = format!("Benchmark{i}");
        let trn = admin
            .create_teacher(authed(
                pb::CreateTeacherRequest {
                    first_name: "Loadtest".into(),
                    last_name: surname.clone(),
                    date_of_birth: BENCH_DOB.into(),
                    ..Default::default()
                },
                &admin_token,
            ))
            .await?
            .into_inner()
            .trn;
        admin
            .add_professional_status(authed(
                pb::AddProfessionalStatusRequest {
                    trn: trn.clone(),
                    professional_status: Some(pb::ProfessionalStatus {
                        r#type: pb::ProfessionalStatusType::Qts.into(),
                        route: pb::Route::HigherEducation.into(),
                        status: pb::RouteStatus::Holds.into(),
                        awarded_date: "2010-07-01".into(),
                        exempt_from_induction: Some(false),
                    }),
                },
                &admin_token,
            ))
            .await?;
        made.push((trn, surname));
    }
    let mut sessions = Vec::with_capacity(teachers);
    for (trn, surname) in &made {
        sessions.push(
            auth.sign_in_teacher(sign_in(trn, surname))
                .await?
                .into_inner()
                .token,
        );
    }
    let client_id = format!("bench-{:08x}", rand::random::<u32>());
    let client = admin
        .create_client(authed(
            pb::CreateClientRequest {
                client_id: client_id.clone(),
                display_name: "Benchmark".into(),
                roles: vec!["employer:check".into()],
            },
            &admin_token,
        ))
        .await?
        .into_inner();
    let employer = auth
        .sign_in_client(pb::SignInClientRequest {
            client_id: client.client_id,
            client_secret: client.client_secret,
        })
        .await?
        .into_inner()
        .token;
    let bulk = (0..500)
        .map(|i| {
            let (trn, dob) = if i % 2 == 0 {
                (made[i % made.len()].0.clone(), BENCH_DOB.to_owned())
            } else {
                (format!("{}", 9_900_000 + i), "1970-01-01".to_owned())
            };
            pb::TeacherQuery {
                trn,
                date_of_birth: dob,
            }
        })
        .collect();
    Ok(Fixture {
        gateway,
        record: target.record.map(channel).transpose()?,
        signer: target.signer.clone(),
        teachers: made,
        sessions,
        employer,
        bulk,
        commits: match target
            .record_database
            .as_deref()
            .filter(|url| url.starts_with("postgres"))
        {
            Some(url) => Some(commits(url, callers).await?),
            None => None,
        },
    })
}

fn sign_in(trn: &str, surname: &str) -> pb::SignInTeacherRequest {
    pb::SignInTeacherRequest {
        trn: trn.into(),
        surname: surname.into(),
        forename: "Loadtest".into(),
        date_of_birth: BENCH_DOB.into(),
        ..Default::default()
    }
}

/// One request of a scenario; `i` picks the teacher.
async fn call(fixture: &Fixture, scenario: Scenario, i: usize) -> Result<(), Code> {
    let pick = |n: usize| i % n.max(1);
    let status = |r: Result<(), tonic::Status>| r.map_err(|s| s.code());
    match scenario {
        Scenario::Health => {
            let mut health = HealthClient::new(fixture.gateway.clone());
            status(health.check(HealthCheckRequest::default()).await.map(drop))
        }
        Scenario::RecordDirect => {
            let channel = fixture.record.clone().ok_or(Code::FailedPrecondition)?;
            let (trn, _) = &fixture.teachers[pick(fixture.teachers.len())];
            let trn = Trn::parse("trn", trn).map_err(|_| Code::Internal)?;
            let caller = Caller {
                principal: Principal::Teacher {
                    trn,
                    assurance: Assurance::Knowledge,
                },
                request_id: String::new(),
                on_behalf_of: None,
                session_id: None,
                source: None,
            };
            let request =
                fixture
                    .signer
                    .request(pb::GetMyRecordRequest {}, &caller, DEFAULT_DEADLINE);
            status(
                RecordServiceClient::new(channel)
                    .get_my_record(request)
                    .await
                    .map(drop),
            )
        }
        Scenario::MyRecord => {
            let token = &fixture.sessions[pick(fixture.sessions.len())];
            let mut portal = TeacherPortalClient::new(fixture.gateway.clone());
            status(
                portal
                    .get_my_record(authed(pb::GetMyRecordRequest {}, token))
                    .await
                    .map(drop),
            )
        }
        Scenario::SignIn => {
            let (trn, surname) = &fixture.teachers[pick(fixture.teachers.len())];
            let mut auth = AuthenticationClient::new(fixture.gateway.clone());
            status(auth.sign_in_teacher(sign_in(trn, surname)).await.map(drop))
        }
        Scenario::Certificate => {
            let token = &fixture.sessions[pick(fixture.sessions.len())];
            let mut portal = TeacherPortalClient::new(fixture.gateway.clone());
            let request = pb::DownloadDocumentRequest {
                kind: pb::DocumentKind::QtsCertificate.into(),
                qualification_id: String::new(),
            };
            status(
                portal
                    .download_document(authed(request, token))
                    .await
                    .map(drop),
            )
        }
        Scenario::EmployerCheck => {
            let (trn, _) = &fixture.teachers[pick(fixture.teachers.len())];
            let mut employer = EmployerAccessClient::new(fixture.gateway.clone());
            let request = pb::CheckTeacherRequest {
                trn: trn.clone(),
                date_of_birth: BENCH_DOB.into(),
            };
            status(
                employer
                    .check_teacher(authed(request, &fixture.employer))
                    .await
                    .map(drop),
            )
        }
        Scenario::BulkCheck => {
            let mut employer = EmployerAccessClient::new(fixture.gateway.clone());
            let request = pb::CheckTeachersRequest {
                queries: fixture.bulk.clone(),
            };
            status(
                employer
                    .check_teachers(authed(request, &fixture.employer))
                    .await
                    .map(drop),
            )
        }
        Scenario::PgCommit => {
            use sea_orm::ConnectionTrait as _;
            let db = fixture.commits.as_ref().ok_or(Code::FailedPrecondition)?;
            db.execute_unprepared(&format!("INSERT INTO {COMMITS} DEFAULT VALUES"))
                .await
                .map(drop)
                .map_err(|_| Code::Unavailable)
        }
        Scenario::Evidence => {
            static EVIDENCE: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
                let mut pdf = b"%PDF-1.7\n".to_vec();
                pdf.resize(3 * 1024 * 1024 - 64, b'x');
                pdf
            });
            let token = &fixture.sessions[pick(fixture.sessions.len())];
            let mut portal = TeacherPortalClient::new(fixture.gateway.clone());
            let request = pb::RequestNameChangeRequest {
                first_name: "Loadtest".into(),
                middle_name: String::new(),
                last_name: "Renamed".into(),
                evidence_file_name: "deed-poll.pdf".into(),
                evidence: EVIDENCE.clone(),
            };
            match portal.request_name_change(authed(request, token)).await {
                // Refused only after the whole message was read and checked.
                Err(status) if status.code() == Code::FailedPrecondition => Ok(()),
                other => status(other.map(drop)),
            }
        }
        Scenario::All => Err(Code::InvalidArgument),
    }
}

#[derive(Default)]
struct Tally {
    requests: u64,
    errors: BTreeMap<String, u64>,
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    // Microseconds, from 1 µs to 10 minutes, three significant figures.
    Ok(Histogram::new_with_bounds(1, 600_000_000, 3)?)
}

/// Runs one scenario and measures it.
async fn measure(
    fixture: Arc<Fixture>,
    scenario: Scenario,
    load: &Load,
) -> anyhow::Result<Outcome> {
    let histogram = Arc::new(Mutex::new(new_histogram()?));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let warmup = Duration::from_secs_f64(load.warmup);
    let end = started + warmup + Duration::from_secs_f64(load.duration);
    let record = {
        let (histogram, tally) = (histogram.clone(), tally.clone());
        move |due: Instant, done: Instant, outcome: Result<(), Code>| {
            let (histogram, tally) = (histogram.clone(), tally.clone());
            async move {
                if due < started + warmup {
                    return;
                }
                let micros =
                    u64::try_from(done.duration_since(due).as_micros()).unwrap_or(u64::MAX);
                histogram.lock().await.saturating_record(micros.max(1));
                let mut tally = tally.lock().await;
                tally.requests += 1;
                if let Err(code) = outcome {
                    *tally.errors.entry(format!("{code:?}")).or_default() += 1;
                }
            }
        }
    };
    match load.rate {
        None => {
            let mut callers = tokio::task::JoinSet::new();
            for worker in 0..load.concurrency.max(1) {
                let (fixture, record) = (fixture.clone(), record.clone());
                callers.spawn(async move {
                    let mut i = worker;
                    while Instant::now() < end {
                        let due = Instant::now();
                        let outcome = call(&fixture, scenario, i).await;
                        record(due, Instant::now(), outcome).await;
                        i += STEP;
                    }
                });
            }
            callers.join_all().await;
        }
        Some(rate) => {
            let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
            let mut requests = tokio::task::JoinSet::new();
            let mut i = 0usize;
            let mut due = Instant::now();
            while due < end {
                tokio::time::sleep_until(due.into()).await;
                let (fixture, record) = (fixture.clone(), record.clone());
                requests.spawn(async move {
                    let outcome = call(&fixture, scenario, i).await;
                    record(due, Instant::now(), outcome).await;
                });
                // Reap finished requests as we go so that memory stays flat.
                while requests.try_join_next().is_some() {}
                i += 1;
                due += interval;
            }
            requests.join_all().await;
        }
    }
    let tally = std::mem::take(&mut *tally.lock().await);
    let histogram = histogram.lock().await.clone();
    Ok(Outcome {
        scenario: scenario.name(),
        requests: tally.requests,
        errors: tally.errors,
        seconds: load.duration,
        histogram,
    })
}

/// Callers step through the teachers by this much, so that they do not all read the same
/// record.
const STEP: usize = 7;

/// Sets up the run's teachers and measures each scenario asked for.
pub async fn run(
    target: Target,
    scenario: Scenario,
    load: Load,
    teachers: usize,
) -> anyhow::Result<Vec<Outcome>> {
    let callers = u32::try_from(load.concurrency.max(1)).unwrap_or(u32::MAX);
    let fixture = Arc::new(fixture(&target, teachers.max(1), callers).await?);
    let scenarios: Vec<Scenario> = if scenario == Scenario::All {
        Scenario::EACH
            .into_iter()
            .filter(|s| *s != Scenario::RecordDirect || fixture.record.is_some())
            .filter(|s| *s != Scenario::PgCommit || fixture.commits.is_some())
            .collect()
    } else {
        vec![scenario]
    };
    let mut outcomes = Vec::new();
    if !load.json {
        println!("{}", Outcome::HEADER);
    }
    for scenario in scenarios {
        let outcome = measure(fixture.clone(), scenario, &load).await?;
        if load.json {
            println!("{}", outcome.json());
        } else {
            println!("{}", outcome.row());
        }
        outcomes.push(outcome);
    }
    if let Some(db) = &fixture.commits {
        use sea_orm::ConnectionTrait as _;
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS {COMMITS}"))
            .await?;
    }
    Ok(outcomes)
}

/// A portal started for the run, as `portal up` starts, in a process of its own.
pub struct Spawned {
    child: std::process::Child,
    pub target: Target,
}

/// CPU seconds and peak resident memory of a process, from /proc.
pub fn usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let peak_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    // Clock ticks are 1/100 s on Linux.
    Some((ticks / 100.0, peak_kb))
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

impl Spawned {
    /// Starts `portal up` with this process's environment (so PostgreSQL and Redis URLs carry
    /// over), a fresh signing key and admin secret, and limits that do not throttle the run.
    pub fn start() -> anyhow::Result<Self> {
        use std::io::{BufRead as _, BufReader};
        let key: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let secret: String = (0..16)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let mut command = std::process::Command::new(std::env::current_exe()?);
        command
            .arg("up")
            .env("PORTAL_GATEWAY_ADDR", "127.0.0.1:0")
            .env("PORTAL_INTERNAL_SIGNING_KEY", &key)
            .env("PORTAL_ADMIN_CLIENT_SECRET", &secret)
            .env("PORTAL_EMPLOYER_CHECKS_PER_MINUTE", "4000000000")
            .env("PORTAL_EMPLOYER_CHECKS_PER_DAY", "4000000000")
            // The run's teachers sign in with their details only: the serving path is what is
            // measured, not the step-up.
            .env("PORTAL_VERIFICATION", "off")
            .env("RUST_LOG", "warn,portal=info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        if std::env::var_os("PORTAL_DATA_DIR").is_none() {
            let dir =
                std::env::temp_dir().join(format!("portal-bench-{:08x}", rand::random::<u32>()));
            command.env("PORTAL_DATA_DIR", dir);
        }
        let mut child = command.spawn().context("starting portal up")?;
        let stdout = child.stdout.take().context("portal's output")?;
        let mut lines = BufReader::new(stdout).lines();
        let (mut gateway, mut record) = (None, None);
        let address = |line: &str, what: &str| -> Option<SocketAddr> {
            line.split_once(&format!("{what} listening on "))?
                .1
                .split('"')
                .next()?
                .parse()
                .ok()
        };
        while gateway.is_none() {
            let line = lines
                .next()
                .context("portal up stopped before it listened")??;
            record = record.or_else(|| address(&line, "record"));
            gateway = address(&line, "gateway");
        }
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Ok(Self {
            child,
            target: Target {
                gateway: gateway.context("gateway address")?,
                record,
                signer: Signer::new(key.as_bytes()).map_err(anyhow::Error::msg)?,
                admin_secret: secret,
                record_database: std::env::var("PORTAL_RECORD_DATABASE_URL").ok(),
            },
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it with SIGTERM, as an operator would.
    pub fn stop(mut self) -> anyhow::Result<()> {
        std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}
