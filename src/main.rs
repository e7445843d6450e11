//! `portal`: the Teacher Self-Service Portal backend, as one process (`up`) or one component
//! per process (`serve`).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use portal::{Config, Stack};
use portal_common::Signer;

mod bench;

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
        /// The component to run (`portal components` lists them).
        component: String,
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
        scenario: bench::Scenario,
        #[command(flatten)]
        load: bench::Load,
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
    /// Lists the components: name, address, what each calls, whether it is public, and
    /// whether it keeps a database.
    Components {
        /// One JSON object per component, one per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: Config,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Up { demo, mut config } => {
            let _telemetry =
                portal_common::telemetry::init("portal").map_err(anyhow::Error::msg)?;
            for component in config.components_mut() {
                if !component.public() {
                    *component.addr_mut() = "127.0.0.1:0".to_owned();
                }
            }
            let signer = config
                .shared
                .configured_signer()
                .map_err(anyhow::Error::msg)?
                .unwrap_or_else(Signer::random);
            // Before the gateway announces itself, so that the demo teachers can sign in as
            // soon as it does.
            if demo {
                portal::demo::add_demo_teachers(&config).await?;
            }
            let all: Vec<_> = config.components().iter().map(|c| c.name()).collect();
            let mut stack = Stack::start(&config, &all, signer).await?;
            run(stack_until_signal(&mut stack).await, stack).await
        }
        Command::Serve { component, config } => {
            let name = config.component(&component)?.name();
            let _telemetry = portal_common::telemetry::init(name).map_err(anyhow::Error::msg)?;
            let signer = config
                .shared
                .configured_signer()
                .map_err(anyhow::Error::msg)?
                .context("PORTAL_INTERNAL_SIGNING_KEY must be set for `portal serve`")?;
            let mut stack = Stack::start(&config, &[name], signer).await?;
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
            bench::command(scenario, load, addr, teachers, &config).await
        }
        Command::Migrate { config } => {
            let _telemetry =
                portal_common::telemetry::init("migrate").map_err(anyhow::Error::msg)?;
            for component in config.components() {
                component
                    .migrate(&config.shared)
                    .await
                    .with_context(|| format!("{} migrations", component.name()))?;
            }
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Components { json, config } => {
            for component in config.components() {
                let calls = component.calls();
                let database = component.database().is_some();
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "name": component.name(),
                            "addr": component.addr(),
                            "calls": calls,
                            "public": component.public(),
                            "database": database,
                        })
                    );
                } else {
                    println!(
                        "{:<13} {:<22} calls: {}{}{}",
                        component.name(),
                        component.addr(),
                        if calls.is_empty() {
                            "-".to_owned()
                        } else {
                            calls.join(", ")
                        },
                        if component.public() { "; public" } else { "" },
                        if database { "; database" } else { "" },
                    );
                }
            }
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
