//! Configuration: environment variables (`PORTAL_*`) with command-line flags overriding, and
//! defaults that make `portal up` work with nothing set.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::assertion::Signer;
use crate::sessions::SessionPolicy;

/// `host:port`, the host a name, an IPv4 address or a bracketed IPv6 address: where a
/// component is reached by the others (such as a Kubernetes Service, or an IP address).
pub fn parse_host_port(input: &str) -> Result<String, String> {
    let input = input.trim();
    let valid = input.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && port.parse::<u16>().is_ok()
            && (host.starts_with('[') && host.ends_with(']') || !host.contains(':'))
            && !host.contains(['/', '@', ' '])
    });
    if valid {
        Ok(input.to_owned())
    } else {
        Err("expected host:port, such as record:50053 or 127.0.0.1:50053".to_owned())
    }
}

/// What every database shares: where the embedded ones live, migrations, pool size. Each
/// component configures its own URL.
#[derive(Debug, Clone, Args)]
pub struct Databases {
    /// Directory for the embedded SQLite databases.
    #[arg(long, env = "PORTAL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Whether each service brings its database schema up to date when it starts. Off when
    /// several replicas start together and a migration job (`portal migrate`) runs first.
    #[arg(long, env = "PORTAL_MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate_on_start: bool,
    /// Most database connections each service keeps open.
    #[arg(long, env = "PORTAL_DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
}

/// What every component shares; each component's own settings are its own (see
/// [`crate::component`]).
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Where `portal serve` listens (such as `0.0.0.0:50053` in a container), when not at
    /// its component's address.
    #[arg(long, env = "PORTAL_LISTEN_ADDR")]
    pub listen_addr: Option<SocketAddr>,
    /// Where Prometheus scrapes `/metrics` (plain HTTP); no metrics endpoint when unset.
    #[arg(long, env = "PORTAL_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    #[command(flatten)]
    pub databases: Databases,
    /// Redis URL for sessions and limits; the in-process store when unset.
    #[arg(long, env = "PORTAL_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Put before every Redis key, so that several deployments can share one Redis.
    #[arg(long, env = "PORTAL_REDIS_KEY_PREFIX", default_value = "")]
    pub redis_key_prefix: String,
    /// Longest a Redis call may take before the caller gets UNAVAILABLE, in milliseconds.
    #[arg(long, env = "PORTAL_REDIS_TIMEOUT_MS", default_value_t = 500)]
    pub redis_timeout_ms: u64,
    /// Key (at least 32 bytes) signing principal assertions between components. Required by
    /// `portal serve`; `portal up` makes a random one when unset.
    #[arg(long, env = "PORTAL_INTERNAL_SIGNING_KEY", hide_env_values = true)]
    pub internal_signing_key: Option<String>,
    /// A second key whose principal assertions are accepted but never made, for rotating the
    /// signing key without refusing calls (docs/operations.md).
    #[arg(
        long,
        env = "PORTAL_INTERNAL_SIGNING_KEY_ACCEPTED",
        hide_env_values = true
    )]
    pub internal_signing_key_accepted: Option<String>,
    /// Sessions end after this many seconds without use.
    #[arg(long, env = "PORTAL_SESSION_IDLE_SECONDS", default_value_t = 20 * 60)]
    pub session_idle_seconds: u64,
    /// Teacher sessions end this many seconds after sign-in.
    #[arg(long, env = "PORTAL_TEACHER_SESSION_SECONDS", default_value_t = 8 * 60 * 60)]
    pub teacher_session_seconds: u64,
    /// Client sessions end this many seconds after sign-in.
    #[arg(long, env = "PORTAL_CLIENT_SESSION_SECONDS", default_value_t = 60 * 60)]
    pub client_session_seconds: u64,
    /// Seconds that in-flight calls get to finish after SIGINT or SIGTERM.
    #[arg(long, env = "PORTAL_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub shutdown_grace_seconds: u64,
    /// Whether a teacher must prove control of the email address on the record (a code sent
    /// to it) before seeing the whole record and changing anything: required, or off (every
    /// teacher session may do everything, as before assurance levels).
    #[arg(long, env = "PORTAL_VERIFICATION", value_enum, default_value_t = VerificationMode::Required)]
    pub verification: VerificationMode,
    #[command(flatten)]
    pub limits: ServerLimits,
    #[command(flatten)]
    pub tls: Tls,
}

/// What one server takes on at once.
#[derive(Debug, Clone, Args)]
pub struct ServerLimits {
    /// Calls a server works on at once; more are refused at once with RESOURCE_EXHAUSTED.
    #[arg(long, env = "PORTAL_MAX_CONCURRENT_CALLS", default_value_t = 512)]
    pub max_concurrent_calls: usize,
    /// HTTP/2 streams one connection may have open at once; its client queues the rest.
    #[arg(long, env = "PORTAL_MAX_STREAMS_PER_CONNECTION", default_value_t = 128)]
    pub max_streams_per_connection: u32,
    /// Seconds a new connection has to complete its opening (the HTTP/2 preface and SETTINGS,
    /// an HTTP/1.1 request's head, or the TLS handshake) before it is closed.
    #[arg(long, env = "PORTAL_CONNECTION_OPENING_SECONDS", default_value_t = 10)]
    pub connection_opening_seconds: u64,
}

/// TLS on every connection: the gateway serves it to the public, and the components use it,
/// with client certificates (mutual TLS), between themselves. Off when no certificate is set.
#[derive(Debug, Clone, Default, Args)]
pub struct Tls {
    /// PEM certificate chain this component serves and presents to the components it calls.
    #[arg(long, env = "PORTAL_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of that certificate.
    #[arg(long, env = "PORTAL_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// PEM certificate of the authority that signs the components' certificates. Components
    /// check the servers they call against it, and every service but the gateway refuses
    /// callers without a certificate it signed.
    #[arg(long, env = "PORTAL_TLS_CA_FILE")]
    pub tls_ca_file: Option<PathBuf>,
}

/// Whether teacher sessions need the verified level for more than a masked record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VerificationMode {
    /// A session from SignInTeacher sees a masked record and its documents; the rest needs a
    /// code from the email on the record.
    Required,
    /// Every teacher session may do everything.
    Off,
}

impl Config {
    pub fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            idle_timeout: Duration::from_secs(self.session_idle_seconds),
            teacher_lifetime: Duration::from_secs(self.teacher_session_seconds),
            client_lifetime: Duration::from_secs(self.client_session_seconds),
        }
    }

    pub fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }

    /// The signer from the configured key (also accepting the second key when one is set), or
    /// `None` when no key is configured.
    pub fn configured_signer(&self) -> Result<Option<Signer>, String> {
        let Some(key) = self.internal_signing_key.as_deref() else {
            return Ok(None);
        };
        let signer = Signer::new(key.as_bytes())?;
        match self.internal_signing_key_accepted.as_deref() {
            Some(accepted) => signer.accepting(accepted.as_bytes()).map(Some),
            None => Ok(Some(signer)),
        }
    }
}
