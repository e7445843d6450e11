//! Server streams through the gateway: the service's frames pass on as they come, for as long
//! as the caller's deadline allows (no limit when it set none), and only while the caller's
//! session lives. The session is checked again every [`RECHECK`]: a sign-out, a revocation, an
//! expiry or a client's change ends the stream with UNAUTHENTICATED, and the call to the
//! service is dropped with it. An open stream is its session in use: it keeps the idle expiry
//! from running out, never the absolute one. A stopping gateway ends its streams with
//! UNAVAILABLE rather than waiting for them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::Bytes;

use crate::error::Error;
use crate::session_cache::SessionCheck;
use portal_common::server::ShutdownSignal;

/// How often a stream's session is checked again.
pub const RECHECK: Duration = Duration::from_millis(250);

/// What ends a stream early: its session ending, or its deadline.
type Ending = Pin<Box<dyn Future<Output = Status> + Send>>;

/// A stream's answer body, ended early with a status when its session or deadline ends.
pub struct Watched {
    inner: Body,
    ending: Ending,
    done: bool,
}

/// What ends a stream before the service does.
pub struct Ends {
    pub sessions: SessionCheck,
    /// The caller's session, when it has one.
    pub session_id: Option<String>,
    /// What is left of the caller's deadline, when it set one.
    pub deadline: Option<Duration>,
    /// The gateway stopping.
    pub shutdown: ShutdownSignal,
}

impl Watched {
    /// `inner`, for as long as nothing in `ends` ends it.
    pub fn new(inner: Body, ends: Ends) -> Self {
        Self {
            inner,
            ending: Box::pin(ending(ends)),
            done: false,
        }
    }
}

/// The status a stream ends with when its session ends, its deadline passes or the gateway
/// stops.
async fn ending(ends: Ends) -> Status {
    let Ends {
        sessions,
        session_id,
        deadline,
        shutdown,
    } = ends;
    let deadline = deadline.map(|left| tokio::time::Instant::now() + left);
    let expired = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let ended = async {
        let Some(id) = session_id else {
            return std::future::pending().await;
        };
        let mut ticks = tokio::time::interval(RECHECK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(error) = sessions.authenticate(&id).await {
                return Status::from(Error::from(error));
            }
        }
    };
    tokio::select! {
        () = expired => Status::deadline_exceeded("the call's deadline passed"),
        status = ended => status,
        () = shutdown.wait() => Status::unavailable("the gateway is stopping: call again"),
    }
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(status) = self.ending.as_mut().poll(cx) {
            self.done = true;
            let mut trailers = HeaderMap::new();
            return Poll::Ready(Some(match status.add_header(&mut trailers) {
                Ok(()) => Ok(Frame::trailers(trailers)),
                Err(_) => Err(status),
            }));
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.done = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
