//! Configuration: environment variables (`PORTAL_*`) with command-line flags overriding, and
//! defaults that make `portal up` work with nothing set.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ipnet::IpNet;

use crate::principal::Signer;
use crate::sessions::SessionPolicy;

/// The components of the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Component {
    Gateway,
    Identity,
    Record,
    Employment,
    Document,
    Notification,
}

impl Component {
    pub const ALL: [Component; 6] = [
        Component::Notification,
        Component::Record,
        Component::Identity,
        Component::Employment,
        Component::Document,
        Component::Gateway,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Component::Gateway => "gateway",
            Component::Identity => "identity",
            Component::Record => "record",
            Component::Employment => "employment",
            Component::Document => "document",
            Component::Notification => "notification",
        }
    }
}

/// Where each component is reached by the others (`host:port`; a host name such as a
/// Kubernetes Service, or an IP address), and where it listens unless `PORTAL_LISTEN_ADDR`
/// says otherwise.
#[derive(Debug, Clone, Args)]
pub struct Addresses {
    /// Address of the public gateway.
    #[arg(long, env = "PORTAL_GATEWAY_ADDR", default_value = "127.0.0.1:50051", value_parser = parse_host_port)]
    pub gateway_addr: String,
    /// Address of the identity service.
    #[arg(long, env = "PORTAL_IDENTITY_ADDR", default_value = "127.0.0.1:50052", value_parser = parse_host_port)]
    pub identity_addr: String,
    /// Address of the record service.
    #[arg(long, env = "PORTAL_RECORD_ADDR", default_value = "127.0.0.1:50053", value_parser = parse_host_port)]
    pub record_addr: String,
    /// Address of the employment service.
    #[arg(long, env = "PORTAL_EMPLOYMENT_ADDR", default_value = "127.0.0.1:50054", value_parser = parse_host_port)]
    pub employment_addr: String,
    /// Address of the document service.
    #[arg(long, env = "PORTAL_DOCUMENT_ADDR", default_value = "127.0.0.1:50055", value_parser = parse_host_port)]
    pub document_addr: String,
    /// Address of the notification service.
    #[arg(long, env = "PORTAL_NOTIFICATION_ADDR", default_value = "127.0.0.1:50056", value_parser = parse_host_port)]
    pub notification_addr: String,
    /// Where `portal serve` listens (such as `0.0.0.0:50053` in a container), when not at
    /// its component's address.
    #[arg(long, env = "PORTAL_LISTEN_ADDR")]
    pub listen_addr: Option<SocketAddr>,
    /// Where Prometheus scrapes `/metrics` (plain HTTP); no metrics endpoint when unset.
    #[arg(long, env = "PORTAL_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

/// `host:port`, the host a name, an IPv4 address or a bracketed IPv6 address.
fn parse_host_port(input: &str) -> Result<String, String> {
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

impl Addresses {
    pub fn of(&self, component: Component) -> &str {
        match component {
            Component::Gateway => &self.gateway_addr,
            Component::Identity => &self.identity_addr,
            Component::Record => &self.record_addr,
            Component::Employment => &self.employment_addr,
            Component::Document => &self.document_addr,
            Component::Notification => &self.notification_addr,
        }
    }

    pub fn set(&mut self, component: Component, addr: String) {
        match component {
            Component::Gateway => self.gateway_addr = addr,
            Component::Identity => self.identity_addr = addr,
            Component::Record => self.record_addr = addr,
            Component::Employment => self.employment_addr = addr,
            Component::Document => self.document_addr = addr,
            Component::Notification => self.notification_addr = addr,
        }
    }
}

/// The databases: PostgreSQL by URL, else an SQLite file per service under the data directory.
#[derive(Debug, Clone, Args)]
pub struct Databases {
    /// Directory for the embedded SQLite databases.
    #[arg(long, env = "PORTAL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Identity service database URL (postgres://...); embedded SQLite when unset.
    #[arg(long, env = "PORTAL_IDENTITY_DATABASE_URL", hide_env_values = true)]
    pub identity_database_url: Option<String>,
    /// Record service database URL (postgres://...); embedded SQLite when unset.
    #[arg(long, env = "PORTAL_RECORD_DATABASE_URL", hide_env_values = true)]
    pub record_database_url: Option<String>,
    /// Employment service database URL (postgres://...); embedded SQLite when unset.
    #[arg(long, env = "PORTAL_EMPLOYMENT_DATABASE_URL", hide_env_values = true)]
    pub employment_database_url: Option<String>,
    /// Document service database URL (postgres://...); embedded SQLite when unset.
    #[arg(long, env = "PORTAL_DOCUMENT_DATABASE_URL", hide_env_values = true)]
    pub document_database_url: Option<String>,
    /// Notification service database URL (postgres://...); embedded SQLite when unset.
    #[arg(long, env = "PORTAL_NOTIFICATION_DATABASE_URL", hide_env_values = true)]
    pub notification_database_url: Option<String>,
    /// Whether each service brings its database schema up to date when it starts. Off when
    /// several replicas start together and a migration job (`portal migrate`) runs first.
    #[arg(long, env = "PORTAL_MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate_on_start: bool,
    /// Most database connections each service keeps open.
    #[arg(long, env = "PORTAL_DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
}

impl Databases {
    /// The configured URL of a service's database, if any.
    pub fn url_of(&self, component: Component) -> Option<&str> {
        match component {
            Component::Identity => self.identity_database_url.as_deref(),
            Component::Record => self.record_database_url.as_deref(),
            Component::Employment => self.employment_database_url.as_deref(),
            Component::Document => self.document_database_url.as_deref(),
            Component::Notification => self.notification_database_url.as_deref(),
            Component::Gateway => None,
        }
    }
}

/// Everything a component needs to start.
#[derive(Debug, Clone, Args)]
pub struct Config {
    #[command(flatten)]
    pub addresses: Addresses,
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
    /// When set, start-up creates or updates the client `admin` with every internal role.
    #[arg(long, env = "PORTAL_ADMIN_CLIENT_SECRET", hide_env_values = true)]
    pub admin_client_secret: Option<String>,
    /// Sessions end after this many seconds without use.
    #[arg(long, env = "PORTAL_SESSION_IDLE_SECONDS", default_value_t = 20 * 60)]
    pub session_idle_seconds: u64,
    /// Teacher sessions end this many seconds after sign-in.
    #[arg(long, env = "PORTAL_TEACHER_SESSION_SECONDS", default_value_t = 8 * 60 * 60)]
    pub teacher_session_seconds: u64,
    /// Client sessions end this many seconds after sign-in.
    #[arg(long, env = "PORTAL_CLIENT_SESSION_SECONDS", default_value_t = 60 * 60)]
    pub client_session_seconds: u64,
    /// With Redis, the gateway checks sessions from memory and slides a session's idle expiry
    /// in Redis at most once this many seconds.
    #[arg(long, env = "PORTAL_SESSION_TOUCH_SECONDS", default_value_t = 60)]
    pub session_touch_seconds: u64,
    /// First TRN the record service allocates.
    #[arg(long, env = "PORTAL_TRN_RANGE_START", default_value_t = 1_000_000)]
    pub trn_range_start: u32,
    /// Last TRN the record service allocates.
    #[arg(long, env = "PORTAL_TRN_RANGE_END", default_value_t = 9_999_999)]
    pub trn_range_end: u32,
    /// Seconds that in-flight calls get to finish after SIGINT or SIGTERM.
    #[arg(long, env = "PORTAL_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub shutdown_grace_seconds: u64,
    /// How long the record service keeps a teacher's own read of their record, in
    /// milliseconds (0: not at all). Changes through the same instance are seen at once,
    /// through another within this time.
    #[arg(long, env = "PORTAL_RECORD_CACHE_MS", default_value_t = 2000)]
    pub record_cache_ms: u64,
    /// Evidence sent with a name or date-of-birth change is deleted this many seconds after
    /// the request is decided.
    #[arg(long, env = "PORTAL_EVIDENCE_RETENTION_SECONDS", default_value_t = 30 * 24 * 60 * 60)]
    pub evidence_retention_seconds: u64,
    /// Checks (a bulk query counts one per teacher) one employer client may make a minute.
    #[arg(
        long,
        env = "PORTAL_EMPLOYER_CHECKS_PER_MINUTE",
        default_value_t = 1000
    )]
    pub employer_checks_per_minute: u32,
    /// Checks one employer client may make a day.
    #[arg(long, env = "PORTAL_EMPLOYER_CHECKS_PER_DAY", default_value_t = 20_000)]
    pub employer_checks_per_day: u32,
    #[command(flatten)]
    pub sign_in: SignInLimits,
    /// Whether a teacher must prove control of the email address on the record (a code sent
    /// to it) before seeing the whole record and changing anything: required, or off (every
    /// teacher session may do everything, as before assurance levels).
    #[arg(long, env = "PORTAL_VERIFICATION", value_enum, default_value_t = VerificationMode::Required)]
    pub verification: VerificationMode,
    #[command(flatten)]
    pub email: Email,
    /// Front ends (IP addresses or CIDR blocks, comma-separated) whose `x-forwarded-for` the
    /// gateway believes when it works out where a sign-in comes from.
    #[arg(
        long,
        env = "PORTAL_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_network
    )]
    pub trusted_proxies: Vec<IpNet>,
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

/// An IP network, or a single address as a network of one.
fn parse_network(input: &str) -> Result<IpNet, String> {
    let input = input.trim();
    input
        .parse::<IpNet>()
        .or_else(|_| input.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| "expected an IP address or a CIDR block such as 10.0.0.0/8".to_owned())
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

/// How the notification service delivers email.
#[derive(Debug, Clone, Args)]
pub struct Email {
    /// The mail server, e.g. `smtp://127.0.0.1:2525` (no TLS), `smtp://host:587?tls=required`
    /// (STARTTLS) or `smtps://user:password@host:465`. When unset, each email is written as an
    /// `.eml` file under `$PORTAL_DATA_DIR/outbox/`.
    #[arg(long, env = "PORTAL_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of every email, e.g. `Teaching record <no-reply@example.gov.uk>`.
    #[arg(
        long,
        env = "PORTAL_EMAIL_FROM",
        default_value = "Teacher Self-Service Portal <no-reply@localhost>"
    )]
    pub email_from: String,
    /// The longest wait between two tries of an email the mail server did not take, in
    /// seconds (the wait doubles from 1 s up to this).
    #[arg(long, env = "PORTAL_EMAIL_RETRY_MAX_SECONDS", default_value_t = 300)]
    pub email_retry_max_seconds: u64,
}

/// When a teacher's sign-in needs a solved captcha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CaptchaMode {
    /// Every sign-in (the old portal's way).
    Always,
    /// After failed sign-ins for the TRN or the source (GOV.UK's advice).
    StepUp,
    /// Never.
    Off,
}

/// Throttling of teacher sign-in. Counts live in the session store, shared by every instance.
#[derive(Debug, Clone, Args)]
pub struct SignInLimits {
    /// When a captcha is needed: always, step-up or off.
    #[arg(long, env = "PORTAL_CAPTCHA", value_enum, default_value_t = CaptchaMode::StepUp)]
    pub captcha: CaptchaMode,
    /// Failed sign-ins count for this many seconds from the first one.
    #[arg(long, env = "PORTAL_SIGN_IN_WINDOW_SECONDS", default_value_t = 15 * 60)]
    pub window_seconds: u64,
    /// With step-up, failures for a TRN or a source after which a captcha is needed.
    #[arg(long, env = "PORTAL_CAPTCHA_AFTER_FAILURES", default_value_t = 3)]
    pub captcha_after_failures: u32,
    /// Failures for one TRN after which it is locked.
    #[arg(long, env = "PORTAL_TRN_LOCK_AFTER_FAILURES", default_value_t = 5)]
    pub trn_lock_after_failures: u32,
    /// Failures from one source after which it is locked.
    #[arg(long, env = "PORTAL_SOURCE_LOCK_AFTER_FAILURES", default_value_t = 30)]
    pub source_lock_after_failures: u32,
    /// How long a lock lasts, in seconds.
    #[arg(long, env = "PORTAL_SIGN_IN_LOCK_SECONDS", default_value_t = 15 * 60)]
    pub lock_seconds: u64,
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
