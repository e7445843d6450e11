//! Calls from one component to another: one lazily connected, reused channel per service,
//! deadlines enforced on the caller's side too, transport failures turned into plain gRPC
//! statuses, and retries with backoff for the reads that are safe to repeat.

use std::error::Error as _;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tonic::body::Body;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};
use tower::Service;
use tracing::Instrument as _;

use crate::deadline::{DEFAULT_DEADLINE, parse_grpc_timeout};
use crate::metrics::metrics;

/// Tries of a read before its UNAVAILABLE is passed on.
const READ_ATTEMPTS: u32 = 3;
/// Pause before the first repeat; each later one is four times longer, with jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(25);

/// A channel to one service. A failure to reach it answers UNAVAILABLE, and a call that runs
/// out of its deadline DEADLINE_EXCEEDED, naming the service but not its address.
#[derive(Debug, Clone)]
pub struct Upstream {
    channel: Channel,
    service: &'static str,
}

/// A channel to the service `service` at `addr` (`host:port`), over TLS when `tls` is given.
/// It connects on first use and again by itself after the service comes back.
pub fn connect(
    service: &'static str,
    addr: &str,
    tls: Option<&ClientTlsConfig>,
) -> Result<Upstream, tonic::transport::Error> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))?
        .connect_timeout(Duration::from_secs(1))
        .timeout(DEFAULT_DEADLINE)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10));
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.clone())?;
    }
    metrics().calling(service);
    Ok(Upstream {
        channel: endpoint.connect_lazy(),
        service,
    })
}

/// How close to its deadline a CANCELLED answer counts as the deadline running out.
const LATE: Duration = Duration::from_millis(50);

fn deadline_exceeded(service: &str) -> Status {
    crate::error::status(
        Code::DeadlineExceeded,
        format!("deadline exceeded waiting for the {service} service"),
        crate::error::Reason::DeadlineExceeded,
    )
}

/// True when the error is a call running out of its deadline on the caller's side.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if error.is::<tonic::TimeoutExpired>() {
            return true;
        }
        source = error.source();
    }
    false
}

impl Service<http::Request<Body>> for Upstream {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.channel.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let service = self.service;
        let span = crate::rpc_span!("rpc.client", "client", request.uri().path());
        span.in_scope(|| crate::telemetry::inject_trace(request.headers_mut()));
        let deadline = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout)
            .map(|timeout| Instant::now() + timeout);
        let path = request.uri().path().to_owned();
        metrics().client_started(&path);
        let started = Instant::now();
        let call = self.channel.call(request);
        Box::pin(
            async move {
                let response = match call.await {
                    Ok(response) if cancelled_at(&response, deadline) => {
                        deadline_exceeded(service).into_http()
                    }
                    Ok(response) => response,
                    Err(error) if timed_out(&error) => deadline_exceeded(service).into_http(),
                    Err(error) => {
                        let cause = error.source().unwrap_or(&error);
                        tracing::warn!(service, error = %cause, "cannot reach a service");
                        crate::error::unavailable(format!("the {service} service is unavailable"))
                            .into_http()
                    }
                };
                let code = crate::server::status_code(&response);
                metrics().client_call(&path, code, started.elapsed());
                crate::telemetry::answered(&tracing::Span::current(), code, code != Code::Ok);
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// True when the service answered CANCELLED as the deadline ran out: tonic's answer when the
/// service's own copy of the deadline runs out a moment before ours. To the caller it is a
/// deadline exceeded.
fn cancelled_at(response: &http::Response<Body>, deadline: Option<Instant>) -> bool {
    let cancelled =
        response.headers().get("grpc-status") == Some(&http::HeaderValue::from_static("1"));
    cancelled
        && deadline
            .and_then(|deadline| deadline.checked_sub(LATE))
            .is_some_and(|nearly| Instant::now() >= nearly)
}

/// Calls `attempt` with the time left of `deadline`, and again after UNAVAILABLE (backing off,
/// with jitter) while time is left. Only for reads: a write might have been applied before
/// its answer was lost.
pub async fn read<R, Fut>(
    deadline: Duration,
    mut attempt: impl FnMut(Duration) -> Fut,
) -> Result<R, Status>
where
    Fut: Future<Output = Result<R, Status>>,
{
    let started = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    let mut tries = 1;
    loop {
        let left = deadline.saturating_sub(started.elapsed());
        match attempt(left).await {
            Err(status) if status.code() == Code::Unavailable && tries < READ_ATTEMPTS => {
                let pause = backoff.mul_f64(rand::random_range(0.5..1.5));
                if started.elapsed() + pause >= deadline {
                    return Err(status);
                }
                tokio::time::sleep(pause).await;
                backoff *= 4;
                tries += 1;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn reads_are_repeated_after_unavailable_only() {
        let calls = AtomicU32::new(0);
        let answer = read(Duration::from_secs(5), |_| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(Status::unavailable("down"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(answer.unwrap(), 2);

        calls.store(0, Ordering::SeqCst);
        let answer: Result<(), _> = read(Duration::from_secs(5), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(Status::not_found("none")) }
        })
        .await;
        assert_eq!(answer.unwrap_err().code(), Code::NotFound);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "other errors are final");
    }

    #[tokio::test]
    async fn reads_give_up_after_three_tries_or_the_deadline() {
        let calls = AtomicU32::new(0);
        let answer: Result<(), _> = read(Duration::from_secs(5), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(Status::unavailable("down")) }
        })
        .await;
        assert_eq!(answer.unwrap_err().code(), Code::Unavailable);
        assert_eq!(calls.load(Ordering::SeqCst), READ_ATTEMPTS);

        calls.store(0, Ordering::SeqCst);
        let answer: Result<(), _> = read(Duration::from_millis(5), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(Status::unavailable("down")) }
        })
        .await;
        assert_eq!(answer.unwrap_err().code(), Code::Unavailable);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "no time left to repeat");
    }
}
