//! Start-up shared by `portal up`, `portal serve` and the end-to-end tests: every component
//! started the same way, each on its own port, talking real gRPC to the others.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use portal_common::config::Addresses;
use portal_common::server::{ServeOptions, Served, ShutdownTrigger, serve, shutdown_channel};
use portal_common::session_cache::CachedSessions;
use portal_common::sessions::{MemoryStore, RedisStore, SessionCheck, SessionStore, Sessions};
use portal_common::upstream::{self, Upstream};
use portal_common::{Component, Config, Signer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub mod bench;
pub mod demo;

/// Running components and the means to stop them.
pub struct Stack {
    addresses: Addresses,
    signer: Signer,
    sessions: Sessions,
    trigger: ShutdownTrigger,
    tasks: JoinSet<(Component, Result<(), tonic::transport::Error>)>,
}

/// The session store the configuration asks for.
pub fn session_store(config: &Config) -> anyhow::Result<Arc<dyn SessionStore>> {
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
    /// Starts `components` in this process, in dependency order, each on the address the
    /// configuration gives it (port 0 picks a free port), or for a single component on
    /// `PORTAL_LISTEN_ADDR` when set. Components reach each other, and any not started here,
    /// at the configured addresses.
    pub async fn start(
        config: &Config,
        components: &[Component],
        signer: Signer,
    ) -> anyhow::Result<Self> {
        let mut addresses = config.addresses.clone();
        let (trigger, signal) = shutdown_channel();
        let sessions = Sessions::new(session_store(config)?, config.session_policy());
        let client_tls = config.tls.client().map_err(anyhow::Error::msg)?;
        if let Some(addr) = config.addresses.metrics_addr {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("metrics cannot listen on {addr}"))?;
            let bound = listener.local_addr()?;
            tokio::spawn(portal_common::metrics::serve(listener, signal.clone()));
            tracing::info!(addr = %bound, "metrics on http://{bound}/metrics");
        }
        let mut tasks = JoinSet::new();
        for component in Component::ALL
            .into_iter()
            .filter(|c| components.contains(c))
        {
            let wanted = match config.addresses.listen_addr {
                Some(listen) if components.len() == 1 => listen.to_string(),
                _ => addresses.of(component).to_owned(),
            };
            let listener = TcpListener::bind(&wanted)
                .await
                .with_context(|| format!("{} cannot listen on {wanted}", component.name()))?;
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
            addresses.set(component, local.to_string());
            let to =
                |c: Component| upstream::connect(c.name(), addresses.of(c), client_tls.as_ref());
            let served = Self::served(component, config, &to, &signer, &sessions).await?;
            let options = ServeOptions {
                max_concurrent_calls: config.limits.max_concurrent_calls,
                max_streams_per_connection: config.limits.max_streams_per_connection,
                grace: config.shutdown_grace(),
                tls: config.tls.server(component).map_err(anyhow::Error::msg)?,
            };
            let public_tls = options.tls.is_some();
            let signal = signal.clone();
            tasks.spawn(async move { (component, serve(listener, served, signal, options).await) });
            if component == Component::Gateway {
                // A public certificate need not name the address the gateway is bound to, so
                // behind TLS the listener's being bound is taken as ready.
                if !public_tls {
                    wait_until_serving(to(component)?).await?;
                }
                tracing::info!(addr = %bound, "gateway listening on {bound}");
            } else {
                tracing::info!(addr = %bound, "{} listening on {bound}", component.name());
            }
        }
        Ok(Self {
            addresses,
            signer,
            sessions,
            trigger,
            tasks,
        })
    }

    async fn served(
        component: Component,
        config: &Config,
        to: &impl Fn(Component) -> Result<Upstream, tonic::transport::Error>,
        signer: &Signer,
        sessions: &Sessions,
    ) -> anyhow::Result<Served> {
        Ok(match component {
            Component::Notification => portal_notification::served(config, signer).await?,
            Component::Record => {
                portal_record::served(config, signer, to(Component::Notification)?).await?
            }
            Component::Identity => {
                portal_identity::served(
                    config,
                    signer,
                    sessions.clone(),
                    portal_identity::Upstreams {
                        record: to(Component::Record)?,
                        notification: to(Component::Notification)?,
                    },
                )
                .await?
            }
            Component::Employment => portal_employment::served(config, signer).await?,
            Component::Document => {
                portal_document::served(config, signer, to(Component::Record)?).await?
            }
            Component::Gateway => portal_gateway::served(
                signer.clone(),
                session_check(config, sessions)?,
                portal_gateway::source::TrustedProxies::new(config.trusted_proxies.clone()),
                portal_gateway::limits::CheckLimits::new(
                    sessions.store().clone(),
                    config.employer_checks_per_minute,
                    config.employer_checks_per_day,
                ),
                config.verification,
                portal_gateway::Upstreams {
                    identity: to(Component::Identity)?,
                    record: to(Component::Record)?,
                    document: to(Component::Document)?,
                    employment: to(Component::Employment)?,
                },
            ),
        })
    }

    /// Where each component listens (or, for those not started here, is reached).
    pub fn addr(&self, component: Component) -> &str {
        self.addresses.of(component)
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
                let (component, result) = joined?;
                result.with_context(|| format!("{} stopped", component.name()))?;
                anyhow::bail!("{} stopped unexpectedly", component.name())
            }
        }
    }

    /// Graceful stop: health turns NOT_SERVING, in-flight calls finish, servers return.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.trigger.trigger();
        while let Some(joined) = self.tasks.join_next().await {
            let (component, result) = joined?;
            result.with_context(|| format!("{} failed while stopping", component.name()))?;
        }
        Ok(())
    }
}

/// How the gateway checks sessions: from a cache Redis keeps honest when there is Redis,
/// straight from the in-process store otherwise.
fn session_check(config: &Config, sessions: &Sessions) -> anyhow::Result<SessionCheck> {
    Ok(match &config.redis_url {
        Some(url) => SessionCheck::Cached(
            CachedSessions::connect(
                url,
                &config.redis_key_prefix,
                config.session_policy(),
                Duration::from_secs(config.session_touch_seconds),
                config.redis_timeout(),
            )
            .context("PORTAL_REDIS_URL")?,
        ),
        None => SessionCheck::Store(sessions.clone()),
    })
}

/// Polls the gateway's health until it answers SERVING.
async fn wait_until_serving(gateway: Upstream) -> anyhow::Result<()> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let mut health = HealthClient::new(gateway);
    for _ in 0..100 {
        let answer = health.check(HealthCheckRequest::default()).await;
        if answer.is_ok_and(|r| r.get_ref().status() == ServingStatus::Serving) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the gateway did not answer health checks")
}
