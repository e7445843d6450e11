//! Logs as JSON lines on standard output, each with its call's request id and trace id, and
//! traces over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: one trace per request across
//! the components, carried between them in W3C `traceparent` metadata (with or without an
//! exporter). Spans follow OpenTelemetry's RPC conventions: a server span per call served and a
//! client span per call made, named `package.Service/Method`, with the `rpc.*` attributes and an
//! error status on failure.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::{TraceContextExt as _, TraceId, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
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
    // A tracer always, so that every call has a span context to pass on to the components it
    // calls; spans are exported (and, unless a caller asked for its trace to be sampled,
    // recorded) only with an exporter.
    let exporter = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => {
            use opentelemetry_otlp::WithExportConfig as _;
            Some(
                opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(endpoint)
                    .build()?,
            )
        }
        _ => None,
    };
    // OTEL_SERVICE_NAME (and OTEL_RESOURCE_ATTRIBUTES) when set; the component's name when not.
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none_or(|name| name.is_empty()) {
        resource = resource.with_service_name(service_name.to_owned());
    }
    let mut builder = SdkTracerProvider::builder().with_resource(resource.build());
    builder = match exporter {
        Some(exporter) => builder.with_batch_exporter(exporter),
        None => builder.with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff))),
    };
    let provider = builder.build();
    let traces = tracing_opentelemetry::layer().with_tracer(provider.tracer("portal"));
    let provider = Some(provider);
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

/// Makes `span` (a call's) a child of the caller's trace when the call carries one, and puts
/// the trace id on it for the logs.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let callers = parent.span().span_context().trace_id();
    let _ = span.set_parent(parent);
    // Without an exporter the span has no trace of its own: the caller's id still ties the
    // logs of one request together.
    let own = span.context().span().span_context().trace_id();
    let trace_id = if own == TraceId::INVALID {
        callers
    } else {
        own
    };
    if trace_id != TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
    let span_id = span.context().span().span_context().span_id();
    if span_id != opentelemetry::trace::SpanId::INVALID {
        span.record("span_id", tracing::field::display(span_id));
    }
}

/// Adds the current span's trace context to the headers of a call to another component.
pub fn inject_trace(headers: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut HeadersMut(headers));
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
