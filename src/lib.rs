//! Start-up shared by `portal up`, `portal serve` and the end-to-end tests: every component
//! started the same way, each on its own port, talking real gRPC to the others.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use portal_common::kv::{MemoryStore, RedisStore, SessionStore};
use portal_common::server::{ServeOptions, ShutdownTrigger, serve, shutdown_channel};
use portal_common::sessions::Sessions;
use portal_common::upstream::{self, Upstream};
use portal_common::{Context, Signer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub mod components;
pub mod demo;

pub use components::Config;

/// Running components and the means to stop them.
pub struct Stack {
    addresses: BTreeMap<&'static str, String>,
    signer: Signer,
    sessions: Sessions,
    trigger: ShutdownTrigger,
    tasks: JoinSet<(&'static str, Result<(), tonic::transport::Error>)>,
}

/// The session store the configuration asks for.
pub fn session_store(config: &portal_common::Config) -> anyhow::Result<Arc<dyn SessionStore>> {
    Ok(match &config.redis_url {
        Some(url) => {
            let store = RedisStore::new(url, config.redis_timeout(), &config.redis_key_prefix)
                .context("PORTAL_REDIS_URL")?;
            Arc::new(store)
        }
        None => Arc::new(MemoryStore::default()),
    })
}

impl Stack {
    /// Starts the components named in `started` in this process, in dependency order, each
    /// on the address its configuration gives it (port 0 picks a free port), or for a single
    /// component on `PORTAL_LISTEN_ADDR` when set. Components reach each other, and any not
    /// started here, at the configured addresses.
    pub async fn start(config: &Config, started: &[&str], signer: Signer) -> anyhow::Result<Self> {
        for name in started {
            config.component(name)?;
        }
        let shared = &config.shared;
        let mut addresses: BTreeMap<_, _> = config
            .components()
            .iter()
            .map(|c| (c.name(), c.addr().to_owned()))
            .collect();
        let (trigger, signal) = shutdown_channel();
        let sessions = Sessions::new(session_store(shared)?, shared.session_policy());
        let client_tls = shared.tls.client().map_err(anyhow::Error::msg)?;
        if let Some(addr) = shared.metrics_addr {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("metrics cannot listen on {addr}"))?;
            let bound = listener.local_addr()?;
            tokio::spawn(portal_common::metrics::serve(listener, signal.clone()));
            tracing::info!(addr = %bound, "metrics on http://{bound}/metrics");
        }
        let mut tasks = JoinSet::new();
        // Every listener first: components call each other both ways (the record service
        // sends email, the notification service follows the record's changes), so each must
        // know where the others are before any starts.
        let mut listeners = Vec::new();
        for component in config
            .components()
            .into_iter()
            .filter(|c| started.contains(&c.name()))
        {
            let name = component.name();
            let wanted = match shared.listen_addr {
                Some(listen) if started.len() == 1 => listen.to_string(),
                _ => component.addr().to_owned(),
            };
            let listener = TcpListener::bind(&wanted)
                .await
                .with_context(|| format!("{name} cannot listen on {wanted}"))?;
            let bound = listener.local_addr()?;
            // Reached from this process at the address it is bound to (loopback for all).
            let local = match bound.ip() {
                ip if ip.is_unspecified() && ip.is_ipv4() => {
                    SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, bound.port()))
                }
                ip if ip.is_unspecified() => {
                    SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, bound.port()))
                }
                _ => bound,
            };
            addresses.insert(name, local.to_string());
            listeners.push((component, listener, bound));
        }
        for (component, listener, bound) in listeners {
            let name = component.name();
            let to = |called: &'static str| {
                let addr = addresses
                    .get(called)
                    .with_context(|| format!("{name} calls {called}, which is not a component"))?;
                Ok::<_, anyhow::Error>(upstream::connect(called, addr, client_tls.as_ref())?)
            };
            let mut upstreams = BTreeMap::new();
            for &called in component.calls() {
                upstreams.insert(called, to(called)?);
            }
            let context = Context::new(shared, &signer, &sessions, upstreams, signal.clone());
            let served = component
                .serve(&context)
                .await
                .with_context(|| format!("{name} cannot start"))?;
            let options = ServeOptions {
                max_concurrent_calls: shared.limits.max_concurrent_calls,
                max_streams_per_connection: shared.limits.max_streams_per_connection,
                grace: shared.shutdown_grace(),
                tls: shared
                    .tls
                    .server(component.public())
                    .map_err(anyhow::Error::msg)?,
                browsers: component.browsers(),
                handshake_timeout: Duration::from_secs(shared.limits.connection_opening_seconds),
                public_connections: component.public_connections(),
            };
            let tls = options.tls.is_some();
            let signal = signal.clone();
            tasks.spawn(async move { (name, serve(listener, served, signal, options).await) });
            // A public certificate need not name the address the public component is bound
            // to, so behind TLS the listener's being bound is taken as ready.
            if component.public() && !tls {
                wait_until_serving(name, to(name)?).await?;
            }
            tracing::info!(addr = %bound, "{name} listening on {bound}");
        }
        Ok(Self {
            addresses,
            signer,
            sessions,
            trigger,
            tasks,
        })
    }

    /// Where the component `name` listens (or, for one not started here, is reached).
    ///
    /// # Panics
    /// When `name` is not a component's name.
    pub fn addr(&self, name: &str) -> &str {
        &self.addresses[name]
    }

    /// The key components sign principal assertions with.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The sessions of this process, over the store they share with captchas and sign-in
    /// counters.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Waits until a component stops by itself (an error) or `stop` completes.
    pub async fn run_until(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::select! {
            () = stop => Ok(()),
            Some(joined) = self.tasks.join_next() => {
                let (name, result) = joined?;
                result.with_context(|| format!("{name} stopped"))?;
                anyhow::bail!("{name} stopped unexpectedly")
            }
        }
    }

    /// Graceful stop: health turns NOT_SERVING, in-flight calls finish, servers return.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.trigger.trigger();
        while let Some(joined) = self.tasks.join_next().await {
            let (name, result) = joined?;
            result.with_context(|| format!("{name} failed while stopping"))?;
        }
        Ok(())
    }
}

/// Polls a component's health until it answers SERVING.
async fn wait_until_serving(name: &str, component: Upstream) -> anyhow::Result<()> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let mut health = HealthClient::new(component);
    for _ in 0..100 {
        let answer = health.check(HealthCheckRequest::default()).await;
        if answer.is_ok_and(|r| r.get_ref().status() == ServingStatus::Serving) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{name} did not answer health checks")
}
