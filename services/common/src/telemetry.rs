//! Logs as JSON lines on standard output, each with its call's request id and trace id, and
//! traces over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: one trace per request across
//! the components, carried between them in W3C `traceparent` metadata (with or without an
//! exporter). Spans follow OpenTelemetry's RPC conventions: a server span per call served and a
//! client span per call made, named `package.Service/Method`, with the `rpc.*` attributes and an
//! error status on failure.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Flushes pending spans when dropped at the end of `main`.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` filters (default `info`).
pub fn init(service_name: &str) -> Result<Telemetry, Box<dyn std::error::Error + Send + Sync>> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The event's fields and those of the spans it is in (the call's request_id, trace_id and
    // span_id among them) at the top level of each line.
    let logs = json_subscriber::fmt::layer()
        .flatten_event(true)
        .with_current_span(false)
        .flatten_span_list_on_top_level(true);
    // With an exporter, a tracer: spans recorded and sent, their context passed on. Without one
    // there is no tracer (it would cost every call for nothing) and each call's trace context
    // is passed on by hand (`Trace`).
    let provider = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => {
            use opentelemetry_otlp::WithExportConfig as _;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()?;
            // OTEL_SERVICE_NAME (and OTEL_RESOURCE_ATTRIBUTES) when set; else the component's
            // name.
            let mut resource = opentelemetry_sdk::Resource::builder();
            if std::env::var_os("OTEL_SERVICE_NAME").is_none_or(|name| name.is_empty()) {
                resource = resource.with_service_name(service_name.to_owned());
            }
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource.build())
                    .build(),
            )
        }
        _ => None,
    };
    let traces = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("portal")));
    tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces)
        .try_init()?;
    Ok(Telemetry { provider })
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeadersMut<'a>(&'a mut HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// A call's trace context as it is passed on without a tracer: the caller's trace (or a new
/// one) with this call's own span id as the parent of the calls it makes.
#[derive(Debug, Clone, Copy)]
pub struct Trace {
    trace_id: TraceId,
    span_id: SpanId,
    sampled: bool,
}

tokio::task_local! {
    static TRACE: Trace;
}

impl Trace {
    /// Runs `call` with this trace as the one its calls to other components carry.
    pub async fn carry<F: std::future::Future>(self, call: F) -> F::Output {
        TRACE.scope(self, call).await
    }
}

/// Makes `span` (a call's) a child of the caller's trace when the call carries one (a new
/// trace when not), and puts the trace and span ids on it for the logs. Without a tracer the
/// returned `Trace` is what the call passes on (`Trace::carry`).
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) -> Option<Trace> {
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let callers = parent.span().span_context().clone();
    let _ = span.set_parent(parent);
    let own = span.context().span().span_context().clone();
    let carried = (!own.is_valid()).then(|| Trace {
        trace_id: if callers.is_valid() {
            callers.trace_id()
        } else {
            TraceId::from_bytes(rand::random::<[u8; 16]>())
        },
        span_id: SpanId::from_bytes(rand::random::<[u8; 8]>()),
        sampled: callers.is_sampled(),
    });
    let (trace_id, span_id) = match carried {
        Some(trace) => (trace.trace_id, trace.span_id),
        None => (own.trace_id(), own.span_id()),
    };
    span.record("trace_id", tracing::field::display(trace_id));
    span.record("span_id", tracing::field::display(span_id));
    carried
}

/// Adds the trace context of the call being served to the headers of a call it makes to
/// another component: the current span's with a tracer, the carried one without.
pub fn inject_trace(headers: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut HeadersMut(headers));
    } else if let Ok(trace) = TRACE.try_with(|trace| *trace) {
        let flags = if trace.sampled { "01" } else { "00" };
        let value = format!("00-{}-{}-{flags}", trace.trace_id, trace.span_id);
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static("traceparent"), value);
        }
    }
}

/// The fields of a call's span, by OpenTelemetry's RPC conventions: its name
/// `package.Service/Method`, its kind, `rpc.system`, `rpc.service` and `rpc.method` (`unknown`
/// for a method that does not exist); `rpc.grpc.status_code` and the status once answered.
#[macro_export]
macro_rules! rpc_span {
    ($name:literal, $kind:literal, $path:expr $(, $($fields:tt)*)?) => {{
        let (service, method) = $crate::metrics::service_and_method($path);
        tracing::info_span!(
            $name,
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = $kind,
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = tracing::field::Empty,
            $($($fields)*)?
        )
    }};
}

/// Records how a call ended on its span: the gRPC code, and an error status when `failed`.
pub fn answered(span: &tracing::Span, code: tonic::Code, failed: bool) {
    span.record("rpc.grpc.status_code", code as i64);
    if failed {
        span.record("otel.status_code", "ERROR");
    }
}

/// Whether a code is a server's failure, by OpenTelemetry's RPC conventions (the caller's
/// mistakes are not).
pub fn server_failed(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        Unknown | DeadlineExceeded | Unimplemented | Internal | Unavailable | DataLoss
    )
}
