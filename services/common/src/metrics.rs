//! Metrics for Prometheus: calls by method and code with their latency, calls refused under
//! overload, failed sign-ins, lockouts and documents issued. One registry per process, served
//! as text on `PORTAL_METRICS_ADDR` (`GET /metrics`), apart from the gRPC port.

use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::server::ShutdownSignal;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: String,
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

type Latencies = Family<MethodLabels, Histogram, fn() -> Histogram>;

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    latency: Latencies,
    shed: Counter,
    sign_in_failures: Counter,
    lockouts: Family<KindLabels, Counter>,
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

/// The metrics of this process.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut registry = Registry::with_prefix("portal");
        let calls = Family::default();
        registry.register(
            "rpc_calls",
            "gRPC calls answered, by method and status code",
            calls.clone(),
        );
        let latency: Latencies = Family::new_with_constructor(latency_histogram);
        registry.register(
            "rpc_duration_seconds",
            "Time to answer a gRPC call, by method",
            latency.clone(),
        );
        let shed = Counter::default();
        registry.register(
            "rpc_shed",
            "Calls refused with RESOURCE_EXHAUSTED because the server was at its limit",
            shed.clone(),
        );
        let sign_in_failures = Counter::default();
        registry.register(
            "sign_in_failures",
            "Teacher sign-ins refused for details that did not match",
            sign_in_failures.clone(),
        );
        let lockouts = Family::default();
        registry.register(
            "sign_in_lockouts",
            "Teacher sign-in locks begun, by what was locked (trn or source)",
            lockouts.clone(),
        );
        let documents = Family::default();
        registry.register(
            "documents_issued",
            "Documents issued, by kind",
            documents.clone(),
        );
        let emails_queued = Counter::default();
        registry.register(
            "emails_queued",
            "Emails accepted and stored for delivery",
            emails_queued.clone(),
        );
        let emails_sent = Counter::default();
        registry.register(
            "emails_sent",
            "Emails taken by the mail server (or written to the outbox folder)",
            emails_sent.clone(),
        );
        let emails_failed = Family::default();
        registry.register(
            "emails_failed",
            "Emails given up on, by kind (failed: refused for good; expired: not delivered in time)",
            emails_failed.clone(),
        );
        let email_oldest_undelivered = Gauge::default();
        registry.register(
            "email_oldest_undelivered_seconds",
            "Age of the oldest email still waiting for delivery (0 when none waits)",
            email_oldest_undelivered.clone(),
        );
        Metrics {
            registry,
            calls,
            latency,
            shed,
            sign_in_failures,
            lockouts,
            documents,
            emails_queued,
            emails_sent,
            emails_failed,
            email_oldest_undelivered,
        }
    })
}

impl Metrics {
    /// One answered call. Methods that do not exist are counted under `unknown`, so that
    /// made-up paths cannot grow the label set.
    pub fn call(&self, method: &str, code: tonic::Code, took: Duration) {
        let method = if code == tonic::Code::Unimplemented {
            "unknown".to_owned()
        } else {
            method.to_owned()
        };
        self.calls
            .get_or_create(&CallLabels {
                method: method.clone(),
                code: code_name(code),
            })
            .inc();
        self.latency
            .get_or_create(&MethodLabels { method })
            .observe(took.as_secs_f64());
    }

    pub fn shed(&self) {
        self.shed.inc();
    }

    pub fn sign_in_failed(&self) {
        self.sign_in_failures.inc();
    }

    /// A lock begun on `kind` (`trn` or `source`).
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

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .unwrap_or_else(|_| unreachable!("writing to a String does not fail"));
        text
    }
}

/// gRPC's name for a status code, as Prometheus labels usually carry it.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = if request.uri().path() == "/metrics" {
        Response::builder()
            .header(
                hyper::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
            .body(Full::new(Bytes::from(metrics().encode())))
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
    fn calls_are_counted_by_method_and_code_and_unknown_paths_pooled() {
        let metrics = metrics();
        let took = Duration::from_millis(3);
        metrics.call("/test.v1.Test/Known", tonic::Code::NotFound, took);
        metrics.call("/made/up-1", tonic::Code::Unimplemented, took);
        metrics.call("/made/up-2", tonic::Code::Unimplemented, took);
        let text = metrics.encode();
        assert!(text.contains(
            "portal_rpc_calls_total{method=\"/test.v1.Test/Known\",code=\"NOT_FOUND\"} 1"
        ));
        assert!(
            text.contains("portal_rpc_calls_total{method=\"unknown\",code=\"UNIMPLEMENTED\"} 2")
        );
        assert!(!text.contains("made/up"));
        assert!(text.contains(
            "portal_rpc_duration_seconds_bucket{le=\"0.004\",method=\"/test.v1.Test/Known\"} 1"
        ));
    }

    #[test]
    fn the_alerting_rules_name_only_metrics_that_exist() {
        let rules = include_str!("../../../deploy/prometheus-alerts.yaml");
        // A family shows in the output once it has a member.
        let metrics = metrics();
        metrics.call("/test.v1.Test/Rules", tonic::Code::Ok, Duration::ZERO);
        metrics.locked("trn");
        metrics.issued("qts_certificate");
        metrics.email_failed("expired");
        let exposed = metrics.encode();
        let mut named = 0;
        for (i, _) in rules.match_indices("portal_") {
            let name: String = rules[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let family = ["_total", "_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(&name);
            assert!(
                exposed.contains(&format!("# TYPE {family} ")),
                "{name} is not a metric the portal exposes"
            );
            named += 1;
        }
        assert!(named >= 6);
    }
}
