//! Metrics for Prometheus, under the names stock dashboards use: gRPC calls served and made as
//! the grpc-ecosystem middleware names them (`grpc_server_*`, `grpc_client_*`), the process's
//! `process_*`, `portal_build_info`, and the portal's own (`portal_*`: calls refused under
//! overload, failed sign-ins, lockouts, documents issued, email). Every series whose labels are
//! known in advance exists from the start at zero, so that every alert can fire. One registry
//! per process, served on `PORTAL_METRICS_ADDR` (`GET /metrics`), apart from the gRPC port, in
//! the text format 0.0.4, or OpenMetrics when the scraper asks for it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use prost::Message as _;
use tokio::net::TcpListener;

use crate::server::ShutdownSignal;

/// A gRPC method as the grpc-ecosystem metrics label it.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    grpc_type: &'static str,
    grpc_service: String,
    grpc_method: String,
}

/// A gRPC method and the code it was answered with.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandledLabels {
    grpc_type: &'static str,
    grpc_service: String,
    grpc_method: String,
    grpc_code: &'static str,
}

impl RpcLabels {
    fn answered(&self, code: tonic::Code) -> HandledLabels {
        HandledLabels {
            grpc_type: self.grpc_type,
            grpc_service: self.grpc_service.clone(),
            grpc_method: self.grpc_method.clone(),
            grpc_code: code_name(code),
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type Latencies = Family<RpcLabels, Histogram, fn() -> Histogram>;

/// Calls started, answered (by code) and the time to answer, on one side of a call.
struct Rpcs {
    started: Family<RpcLabels, Counter>,
    handled: Family<HandledLabels, Counter>,
    handling: Latencies,
}

impl Rpcs {
    /// Registered as `grpc_<side>_started_total`, `grpc_<side>_handled_total` and
    /// `grpc_<side>_handling_seconds`.
    fn register(registry: &mut Registry, side: &str, whose: &str) -> Self {
        let rpcs = Self {
            started: Family::default(),
            handled: Family::default(),
            handling: Family::new_with_constructor(latency_histogram),
        };
        registry.register(
            format!("grpc_{side}_started"),
            format!("RPCs started {whose}"),
            rpcs.started.clone(),
        );
        registry.register(
            format!("grpc_{side}_handled"),
            format!("RPCs completed {whose}, by status code"),
            rpcs.handled.clone(),
        );
        registry.register(
            format!("grpc_{side}_handling_seconds"),
            format!("Time to complete an RPC {whose}"),
            rpcs.handling.clone(),
        );
        rpcs
    }

    /// Every series of `method` at zero: started, answered with each code, and its latency.
    fn expect(&self, method: &RpcLabels) {
        let _ = self.started.get_or_create(method);
        for code in CODES {
            let _ = self.handled.get_or_create(&method.answered(code));
        }
        let _ = self.handling.get_or_create(method);
    }

    fn answered(&self, method: &RpcLabels, code: tonic::Code, took: Duration) {
        self.handled.get_or_create(&method.answered(code)).inc();
        self.handling
            .get_or_create(method)
            .observe(took.as_secs_f64());
    }
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    server: Rpcs,
    client: Rpcs,
    shed: Counter,
    sign_in_failures: Counter,
    lockouts: Family<KindLabels, Counter>,
    connections_closed: Family<KindLabels, Counter>,
    documents: Family<KindLabels, Counter>,
    emails_queued: Counter,
    emails_sent: Counter,
    emails_failed: Family<KindLabels, Counter>,
    email_oldest_undelivered: Gauge<f64, std::sync::atomic::AtomicU64>,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// What locks and given-up emails are counted by: known in advance, so present from the start.
const LOCK_KINDS: [&str; 3] = ["trn", "client", "source"];
const EMAIL_FAILURES: [&str; 2] = ["failed", "expired"];
/// Why a server closes a connection itself (`connections`).
pub const CONNECTION_CLOSES: [&str; 3] = ["per_source_cap", "opening_late", "idle"];

/// The metrics of this process.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut registry = Registry::default();
        let server = Rpcs::register(&mut registry, "server", "on this server");
        let client = Rpcs::register(&mut registry, "client", "by this process on another component");
        registry.register_collector(Box::new(ProcessCollector));
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        let portal = registry.sub_registry_with_prefix("portal");
        portal.register("build_info", "The portal's version, as a label; always 1", build);
        let shed = Counter::default();
        portal.register(
            "rpc_shed",
            "Calls refused with RESOURCE_EXHAUSTED because the server was at its limit",
            shed.clone(),
        );
        let sign_in_failures = Counter::default();
        portal.register(
            "sign_in_failures",
            "Sign-ins refused for details or a client secret that did not match",
            sign_in_failures.clone(),
        );
        let lockouts = Family::default();
        portal.register(
            "sign_in_lockouts",
            "Sign-in locks begun, by what was locked (trn, client or source)",
            lockouts.clone(),
        );
        let connections_closed = Family::default();
        portal.register(
            "connections_closed",
            "Connections the server closed itself, by why (per_source_cap: refused as its address \
             had its limit open; opening_late: no complete HTTP/2 or HTTP/1.1 opening in time; \
             idle: no call in progress for the idle time)",
            connections_closed.clone(),
        );
        let documents = Family::default();
        portal.register(
            "documents_issued",
            "Documents issued, by kind",
            documents.clone(),
        );
        let emails_queued = Counter::default();
        portal.register(
            "emails_queued",
            "Emails accepted and stored for delivery",
            emails_queued.clone(),
        );
        let emails_sent = Counter::default();
        portal.register(
            "emails_sent",
            "Emails taken by the mail server (or written to the outbox folder)",
            emails_sent.clone(),
        );
        let emails_failed = Family::default();
        portal.register(
            "emails_failed",
            "Emails given up on, by kind (failed: refused for good; expired: not delivered in time)",
            emails_failed.clone(),
        );
        let email_oldest_undelivered = Gauge::default();
        portal.register(
            "email_oldest_undelivered_seconds",
            "Age of the oldest email still waiting for delivery (0 when none waits)",
            email_oldest_undelivered.clone(),
        );
        for kind in LOCK_KINDS {
            let _ = lockouts.get_or_create(&KindLabels { kind });
        }
        for kind in CONNECTION_CLOSES {
            let _ = connections_closed.get_or_create(&KindLabels { kind });
        }
        for kind in EMAIL_FAILURES {
            let _ = emails_failed.get_or_create(&KindLabels { kind });
        }
        Metrics {
            registry,
            server,
            client,
            shed,
            sign_in_failures,
            lockouts,
            connections_closed,
            documents,
            emails_queued,
            emails_sent,
            emails_failed,
            email_oldest_undelivered,
        }
    })
}

impl Metrics {
    /// The gRPC services this process serves: each of their methods' series at zero.
    pub fn serving(&self, services: &[&str]) {
        for labels in methods().values() {
            if services.contains(&labels.grpc_service.as_str()) {
                self.server.expect(labels);
            }
        }
    }

    /// The component `component` that this process calls: the client-side series of each
    /// method of its services (`dqt.<component>.v1`) at zero.
    pub fn calling(&self, component: &str) {
        let package = format!("dqt.{component}.v1.");
        for labels in methods().values() {
            if labels.grpc_service.starts_with(&package) {
                self.client.expect(labels);
            }
        }
    }

    /// The kinds of document this process issues: each kind's count at zero.
    pub fn issuing(&self, kinds: impl IntoIterator<Item = &'static str>) {
        for kind in kinds {
            let _ = self.documents.get_or_create(&KindLabels { kind });
        }
    }

    /// A call of `path` begun on this server.
    pub fn started(&self, path: &str) {
        self.server.started.get_or_create(rpc(path)).inc();
    }

    /// A call of `path` answered by this server. Methods that do not exist are counted under
    /// `unknown`, so that made-up paths cannot grow the label set.
    pub fn call(&self, path: &str, code: tonic::Code, took: Duration) {
        self.server.answered(rpc(path), code, took);
    }

    /// A call of `path` begun by this process on another component.
    pub fn client_started(&self, path: &str) {
        self.client.started.get_or_create(rpc(path)).inc();
    }

    /// A call of `path` this process made on another component, answered.
    pub fn client_call(&self, path: &str, code: tonic::Code, took: Duration) {
        self.client.answered(rpc(path), code, took);
    }

    /// A connection closed by the server itself, for `why` (one of [`CONNECTION_CLOSES`]).
    pub fn connection_closed(&self, why: &'static str) {
        self.connections_closed
            .get_or_create(&KindLabels { kind: why })
            .inc();
    }

    pub fn shed(&self) {
        self.shed.inc();
    }

    pub fn sign_in_failed(&self) {
        self.sign_in_failures.inc();
    }

    /// A lock begun on `kind` (`trn`, `client` or `source`).
    pub fn locked(&self, kind: &'static str) {
        self.lockouts.get_or_create(&KindLabels { kind }).inc();
    }

    /// A document issued, of `kind` (such as `qts_certificate`).
    pub fn issued(&self, kind: &'static str) {
        self.documents.get_or_create(&KindLabels { kind }).inc();
    }

    pub fn email_queued(&self) {
        self.emails_queued.inc();
    }

    pub fn email_sent(&self) {
        self.emails_sent.inc();
    }

    /// An email given up on, as `kind` (`failed` or `expired`).
    pub fn email_failed(&self, kind: &'static str) {
        self.emails_failed.get_or_create(&KindLabels { kind }).inc();
    }

    /// How long the oldest waiting email has waited, in seconds.
    pub fn email_oldest_undelivered(&self, seconds: f64) {
        self.email_oldest_undelivered.set(seconds);
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .unwrap_or_else(|_| unreachable!("writing to a String does not fail"));
        text
    }

    /// The metrics in Prometheus's text format 0.0.4, for scrapers that do not ask for
    /// OpenMetrics (and `promtool check metrics`).
    pub fn encode_text(&self) -> String {
        text_format(&self.encode())
    }
}

/// OpenMetrics text as the text format 0.0.4: a counter family is named with its `_total`,
/// units and the closing `# EOF` are left out. (The samples are written alike.)
fn text_format(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, after) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {after}"))
        });
        match renamed {
            Some(line) => text.push_str(&line),
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

/// Every gRPC method a portal process may serve or call, by path (`/package.Service/Method`),
/// with its labels, from the descriptors the servers are built from.
fn methods() -> &'static HashMap<String, RpcLabels> {
    static METHODS: OnceLock<HashMap<String, RpcLabels>> = OnceLock::new();
    METHODS.get_or_init(|| {
        let mut methods = HashMap::new();
        for encoded in [
            dqt_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ] {
            let Ok(set) = prost_types::FileDescriptorSet::decode(encoded) else {
                continue;
            };
            for file in set.file {
                for service in &file.service {
                    let name = format!("{}.{}", file.package(), service.name());
                    for method in &service.method {
                        let grpc_type = match (method.client_streaming(), method.server_streaming())
                        {
                            (false, false) => "unary",
                            (true, false) => "client_stream",
                            (false, true) => "server_stream",
                            (true, true) => "bidi_stream",
                        };
                        methods.insert(
                            format!("/{name}/{}", method.name()),
                            RpcLabels {
                                grpc_type,
                                grpc_service: name.clone(),
                                grpc_method: method.name().to_owned(),
                            },
                        );
                    }
                }
            }
        }
        methods
    })
}

/// The service and method at `path` (`unknown` for one that does not exist), as spans name them.
pub fn service_and_method(path: &str) -> (&'static str, &'static str) {
    let labels = rpc(path);
    (&labels.grpc_service, &labels.grpc_method)
}

/// The labels of the method at `path`; `unknown` for one that does not exist.
fn rpc(path: &str) -> &'static RpcLabels {
    static UNKNOWN: OnceLock<RpcLabels> = OnceLock::new();
    methods().get(path).unwrap_or_else(|| {
        UNKNOWN.get_or_init(|| RpcLabels {
            grpc_type: "unary",
            grpc_service: "unknown".to_owned(),
            grpc_method: "unknown".to_owned(),
        })
    })
}

/// Every status code, for the series present from the start.
const CODES: [tonic::Code; 17] = [
    tonic::Code::Ok,
    tonic::Code::Cancelled,
    tonic::Code::Unknown,
    tonic::Code::InvalidArgument,
    tonic::Code::DeadlineExceeded,
    tonic::Code::NotFound,
    tonic::Code::AlreadyExists,
    tonic::Code::PermissionDenied,
    tonic::Code::ResourceExhausted,
    tonic::Code::FailedPrecondition,
    tonic::Code::Aborted,
    tonic::Code::OutOfRange,
    tonic::Code::Unimplemented,
    tonic::Code::Internal,
    tonic::Code::Unavailable,
    tonic::Code::DataLoss,
    tonic::Code::Unauthenticated,
];

/// A status code as the grpc-ecosystem metrics (and gRPC-Go) name it.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

/// The `process_*` metrics of the Prometheus client libraries, read from /proc at each scrape.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(usage) = crate::process::usage("self") else {
            return Ok(());
        };
        let counter = ConstCounter::new(usage.cpu_seconds);
        counter.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            None,
            counter.metric_type(),
        )?)?;
        let kb = |n: u64| n.saturating_mul(1024) as f64;
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                kb(usage.resident_kb),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                kb(usage.virtual_kb),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                usage.start_time_seconds,
            ),
        ];
        let descriptors = crate::process::descriptors();
        let fds = descriptors.map(|(open, max)| {
            [
                (
                    "process_open_fds",
                    "Number of open file descriptors",
                    open as f64,
                ),
                (
                    "process_max_fds",
                    "Maximum number of open file descriptors",
                    max as f64,
                ),
            ]
        });
        for (name, help, value) in gauges.into_iter().chain(fds.into_iter().flatten()) {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = if request.uri().path() == "/metrics" {
        let openmetrics = request
            .headers()
            .get_all(hyper::header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("application/openmetrics-text"));
        let (content_type, body) = if openmetrics {
            (
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                metrics().encode(),
            )
        } else {
            (
                "text/plain; version=0.0.4; charset=utf-8",
                metrics().encode_text(),
            )
        };
        Response::builder()
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"not found\n")))
    };
    Ok(response.unwrap_or_else(|_| unreachable!("a static header is valid")))
}

/// Serves `/metrics` on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, shutdown: ShutdownSignal) {
    let stop = shutdown.wait();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(answer);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_service_method_and_code_and_unknown_paths_pooled() {
        let metrics = metrics();
        let took = Duration::from_millis(3);
        let path = "/dqt.portal.v1.TeacherPortal/ListMyDocuments";
        metrics.started(path);
        metrics.call(path, tonic::Code::NotFound, took);
        metrics.call("/made/up-1", tonic::Code::Unimplemented, took);
        metrics.call("/made/up-2", tonic::Code::Unimplemented, took);
        metrics.client_call(
            "/dqt.record.v1.RecordService/GetMyRecord",
            tonic::Code::Ok,
            took,
        );
        let text = metrics.encode_text();
        let labels = |side: &str, service: &str, method: &str| {
            format!(
                "{side}{{grpc_type=\"unary\",grpc_service=\"{service}\",grpc_method=\"{method}\""
            )
        };
        let mine = labels(
            "grpc_server_handled_total",
            "dqt.portal.v1.TeacherPortal",
            "ListMyDocuments",
        );
        assert!(
            text.contains(&format!("{mine},grpc_code=\"NotFound\"}} 1")),
            "{text}"
        );
        let unknown = labels("grpc_server_handled_total", "unknown", "unknown");
        assert!(text.contains(&format!("{unknown},grpc_code=\"Unimplemented\"}} 2")));
        assert!(!text.contains("made/up"));
        let started = labels(
            "grpc_server_started_total",
            "dqt.portal.v1.TeacherPortal",
            "ListMyDocuments",
        );
        assert!(text.contains(&format!("{started}}} 1")));
        assert!(text.contains(
            "grpc_server_handling_seconds_bucket{le=\"0.004\",grpc_type=\"unary\",\
             grpc_service=\"dqt.portal.v1.TeacherPortal\",grpc_method=\"ListMyDocuments\"} 1"
        ));
        let client = labels(
            "grpc_client_handled_total",
            "dqt.record.v1.RecordService",
            "GetMyRecord",
        );
        assert!(text.contains(&format!("{client},grpc_code=\"OK\"}} 1")));
    }

    #[test]
    fn the_series_of_what_a_server_serves_exist_from_the_start() {
        let metrics = metrics();
        metrics.serving(&["dqt.document.v1.DocumentService", "grpc.health.v1.Health"]);
        metrics.calling("employment");
        metrics.issuing(["qts_certificate", "letter"]);
        let text = metrics.encode_text();
        for series in [
            "grpc_server_handled_total{grpc_type=\"unary\",grpc_service=\"dqt.document.v1.DocumentService\",grpc_method=\"DownloadDocument\",grpc_code=\"Internal\"} 0",
            "grpc_server_started_total{grpc_type=\"server_stream\",grpc_service=\"grpc.health.v1.Health\",grpc_method=\"Watch\"} 0",
            "portal_documents_issued_total{kind=\"letter\"} 0",
            "portal_sign_in_lockouts_total{kind=\"source\"} 0",
            "portal_emails_failed_total{kind=\"expired\"} 0",
            "grpc_client_handled_total{grpc_type=\"unary\",grpc_service=\"dqt.employment.v1.EmploymentService\",grpc_method=\"ListEmployments\",grpc_code=\"Unavailable\"} 0",
            "portal_build_info{version=\"",
        ] {
            assert!(text.contains(series), "{series} missing");
        }
        for family in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_start_time_seconds",
            "process_open_fds",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{family} missing"
            );
        }
    }

    #[test]
    fn the_text_format_names_counters_with_their_total_and_has_no_eof() {
        let text = metrics().encode_text();
        assert!(text.contains("# TYPE portal_rpc_shed_total counter"));
        assert!(text.contains("# HELP portal_rpc_shed_total Calls refused"));
        assert!(!text.contains("# EOF"));
        let openmetrics = metrics().encode();
        assert!(openmetrics.contains("# TYPE portal_rpc_shed counter"));
        assert!(openmetrics.ends_with("# EOF\n"));
    }

    #[test]
    fn the_alerting_rules_name_only_metrics_that_exist() {
        let rules = include_str!("../../../deploy/prometheus-alerts.yaml");
        // As the gateway and the document service have them (a family with no series is not
        // shown; the document service's kinds are known to it alone).
        let metrics = metrics();
        metrics.serving(&["dqt.portal.v1.TeacherPortal"]);
        metrics.issuing(["qts_certificate"]);
        let exposed = metrics.encode_text();
        let mut named = 0;
        for prefix in ["portal_", "grpc_server_", "grpc_client_", "process_"] {
            for (i, _) in rules.match_indices(prefix) {
                if rules[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                let name: String = rules[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let family = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(&name);
                assert!(
                    exposed.contains(&format!("# TYPE {family} ")),
                    "{name} is not a metric the portal exposes"
                );
                named += 1;
            }
        }
        assert!(named >= 6);
    }
}
