//! `portal bench`: the load generator. It starts a portal as `portal up` does (or targets a
//! running one), makes its own teachers, sessions and employer client, and measures each
//! scenario: throughput, latencies in an HDR histogram, and the CPU and memory of every process.
//! It is part of the binary only, not of the library the services and tests build on.

mod feed;
mod find_trn;
mod fixture;
mod spawned;
mod usage;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use portal::Config;
use portal_common::Signer;
use tokio::sync::Mutex;
use tonic::Code;

use fixture::{Fixture, call, fixture};
use spawned::Spawned;
use usage::{postgres_usage, redis_usage, usage};

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
    /// GetMyRecord, as my-record, while as many other callers as measured ones send client
    /// sign-ins with wrong secrets (unknown client ids, one source): what a flood of secrets
    /// costs everyone else once the throttle and the Argon2 bound have done their work.
    SecretFlood,
    /// UpdateTeacher (a change of middle name) while one consumer follows WatchChanges live:
    /// the writes, the lag from each change's commit to its delivery (`feed-lag`: events a
    /// second delivered and the lag's quantiles), then the whole feed kept read again from the
    /// start (`feed-replay`: events a second, and the gaps between them).
    Feed,
    /// FindMyTrn, details that match one record (its TRN emailed: `find-trn-found`) and
    /// details that match none (a case: `find-trn-none`) in turn: the two answers' latencies,
    /// which should not differ (closed loop only; a portal given with --addr needs
    /// PORTAL_CAPTCHA=off and search limits above the run's).
    FindTrn,
    /// Every scenario in turn.
    All,
}

impl Scenario {
    /// What `all` runs (evidence apart: it is about memory, not speed).
    const EACH: [Scenario; 11] = [
        Scenario::Health,
        Scenario::RecordDirect,
        Scenario::MyRecord,
        Scenario::SignIn,
        Scenario::Certificate,
        Scenario::EmployerCheck,
        Scenario::BulkCheck,
        Scenario::PgCommit,
        Scenario::SecretFlood,
        Scenario::Feed,
        Scenario::FindTrn,
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
            Scenario::SecretFlood => "secret-flood",
            Scenario::Feed => "feed-write",
            Scenario::FindTrn => "find-trn",
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

#[derive(Default)]
struct Tally {
    requests: u64,
    errors: BTreeMap<String, u64>,
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    // Microseconds, from 1 µs to 10 minutes, three significant figures.
    Ok(Histogram::new_with_bounds(1, 600_000_000, 3)?)
}

/// Runs one scenario and measures it (the feed's also measures its consumer).
async fn measure(
    fixture: Arc<Fixture>,
    scenario: Scenario,
    load: &Load,
) -> anyhow::Result<Vec<Outcome>> {
    if scenario == Scenario::FindTrn {
        return find_trn::measure(fixture, load).await;
    }
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
    // The feed's consumer follows from before the first write to after the last.
    let consumer = (scenario == Scenario::Feed).then(|| {
        let measured_from = std::time::SystemTime::now() + warmup;
        tokio::spawn(feed::follow(fixture.clone(), measured_from, end))
    });
    // The flood runs beside the measured calls, for as long as they do.
    let mut flood = tokio::task::JoinSet::new();
    if scenario == Scenario::SecretFlood {
        for worker in 0..load.concurrency.max(1) {
            let fixture = fixture.clone();
            flood.spawn(async move {
                let mut i = worker;
                while Instant::now() < end {
                    let _ = fixture::wrong_secret(&fixture, i).await;
                    i += STEP;
                }
            });
        }
    }
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
    flood.join_all().await;
    let tally = std::mem::take(&mut *tally.lock().await);
    let histogram = histogram.lock().await.clone();
    let mut outcomes = vec![Outcome {
        scenario: scenario.name(),
        requests: tally.requests,
        errors: tally.errors,
        seconds: load.duration,
        histogram,
    }];
    if let Some(consumer) = consumer {
        outcomes.push(consumer.await??);
        outcomes.push(feed::replay(&fixture).await?);
    }
    Ok(outcomes)
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
        for outcome in measure(fixture.clone(), scenario, &load).await? {
            if load.json {
                println!("{}", outcome.json());
            } else {
                println!("{}", outcome.row());
            }
            outcomes.push(outcome);
        }
    }
    fixture.drop_commits().await?;
    Ok(outcomes)
}

pub async fn command(
    scenario: Scenario,
    load: Load,
    addr: Option<std::net::SocketAddr>,
    teachers: usize,
    config: &Config,
) -> anyhow::Result<()> {
    let json = load.json;
    let Some(gateway) = addr else {
        let redis = config.shared.redis_url.as_deref();
        let redis_before = match redis {
            Some(url) => Some(redis_usage(url).await.context("reading Redis's INFO")?),
            None => None,
        };
        let spawned = Spawned::start()?;
        let pid = spawned.pid();
        let outcome = run(spawned.target.clone(), scenario, load, teachers).await;
        let portal = usage(pid);
        // Read before the portal stops: its database connections are the backends measured.
        let databases: Vec<&str> = config
            .components()
            .into_iter()
            .filter_map(|c| c.database()?.url)
            .collect();
        let postgres = if databases.is_empty() {
            Ok(None)
        } else {
            postgres_usage(&databases)
                .await
                .context("reading PostgreSQL's backends")
        };
        spawned.stop()?;
        outcome?;
        let postgres = postgres?;
        report_usage("portal up", portal, json);
        report_usage("bench", usage(std::process::id()), json);
        if let (Some(url), Some((cpu_before, _))) = (redis, redis_before) {
            let (cpu, peak) = redis_usage(url).await.context("reading Redis's INFO")?;
            report_usage("redis", Some((cpu - cpu_before, peak)), json);
        }
        report_usage("postgres", postgres, json);
        return Ok(());
    };
    let target = Target {
        gateway,
        // `--record-addr` (PORTAL_RECORD_ADDR), for record-direct.
        record: tokio::net::lookup_host(&config.record.addr)
            .await
            .context("PORTAL_RECORD_ADDR")?
            .next(),
        signer: config
            .shared
            .configured_signer()
            .map_err(anyhow::Error::msg)?
            .unwrap_or_else(Signer::random),
        admin_secret: config
            .identity
            .admin_client_secret
            .clone()
            .context("PORTAL_ADMIN_CLIENT_SECRET: the admin secret of the portal under test")?,
        record_database: config.record.database_url.clone(),
    };
    run(target, scenario, load, teachers).await?;
    report_usage("bench", usage(std::process::id()), json);
    Ok(())
}

fn report_usage(process: &str, usage: Option<(f64, u64)>, json: bool) {
    let Some((cpu, peak_kb)) = usage else {
        return;
    };
    if json {
        println!(
            "{{\"process\":\"{process}\",\"cpu_seconds\":{cpu:.2},\"peak_rss_mb\":{:.1}}}",
            peak_kb as f64 / 1024.0
        );
    } else {
        println!(
            "{process}: {cpu:.2} s CPU, {:.1} MB peak memory",
            peak_kb as f64 / 1024.0
        );
    }
}
