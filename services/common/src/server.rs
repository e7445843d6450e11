//! One way to serve every component: health, reflection (v1 and v1alpha), the request-id
//! layer, limits with load shedding, optional TLS, and a graceful stop (health NOT_SERVING,
//! in-flight calls finish, then return).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, Response};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tonic::Status;
use tonic::service::Routes;
use tonic::transport::{Server, ServerTlsConfig};
use tonic_health::ServingStatus;
use tower::{Layer, Service};
use tracing::Instrument as _;

use crate::assertion::REQUEST_ID_HEADER;
use crate::metrics::metrics;

const HEALTH_SERVICE: &str = "grpc.health.v1.Health";
const REFLECTION_SERVICES: [&str; 2] = [
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Tells servers to stop; cloned into each. Dropping every sender also stops them.
#[derive(Clone)]
pub struct ShutdownSignal(watch::Receiver<bool>);

/// Triggers a [`ShutdownSignal`].
pub struct ShutdownTrigger(watch::Sender<bool>);

/// A trigger and the signal it fires.
pub fn shutdown_channel() -> (ShutdownTrigger, ShutdownSignal) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), ShutdownSignal(rx))
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl ShutdownSignal {
    /// Completes once shutdown has been asked for.
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// What a component serves: its routes and the full names of its gRPC services, which health
/// reports and reflection lists.
pub struct Served {
    pub routes: Routes,
    pub services: Vec<&'static str>,
}

impl Served {
    /// A component that serves one gRPC service, which takes no call without a principal
    /// assertion `signer` made.
    pub fn one<S, B>(service: S, signer: &crate::Signer) -> Self
    where
        S: Service<
                Request<tonic::body::Body>,
                Response = Response<B>,
                Error = std::convert::Infallible,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
        B::Error: Into<tonic::codegen::StdError>,
    {
        Self {
            routes: Routes::new(tonic::service::interceptor::InterceptedService::new(
                service,
                signer.interceptor(),
            )),
            services: vec![S::NAME],
        }
    }
}

/// How a component serves: limits, TLS and the grace period of a stop.
#[derive(Clone)]
pub struct ServeOptions {
    /// In-flight calls after which new ones are refused at once with RESOURCE_EXHAUSTED.
    pub max_concurrent_calls: usize,
    /// HTTP/2 streams one connection may have open; a client queues the rest itself.
    pub max_streams_per_connection: u32,
    /// How long in-flight calls get to finish after a stop is asked for.
    pub grace: Duration,
    /// Serve TLS (and, when it names a client CA, require client certificates).
    pub tls: Option<ServerTlsConfig>,
    /// Serve browsers too: gRPC-Web over HTTP/1.1 and HTTP/2, and CORS for these origins.
    pub browsers: Option<Browsers>,
    /// Time for a connection's opening; for the public server, its idle time and the
    /// connections one address may hold.
    pub handshake_timeout: Duration,
    pub public_connections: Option<crate::connections::PublicConnections>,
}

/// What a component that browsers call allows them.
#[derive(Debug, Clone, Default)]
pub struct Browsers {
    /// The origins (`https://portal.example.gov.uk`) whose pages may call it; none, no page.
    pub allowed_origins: Vec<HeaderValue>,
}

impl Browsers {
    /// CORS for the allowed origins: the headers gRPC-Web sends, and those a page must read.
    fn cors(&self) -> tower_http::cors::CorsLayer {
        use http::header::{AUTHORIZATION, CONTENT_TYPE};
        use tower_http::cors::{AllowOrigin, CorsLayer};
        let header = http::HeaderName::from_static;
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(self.allowed_origins.clone()))
            .allow_methods([http::Method::POST])
            .allow_headers([
                CONTENT_TYPE,
                AUTHORIZATION,
                header("x-grpc-web"),
                header("x-user-agent"),
                header("grpc-timeout"),
                header("grpc-accept-encoding"),
                header(REQUEST_ID_HEADER),
                header("traceparent"),
            ])
            .expose_headers([
                header("grpc-status"),
                header("grpc-message"),
                header("grpc-status-details-bin"),
                header(REQUEST_ID_HEADER),
            ])
            .max_age(Duration::from_secs(24 * 60 * 60))
    }
}

/// Serves `served` on `listener` until `shutdown`, then lets in-flight calls finish for at most
/// the grace period.
pub async fn serve(
    listener: TcpListener,
    served: Served,
    shutdown: ShutdownSignal,
    options: ServeOptions,
) -> Result<(), tonic::transport::Error> {
    let grace = options.grace;
    let (reporter, health) = tonic_health::server::health_reporter();
    let names: Vec<&'static str> = std::iter::once("")
        .chain(served.services.iter().copied())
        .collect();
    let mut measured = served.services.clone();
    measured.push(HEALTH_SERVICE);
    measured.extend(REFLECTION_SERVICES);
    metrics().serving(&measured);
    for name in &names {
        reporter
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }

    let reflection = || {
        // Both versions of reflection describe every service served, each other included, and
        // the google.rpc status and detail types that errors carry, so that a client decodes
        // BadRequest, ErrorInfo or RetryInfo from reflection alone.
        let mut builder = tonic_reflection::server::Builder::configure()
            .include_reflection_service(false)
            .register_encoded_file_descriptor_set(dqt_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            );
        for name in served
            .services
            .iter()
            .copied()
            .chain([HEALTH_SERVICE])
            .chain(REFLECTION_SERVICES)
        {
            builder = builder.with_service_name(name);
        }
        builder
    };
    let reflection_v1 = reflection()
        .build_v1()
        .unwrap_or_else(|e| unreachable!("the compiled descriptor set is valid: {e}"));
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .unwrap_or_else(|e| unreachable!("the compiled descriptor set is valid: {e}"));

    let routes = served
        .routes
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let stop = {
        let shutdown = shutdown.clone();
        async move {
            shutdown.wait().await;
            for name in &names {
                reporter
                    .set_service_status(*name, ServingStatus::NotServing)
                    .await;
            }
        }
    };
    let incoming = crate::connections::incoming(
        listener,
        crate::connections::ConnectionLimits {
            handshake_timeout: options.handshake_timeout,
            public: options.public_connections,
            tls: options.tls.is_some(),
        },
    );
    let mut builder = Server::builder();
    if let Some(tls) = options.tls {
        builder = builder.tls_config(tls.timeout(options.handshake_timeout))?;
    }
    let cors = options.browsers.as_ref().map(Browsers::cors);
    let grpc_web = options
        .browsers
        .as_ref()
        .map(|_| tonic_web::GrpcWebLayer::new());
    let server = builder
        .accept_http1(options.browsers.is_some())
        .max_concurrent_streams(options.max_streams_per_connection)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .layer(tower::util::option_layer(cors))
        .layer(GrpcOnlyLayer)
        .layer(CountCallsLayer)
        .layer(tower::util::option_layer(grpc_web))
        .layer(RequestIdLayer)
        .layer(ShedLayer::new(options.max_concurrent_calls))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, stop);
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result,
        () = async { shutdown.wait().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_seconds = grace.as_secs(), "calls still open after the grace period; stopping");
            Ok(())
        }
    }
}

/// The service a `tower::Service::call` is to use: the one `poll_ready` made ready, a fresh clone
/// left in its place for the next call (the pattern tower's documentation gives for cloned
/// services moved into a future).
pub fn ready<S: Clone>(slot: &mut S) -> S {
    let clone = slot.clone();
    std::mem::replace(slot, clone)
}

/// Answers a request that is neither gRPC nor gRPC-Web with HTTP 415, rather than letting it
/// reach a gRPC service that would call it INTERNAL (or gRPC-Web's translation, 400).
#[derive(Debug, Clone, Copy)]
pub struct GrpcOnlyLayer;

impl<S> Layer<S> for GrpcOnlyLayer {
    type Service = GrpcOnly<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcOnly { inner }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcOnly<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for GrpcOnly<S>
where
    S: Service<Request<B>, Response = Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // gRPC, and gRPC-Web (binary or text), each with or without a `+codec` suffix.
        let grpc = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                [
                    "application/grpc",
                    "application/grpc-web",
                    "application/grpc-web-text",
                ]
                .iter()
                .any(|kind| {
                    v.strip_prefix(kind)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('+'))
                })
            });
        if !grpc {
            let mut refused = Response::new(tonic::body::Body::empty());
            *refused.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
            refused.headers_mut().insert(
                http::header::ACCEPT,
                HeaderValue::from_static("application/grpc, application/grpc-web"),
            );
            return Box::pin(async { Ok(refused) });
        }
        let mut inner = ready(&mut self.inner);
        Box::pin(async move { inner.call(request).await })
    }
}

/// Counts each call in progress on its connection, until its answer's last byte, so that a
/// connection is idle only with no call in progress (`connections`).
#[derive(Debug, Clone, Copy)]
pub struct CountCallsLayer;

impl<S> Layer<S> for CountCallsLayer {
    type Service = CountCalls<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountCalls { inner }
    }
}

#[derive(Debug, Clone)]
pub struct CountCalls<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for CountCalls<S>
where
    S: Service<Request<B>, Response = Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let call = crate::connections::ConnectionInfo::of(request.extensions())
            .map(|connection| connection.activity.begin());
        let mut inner = ready(&mut self.inner);
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(match call {
                Some(call) => {
                    response.map(|body| tonic::body::Body::new(Counted { body, _call: call }))
                }
                None => response,
            })
        })
    }
}

/// An answer's body that keeps its call counted until it is finished or dropped.
struct Counted {
    body: tonic::body::Body,
    _call: crate::connections::CallInProgress,
}

impl http_body::Body for Counted {
    type Data = tonic::codegen::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Gives every call a request id (the caller's `x-request-id`, or a new one) and echoes it in
/// the response headers; runs the call inside a span that carries it and continues the
/// caller's trace (`traceparent`); counts the call, its status code and its latency.
#[derive(Debug, Clone, Copy)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestId { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RequestId<S> {
    inner: S,
}

/// The status of an answered call: in the headers when it failed at once (trailers-only),
/// otherwise OK as far as this layer can see (unary handlers answer in one go).
pub(crate) fn status_code<B>(response: &Response<B>) -> tonic::Code {
    response
        .headers()
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32)
}

const ACCEPT_ENCODING_HEADER: &str = "grpc-accept-encoding";
const DETAILS_HEADER: &str = "grpc-status-details-bin";

/// Gives an error answered at once (trailers-only) without details, such as tonic's own for an
/// unknown method or a deadline, the ErrorInfo every error carries: the reason its code means.
fn with_reason(headers: &mut http::HeaderMap) {
    if headers.contains_key(DETAILS_HEADER) {
        return;
    }
    let Some(status) = Status::from_header_map(headers).filter(|s| s.code() != tonic::Code::Ok)
    else {
        return;
    };
    let reason = crate::error::reason_of(status.code());
    let _ = crate::error::status(status.code(), status.message(), reason).add_header(headers);
}

/// A call's path as logs, spans and metrics may show it: a gRPC method path of at most 128
/// characters of the kinds method names use, else `unknown`, so that a caller cannot put what
/// it likes, or as much as it likes, into them.
fn loggable_method(path: &str) -> &str {
    let plausible = path.len() <= 128
        && path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_'));
    if plausible { path } else { "unknown" }
}

/// A new request id: 128 random bits in hex.
pub fn new_request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn acceptable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

impl<S, B, ResBody> Service<Request<B>> for RequestId<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let id = match request.headers().get(REQUEST_ID_HEADER) {
            Some(value) if acceptable_request_id(value) => value.clone(),
            _ => {
                let value = HeaderValue::try_from(new_request_id())
                    .unwrap_or_else(|_| unreachable!("hex is a valid header value"));
                request
                    .headers_mut()
                    .insert(REQUEST_ID_HEADER, value.clone());
                value
            }
        };
        let method = loggable_method(request.uri().path()).to_owned();
        metrics().started(&method);
        let span = crate::rpc_span!(
            "rpc",
            "server",
            &method,
            method = %method,
            request_id = %id.to_str().unwrap_or_default(),
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        let trace = crate::telemetry::continue_trace(&span, request.headers());
        let started = Instant::now();
        let mut inner = ready(&mut self.inner);
        Box::pin(
            async move {
                let call = inner.call(request);
                let mut response = match trace {
                    Some(trace) => trace.carry(call).await?,
                    None => call.await?,
                };
                let headers = response.headers_mut();
                headers.insert(REQUEST_ID_HEADER, id);
                // Every server takes and gives gzip (tonic says so only when refusing another).
                headers
                    .entry(ACCEPT_ENCODING_HEADER)
                    .or_insert(HeaderValue::from_static("gzip"));
                with_reason(headers);
                let (code, took) = (status_code(&response), started.elapsed());
                crate::telemetry::answered(
                    &tracing::Span::current(),
                    code,
                    crate::telemetry::server_failed(code),
                );
                metrics().call(&method, code, took);
                tracing::debug!(code = ?code, took_ms = took.as_secs_f64() * 1e3, "answered");
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// Bounds the calls a server works on at once. A call over the bound is refused at once with
/// RESOURCE_EXHAUSTED rather than queued, so overload costs neither memory nor latency for the
/// calls already admitted. Health and reflection are never refused: an orchestrator must not
/// restart a server for being busy.
#[derive(Debug, Clone)]
pub struct ShedLayer {
    permits: Arc<Semaphore>,
}

impl ShedLayer {
    pub fn new(max_concurrent_calls: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent_calls.max(1))),
        }
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            permits: self.permits.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Shed<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

/// True for the calls that are always admitted: health checks and reflection.
fn always_admitted(path: &str) -> bool {
    let service = path.trim_start_matches('/').split('/').next().unwrap_or("");
    service == HEALTH_SERVICE || REFLECTION_SERVICES.contains(&service)
}

impl<S, B, ResBody> Service<Request<B>> for Shed<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let permit = if always_admitted(request.uri().path()) {
            None
        } else {
            match self.permits.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    tracing::warn!("overloaded: call refused");
                    metrics().shed();
                    let status = crate::error::status(
                        tonic::Code::ResourceExhausted,
                        "the server is busy; try again after a short wait",
                        crate::error::Reason::Overloaded,
                    );
                    return Box::pin(async move { Ok(status.into_http()) });
                }
            }
        };
        let mut inner = ready(&mut self.inner);
        Box::pin(async move {
            let response = inner.call(request).await;
            drop(permit);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plausible_method_paths_reach_logs_and_spans() {
        let real = "/dqt.portal.v1.TeacherPortal/GetMyRecord";
        assert_eq!(loggable_method(real), real);
        let long = format!("/a.B/{}", "C".repeat(200));
        for made_up in [
            "/x\n{\"level\":\"ERROR\"}",
            "/dqt.portal.v1.TeacherPortal/Get My Record",
            "no-slash",
            long.as_str(),
        ] {
            assert_eq!(loggable_method(made_up), "unknown", "{made_up:?}");
        }
    }
}
