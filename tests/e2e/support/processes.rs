//! Every component as its own `portal serve` process, wired by environment variables as a
//! deployment wires them, sharing a Redis and, when given, a PostgreSQL server.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_client::AdministrationClient;
use dqt_proto::dqt::portal::v1::authentication_client::AuthenticationClient;
use dqt_proto::dqt::portal::v1::teacher_portal_client::TeacherPortalClient;
use portal_common::component::names;
use tonic::Request;
use tonic::transport::{Channel, Endpoint};

use super::{ADMIN_SECRET, PortalProcess};

const SIGNING_KEY: &str = "processes-test-signing-key-0123456789abcdef";

/// A port free a moment ago, for a server the test may stop and start again on it. It lies
/// below the system's range of ports given to whoever binds port 0 (32768 on), so that while
/// the server is down no other test's listener can take its port (the likely cause of a rare
/// failure of an SMTP test, whose mail server could come back to find its port taken); and no
/// two calls in this process hand out the same one.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const RANGE: u32 = 12_000;
    static NEXT: std::sync::LazyLock<AtomicU32> =
        std::sync::LazyLock::new(|| AtomicU32::new(rand::random_range(0..RANGE)));
    loop {
        let port = u16::try_from(FIRST + NEXT.fetch_add(1, Ordering::SeqCst) % RANGE)
            .expect("below 32000");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Runs a command to completion, panicking with its output when it fails.
pub fn run(command: &mut Command) {
    let output = command.output().expect("command runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub struct Portal {
    env: Vec<(String, String)>,
    pub processes: BTreeMap<&'static str, PortalProcess>,
    stopped: BTreeMap<&'static str, PortalProcess>,
    pub gateway: Channel,
}

impl Portal {
    /// Starts every component: on fresh databases on `postgres` when given (`None` when it
    /// is unreachable and not required), else on embedded databases; sessions in `redis`.
    /// `env` is set for every component, and `PORTAL_METRICS_ADDR_<COMPONENT>` in it for that
    /// component only, as `PORTAL_METRICS_ADDR`.
    pub async fn start(postgres: Option<&str>, redis: &str, env: &[(&str, &str)]) -> Option<Self> {
        let tag = format!("{:016x}", rand::random::<u64>());
        let mut config = super::default_config();
        if let Some(postgres) = postgres {
            super::create_databases_at(&mut config, &tag, postgres).await?;
        }
        let mut all: Vec<(String, String)> = vec![
            ("PORTAL_INTERNAL_SIGNING_KEY".into(), SIGNING_KEY.into()),
            ("PORTAL_ADMIN_CLIENT_SECRET".into(), ADMIN_SECRET.into()),
            ("PORTAL_REDIS_URL".into(), redis.into()),
            ("PORTAL_REDIS_KEY_PREFIX".into(), format!("portal_t_{tag}:")),
            ("PORTAL_DATABASE_MAX_CONNECTIONS".into(), "4".into()),
            ("PORTAL_RECORD_CACHE_MS".into(), "0".into()),
            ("PORTAL_SHUTDOWN_GRACE_SECONDS".into(), "2".into()),
        ];
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        // Wired as a deployment is: each component reached by a host name, listening on all
        // addresses (PORTAL_LISTEN_ADDR, set per process below).
        for component in config.components() {
            let upper = component.name().to_uppercase();
            all.push((
                format!("PORTAL_{upper}_ADDR"),
                format!("localhost:{}", free_port()),
            ));
            if let Some(url) = component.database().and_then(|d| d.url) {
                all.push((format!("PORTAL_{upper}_DATABASE_URL"), url.to_owned()));
            }
        }
        let mut portal = Self {
            env: all,
            processes: BTreeMap::new(),
            stopped: BTreeMap::new(),
            gateway: Endpoint::from_static("http://127.0.0.1:1").connect_lazy(),
        };
        for component in config.components() {
            portal.start_component(component.name());
        }
        let gateway = portal.address(names::GATEWAY);
        portal.gateway = Endpoint::from_shared(format!("http://{gateway}"))
            .unwrap()
            .connect_lazy();
        Some(portal)
    }

    /// Where `component` is reached (`localhost:<port>`).
    pub fn address(&self, component: &str) -> String {
        let name = format!("PORTAL_{}_ADDR", component.to_uppercase());
        let (_, address) = self.env.iter().find(|(k, _)| *k == name).unwrap();
        address.clone()
    }

    pub fn start_component(&mut self, component: &'static str) {
        let own_metrics = format!("PORTAL_METRICS_ADDR_{}", component.to_uppercase());
        let port = self
            .address(component)
            .rsplit_once(':')
            .unwrap()
            .1
            .to_owned();
        let listen = format!("0.0.0.0:{port}");
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .filter(|(k, _)| !k.starts_with("PORTAL_METRICS_ADDR_") || *k == own_metrics)
            .map(|(k, v)| {
                let name = if *k == own_metrics {
                    "PORTAL_METRICS_ADDR"
                } else {
                    k.as_str()
                };
                (name, v.as_str())
            })
            .collect();
        env.push(("PORTAL_LISTEN_ADDR", &listen));
        let process = PortalProcess::serve(component, &env);
        self.processes.insert(component, process);
    }

    pub fn signal(&self, component: &str, signal: &str) {
        let pid = self.processes[component].child.id().to_string();
        run(Command::new("kill").args([signal, &pid]));
    }

    /// SIGKILL: no chance to finish anything. Its output stays readable with [`Self::output`].
    pub fn kill(&mut self, component: &'static str) {
        let mut process = self.processes.remove(component).unwrap();
        process.child.kill().unwrap();
        process.child.wait().unwrap();
        self.stopped.insert(component, process);
    }

    /// Everything a stopped component wrote.
    pub fn output(&self, component: &str) -> Vec<String> {
        self.stopped[component].output()
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

    /// Signs in the admin client once the components have come up (they start side by side, and
    /// identity hashes secrets at start), trying for up to a minute.
    pub async fn sign_in_admin_when_ready(&self) -> String {
        let started = std::time::Instant::now();
        loop {
            match self.sign_in_admin().await {
                Ok(token) => return token,
                Err(status) if started.elapsed() > Duration::from_secs(60) => {
                    panic!("the admin could not sign in: {status:?}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Signs in the admin client, with a deadline of a few seconds.
    pub async fn sign_in_admin(&self) -> Result<String, tonic::Status> {
        let mut request = Request::new(pb::SignInClientRequest {
            client_id: "admin".into(),
            client_secret: ADMIN_SECRET.into(),
        });
        request.set_timeout(Duration::from_secs(2));
        Ok(self
            .auth()
            .sign_in_client(request)
            .await?
            .into_inner()
            .token)
    }
}
