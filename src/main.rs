//! `portal`: the Teacher Self-Service Portal backend, as one process (`up`) or one component
//! per process (`serve`).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use portal::Stack;
use portal_common::{Component, Config, Signer};

/// Many small allocations per call (messages, metadata, futures): mimalloc spends less on
/// them than the system allocator did in `portal bench` profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "portal",
    version,
    about = "Teacher Self-Service Portal backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs every component in this process on loopback ports, with embedded stores unless
    /// PostgreSQL and Redis URLs are configured.
    Up {
        /// Adds demo teachers (see README) when the record database has none.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        config: Config,
    },
    /// Runs one component, reaching the others at their configured addresses.
    Serve {
        /// The component to run.
        component: Component,
        #[command(flatten)]
        config: Config,
    },
    /// Fills the record database with synthetic teachers (realistic names and the whole
    /// spread of statuses), in batched transactions.
    Seed {
        /// How many teachers to add.
        #[arg(long)]
        teachers: u64,
        /// Seed of the generator: the same seed gives the same records.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        config: Config,
    },
    /// Measures the whole stack under load: a portal started as `portal up` does (embedded
    /// stores, or PostgreSQL and Redis when their URLs are set), or a running one (--addr).
    Bench {
        /// The scenario to measure.
        #[arg(value_enum)]
        scenario: portal::bench::Scenario,
        #[command(flatten)]
        load: portal::bench::Load,
        /// The gateway of a running portal (then PORTAL_ADMIN_CLIENT_SECRET and, for
        /// record-direct at --record-addr, PORTAL_INTERNAL_SIGNING_KEY must be those it runs
        /// with).
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
        /// Teachers (with sessions) made for the run.
        #[arg(long, default_value_t = 100)]
        teachers: usize,
        #[command(flatten)]
        config: Config,
    },
    /// Applies every service's database migrations and exits.
    Migrate {
        #[command(flatten)]
        config: Config,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Up { demo, mut config } => {
            let _telemetry = portal_common::telemetry::init("all").map_err(anyhow::Error::msg)?;
            for component in Component::ALL {
                if component != Component::Gateway {
                    config.addresses.set(component, "127.0.0.1:0".to_owned());
                }
            }
            let signer = config
                .configured_signer()
                .map_err(anyhow::Error::msg)?
                .unwrap_or_else(Signer::random);
            // Before the gateway announces itself, so that the demo teachers can sign in as
            // soon as it does.
            if demo {
                portal::demo::add_demo_teachers(&config).await?;
            }
            let mut stack = Stack::start(&config, &Component::ALL, signer).await?;
            run(stack_until_signal(&mut stack).await, stack).await
        }
        Command::Serve { component, config } => {
            let _telemetry =
                portal_common::telemetry::init(component.name()).map_err(anyhow::Error::msg)?;
            let signer = config
                .configured_signer()
                .map_err(anyhow::Error::msg)?
                .context("PORTAL_INTERNAL_SIGNING_KEY must be set for `portal serve`")?;
            let mut stack = Stack::start(&config, &[component], signer).await?;
            run(stack_until_signal(&mut stack).await, stack).await
        }
        Command::Seed {
            teachers,
            seed,
            config,
        } => {
            let _telemetry = portal_common::telemetry::init("seed").map_err(anyhow::Error::msg)?;
            portal::demo::seed(&config, teachers, seed).await
        }
        Command::Bench {
            scenario,
            load,
            addr,
            teachers,
            config,
        } => {
            let _telemetry = portal_common::telemetry::init("bench").map_err(anyhow::Error::msg)?;
            bench(scenario, load, addr, teachers, &config).await
        }
        Command::Migrate { config } => {
            let _telemetry =
                portal_common::telemetry::init("migrate").map_err(anyhow::Error::msg)?;
            portal_identity::migrate(&config).await?;
            portal_record::migrate(&config).await?;
            portal_employment::migrate(&config).await?;
            portal_document::migrate(&config).await?;
            portal_notification::migrate(&config).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
    }
}

async fn stack_until_signal(stack: &mut Stack) -> anyhow::Result<()> {
    stack.run_until(shutdown_signal()).await
}

async fn run(outcome: anyhow::Result<()>, stack: Stack) -> anyhow::Result<()> {
    outcome?;
    tracing::info!("stopping: finishing in-flight calls");
    stack.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return interrupt.await.unwrap_or(()),
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn bench(
    scenario: portal::bench::Scenario,
    load: portal::bench::Load,
    addr: Option<std::net::SocketAddr>,
    teachers: usize,
    config: &Config,
) -> anyhow::Result<()> {
    use portal::bench::{Spawned, Target, postgres_usage, redis_usage, run, usage};
    let json = load.json;
    let Some(gateway) = addr else {
        let redis = config.redis_url.as_deref();
        let redis_before = match redis {
            Some(url) => Some(redis_usage(url).await.context("reading Redis's INFO")?),
            None => None,
        };
        let spawned = Spawned::start()?;
        let pid = spawned.pid();
        let outcome = run(spawned.target.clone(), scenario, load, teachers).await;
        let portal = usage(pid);
        // Read before the portal stops: its database connections are the backends measured.
        let databases: Vec<&str> = Component::ALL
            .into_iter()
            .filter_map(|c| config.databases.url_of(c))
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
        record: tokio::net::lookup_host(&config.addresses.record_addr)
            .await
            .context("PORTAL_RECORD_ADDR")?
            .next(),
        signer: config
            .configured_signer()
            .map_err(anyhow::Error::msg)?
            .unwrap_or_else(Signer::random),
        admin_secret: config
            .admin_client_secret
            .clone()
            .context("PORTAL_ADMIN_CLIENT_SECRET: the admin secret of the portal under test")?,
        record_database: config.databases.record_database_url.clone(),
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
