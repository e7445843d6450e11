//! Observability across separate `portal serve` processes: the spans of one GetMyRecord,
//! received by an OTLP receiver in this test, share one trace id across the gateway and the
//! record service, follow OpenTelemetry's RPC conventions (names, kinds, `rpc.*` attributes,
//! status) and include the session check in Redis and the record's read from its store; the
//! logs carry that trace id, the span id and the request id at their top level, with or without
//! an exporter; `OTEL_SERVICE_NAME` names the spans' service; each process serves its metrics for
//! Prometheus on a port of its own.

use crate::support;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::authed;
use crate::support::processes::{Portal, free_port};
use dqt_proto::dqt::portal::v1 as pb;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use portal_common::component::names;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

/// An OTLP trace receiver: every export is passed on to the test.
struct Receiver(mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let _ = self.0.send(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// One received span: the service that sent it, its name, trace id, kind, `rpc.*` attributes
/// and status code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Span {
    service: String,
    name: String,
    trace_id: String,
    kind: i32,
    rpc: BTreeSet<(String, String)>,
    status: i32,
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(n)) => n.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn spans(export: &ExportTraceServiceRequest) -> Vec<Span> {
    let mut spans = Vec::new();
    for resource_spans in &export.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .map(|a| text(a.value.as_ref()))
            .unwrap_or_default();
        for scope in &resource_spans.scope_spans {
            for span in &scope.spans {
                spans.push(Span {
                    service: service.clone(),
                    name: span.name.clone(),
                    trace_id: span.trace_id.iter().map(|b| format!("{b:02x}")).collect(),
                    kind: span.kind,
                    rpc: span
                        .attributes
                        .iter()
                        .filter(|a| a.key.starts_with("rpc."))
                        .map(|a| (a.key.clone(), text(a.value.as_ref())))
                        .collect(),
                    status: span.status.as_ref().map_or(0, |s| s.code),
                });
            }
        }
    }
    spans
}

/// OTLP's span kinds and status codes.
const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const STATUS_ERROR: i32 = 2;

/// The `rpc.*` attributes of a call of `service`/`method` answered with `code`.
fn rpc_attributes(service: &str, method: &str, code: i32) -> BTreeSet<(String, String)> {
    [
        ("rpc.system", "grpc".to_owned()),
        ("rpc.service", service.to_owned()),
        ("rpc.method", method.to_owned()),
        ("rpc.grpc.status_code", code.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// `GET /metrics` from a process's metrics port.
async fn scrape(port: u16, accept: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("metrics port open");
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// A series of the grpc-ecosystem families for a unary method.
fn rpc_series(family: &str, service: &str, method: &str, code: Option<&str>) -> String {
    let code = code
        .map(|c| format!(",grpc_code=\"{c}\""))
        .unwrap_or_default();
    format!(
        "{family}{{grpc_type=\"unary\",grpc_service=\"{service}\",grpc_method=\"{method}\"{code}}}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_components_logs_with_its_ids_and_metrics_per_process() {
    let Some(redis) = support::reachable_redis().await else {
        return;
    };
    let (exports, mut received) = mpsc::unbounded_channel();
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_addr = receiver.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Receiver(exports)))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(receiver)),
    );
    let endpoint = format!("http://{receiver_addr}");
    let (gateway_metrics, identity_metrics) = (free_port(), free_port());
    let gateway_metrics_addr = format!("127.0.0.1:{gateway_metrics}");
    let identity_metrics_addr = format!("127.0.0.1:{identity_metrics}");
    let Some(mut portal) = Portal::start(
        None,
        &redis,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("RUST_LOG", "info,portal_common::server=debug"),
            ("PORTAL_METRICS_ADDR_GATEWAY", &gateway_metrics_addr),
            ("PORTAL_METRICS_ADDR_IDENTITY", &identity_metrics_addr),
        ],
    )
    .await
    else {
        return;
    };

    let admin = portal.sign_in_admin().await.expect("admin signs in");
    let trn = portal
        .admin()
        .create_teacher(authed(
            pb::CreateTeacherRequest {
                first_name: "Olwen".into(),
                last_name: "Pryce".into(),
                date_of_birth: "1979-03-14".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("teacher created")
        .into_inner()
        .trn;
    let details = |date_of_birth: &str| pb::SignInTeacherRequest {
        trn: trn.clone(),
        surname: "Pryce".into(),
        forename: "Olwen".into(),
        date_of_birth: date_of_birth.into(),
        ..Default::default()
    };
    let refused = portal
        .auth()
        .sign_in_teacher(details("1979-03-15"))
        .await
        .expect_err("wrong date of birth");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let teacher = portal
        .auth()
        .sign_in_teacher(details("1979-03-14"))
        .await
        .expect("teacher signs in")
        .into_inner()
        .token;

    // The caller starts the trace; every component continues it.
    let trace_id = format!("{:032x}", rand::random::<u128>() | 1);
    let mut request = authed(pb::GetMyRecordRequest {}, &teacher);
    request.metadata_mut().insert(
        "traceparent",
        MetadataValue::try_from(format!(
            "00-{trace_id}-{:016x}-01",
            rand::random::<u64>() | 1
        ))
        .unwrap(),
    );
    request
        .metadata_mut()
        .insert("x-request-id", MetadataValue::from_static("trace-test-1"));
    portal
        .portal()
        .get_my_record(request)
        .await
        .expect("record read");

    // Server spans for the call served, a client span for the call made, and the Redis and store
    // spans under them, by OpenTelemetry's RPC conventions; the components named by default.
    let wanted: BTreeSet<(&str, &str)> = [
        ("gateway", "dqt.portal.v1.TeacherPortal/GetMyRecord"),
        ("gateway", "dqt.record.v1.RecordService/GetMyRecord"),
        ("gateway", "redis"),
        ("record", "dqt.record.v1.RecordService/GetMyRecord"),
        ("record", "store"),
    ]
    .into();
    let mut seen: BTreeSet<Span> = BTreeSet::new();
    let mut every: Vec<Span> = Vec::new();
    let started = Instant::now();
    let refused_span = |spans: &[Span]| {
        spans.iter().any(|s| {
            s.service == "gateway"
                && s.name == "dqt.identity.v1.IdentityService/SignInTeacher"
                && s.kind == CLIENT
                && s.status == STATUS_ERROR
                && s.rpc
                    == rpc_attributes(
                        "dqt.identity.v1.IdentityService",
                        "SignInTeacher",
                        tonic::Code::Unauthenticated as i32,
                    )
        })
    };
    let identity_span = |s: &&Span| {
        s.service == "identity"
            && s.name == "dqt.identity.v1.IdentityService/SignInTeacher"
            && s.kind == SERVER
            && s.rpc
                .contains(&("rpc.grpc.status_code".to_owned(), "16".to_owned()))
    };
    while !wanted.iter().all(|(service, name)| {
        seen.iter()
            .any(|s| s.service == *service && s.name == *name)
    }) || !refused_span(&every)
        || !every.iter().any(|s| identity_span(&s))
    {
        let left = Duration::from_secs(20).saturating_sub(started.elapsed());
        let export = tokio::time::timeout(left, received.recv())
            .await
            .unwrap_or_else(|_| panic!("spans did not all arrive: {seen:?}"))
            .expect("receiver running");
        let received = spans(&export);
        every.extend(received.iter().cloned());
        seen.extend(received.into_iter().filter(|s| s.trace_id == trace_id));
    }
    assert!(
        seen.iter().all(|s| s.trace_id == trace_id),
        "one trace id across components"
    );
    let span = |service: &str, name: &str, kind: i32| {
        seen.iter()
            .find(|s| s.service == service && s.name == name && s.kind == kind)
            .unwrap_or_else(|| panic!("no {service} span {name} of kind {kind}: {seen:?}"))
    };
    let served = span("gateway", "dqt.portal.v1.TeacherPortal/GetMyRecord", SERVER);
    assert_eq!(
        served.rpc,
        rpc_attributes("dqt.portal.v1.TeacherPortal", "GetMyRecord", 0)
    );
    assert_ne!(served.status, STATUS_ERROR);
    let made = span("gateway", "dqt.record.v1.RecordService/GetMyRecord", CLIENT);
    assert_eq!(
        made.rpc,
        rpc_attributes("dqt.record.v1.RecordService", "GetMyRecord", 0)
    );
    span("record", "dqt.record.v1.RecordService/GetMyRecord", SERVER);
    // The refused sign-in: the caller's mistake is no failure of identity's, but an error of
    // the gateway's call.
    let identity_served = every
        .iter()
        .find(identity_span)
        .expect("identity's span of the refused sign-in");
    assert_ne!(identity_served.status, STATUS_ERROR);

    // Metrics, each process on its own port, under the grpc-ecosystem names: the public call
    // served by the gateway, its call to the record service, and what was never called at 0.
    let gateway = scrape(gateway_metrics, "text/plain").await;
    assert!(
        gateway.contains("content-type: text/plain; version=0.0.4"),
        "{gateway}"
    );
    let teacher_portal = "dqt.portal.v1.TeacherPortal";
    for series in [
        rpc_series(
            "grpc_server_handled_total",
            teacher_portal,
            "GetMyRecord",
            Some("OK"),
        ) + " 1",
        rpc_series(
            "grpc_server_started_total",
            teacher_portal,
            "GetMyRecord",
            None,
        ) + " 1",
        rpc_series(
            "grpc_server_handling_seconds_count",
            teacher_portal,
            "GetMyRecord",
            None,
        ) + " 1",
        rpc_series(
            "grpc_client_handled_total",
            "dqt.record.v1.RecordService",
            "GetMyRecord",
            Some("OK"),
        ) + " 1",
        rpc_series(
            "grpc_server_handled_total",
            teacher_portal,
            "DownloadDocument",
            Some("OK"),
        ) + " 0",
    ] {
        assert!(gateway.contains(&series), "{series} in {gateway}");
    }
    assert!(gateway.contains("# TYPE process_cpu_seconds_total counter"));
    assert!(gateway.contains("portal_build_info{version="));
    let identity = scrape(identity_metrics, "application/openmetrics-text").await;
    assert!(
        identity.contains("content-type: application/openmetrics-text"),
        "{identity}"
    );
    assert!(
        identity.contains("portal_sign_in_failures_total 1"),
        "{identity}"
    );
    let refused = rpc_series(
        "grpc_server_handled_total",
        "dqt.identity.v1.IdentityService",
        "SignInTeacher",
        Some("Unauthenticated"),
    );
    assert!(identity.contains(&format!("{refused} 1")), "{identity}");

    logged_with_ids(&mut portal, &trace_id, "trace-test-1");
}

/// The logs of the call with `trace_id` and `request_id` carry both, in the gateway's and the
/// record service's processes alike.
fn logged_with_ids(portal: &mut Portal, trace_id: &str, request_id: &str) {
    for component in [names::GATEWAY, names::RECORD] {
        portal.kill(component);
    }
    for process in ["gateway", "record"] {
        let lines = portal.output(process);
        // At the top level of the line: the ids, and the span's own id.
        let with_ids = |line: &String| {
            let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(line) else {
                return false;
            };
            let text = |key: &str| fields.get(key).and_then(serde_json::Value::as_str);
            text("trace_id") == Some(trace_id)
                && text("request_id") == Some(request_id)
                && text("span_id")
                    .is_some_and(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        assert!(
            lines.iter().any(with_ids),
            "{process} logged the call with its ids at the top level"
        );
    }
}

/// `OTEL_SERVICE_NAME` names the service of the spans a component exports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_service_name_names_the_exported_spans() {
    let Some(redis) = support::reachable_redis().await else {
        return;
    };
    let (exports, mut received) = mpsc::unbounded_channel();
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", receiver.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Receiver(exports)))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(receiver)),
    );
    let Some(portal) = Portal::start(
        None,
        &redis,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "dfe-teacher-portal"),
        ],
    )
    .await
    else {
        return;
    };
    portal.sign_in_admin().await.expect("admin signs in");
    let started = Instant::now();
    loop {
        let left = Duration::from_secs(20).saturating_sub(started.elapsed());
        let export = tokio::time::timeout(left, received.recv())
            .await
            .expect("a span arrives")
            .expect("receiver running");
        let names: BTreeSet<String> = spans(&export).into_iter().map(|s| s.service).collect();
        assert!(
            names.iter().all(|name| name == "dfe-teacher-portal"),
            "{names:?}"
        );
        if !names.is_empty() {
            break;
        }
    }
}

/// Without an exporter the trace context still travels: the record service's logs of a call
/// carry the trace id its caller sent the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_context_travels_without_an_exporter() {
    let Some(redis) = support::reachable_redis().await else {
        return;
    };
    let Some(mut portal) = Portal::start(
        None,
        &redis,
        &[("RUST_LOG", "info,portal_common::server=debug")],
    )
    .await
    else {
        return;
    };
    let admin = portal.sign_in_admin().await.expect("admin signs in");
    let trace_id = format!("{:032x}", rand::random::<u128>() | 1);
    let mut request = authed(
        pb::GetTeacherRequest {
            trn: "1000000".into(),
        },
        &admin,
    );
    request.metadata_mut().insert(
        "traceparent",
        MetadataValue::try_from(format!(
            "00-{trace_id}-{:016x}-00",
            rand::random::<u64>() | 1
        ))
        .unwrap(),
    );
    request
        .metadata_mut()
        .insert("x-request-id", MetadataValue::from_static("no-exporter-1"));
    let _ = portal.admin().get_teacher(request).await;
    logged_with_ids(&mut portal, &trace_id, "no-exporter-1");
}
