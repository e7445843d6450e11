//! The session check in front of every public service: an async tower service (it awaits the
//! session store, which an interceptor cannot). It resolves the bearer token, applies the
//! route table, and puts the [`Session`] and the route into the request's extensions.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use portal_common::sessions::session_id;
use portal_common::{Principal, VerificationMode};
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;
use tower::{Layer, Service};

use crate::error::Error;
use crate::routes::{self, Access, Destination};
use crate::session_cache::SessionCheck;

/// The verified session of a call.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    /// Lowercase hex SHA-256 of the token: how the store knows the session.
    pub id: String,
}

#[derive(Clone)]
pub struct AuthorizeLayer {
    sessions: SessionCheck,
    verification: VerificationMode,
}

impl AuthorizeLayer {
    pub fn new(sessions: SessionCheck, verification: VerificationMode) -> Self {
        Self {
            sessions,
            verification,
        }
    }
}

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize {
            inner,
            sessions: self.sessions.clone(),
            verification: self.verification,
        }
    }
}

#[derive(Clone)]
pub struct Authorize<S> {
    inner: S,
    sessions: SessionCheck,
    verification: VerificationMode,
}

impl<S: NamedService> NamedService for Authorize<S> {
    const NAME: &'static str = S::NAME;
}

/// The token of an `authorization: Bearer <token>` header; `Err` when the header is there but
/// is not a bearer token.
fn bearer_token<B>(request: &Request<B>) -> Result<Option<&str>, Error> {
    let Some(value) = request.headers().get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|token| !token.is_empty() && token.len() <= 128)
        .map(Some)
        .ok_or(Error::NotBearer)
}

async fn authorize<B>(
    sessions: &SessionCheck,
    verification: VerificationMode,
    request: &mut Request<B>,
) -> Result<(), Error> {
    let destination = routes::find(request.uri().path()).ok_or(Error::NoSuchMethod)?;
    let access = match destination {
        Destination::Open => Access::Anyone,
        Destination::Rpc(found) => found.route.access,
    };
    let session = match bearer_token(request)? {
        Some(token) => {
            let id = session_id(token);
            let principal = sessions.authenticate(&id).await?;
            Some(Session { principal, id })
        }
        None => None,
    };
    routes::decide(access, session.as_ref().map(|s| &s.principal), verification)?;
    if let Destination::Rpc(found) = destination {
        request.extensions_mut().insert(found);
    }
    if let Some(session) = session {
        request.extensions_mut().insert(session);
    }
    Ok(())
}

impl<S, B> Service<Request<B>> for Authorize<S>
where
    S: Service<Request<B>, Response = Response<Body>> + Clone + Send + 'static,
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
        let sessions = self.sessions.clone();
        let verification = self.verification;
        let mut inner = portal_common::server::ready(&mut self.inner);
        Box::pin(async move {
            match authorize(&sessions, verification, &mut request).await {
                Ok(()) => inner.call(request).await,
                Err(error) => Ok(Status::from(error).into_http()),
            }
        })
    }
}
