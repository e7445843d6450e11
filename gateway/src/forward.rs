//! Forwarding: a public call's gRPC frames passed on, unread, to the internal method of the
//! same name. The gateway rewrites the path and sends its own headers (the principal
//! assertion, what remains of the deadline, the request id, the trace context); the bearer
//! token never leaves it. The answer, trailers and rich error details included, comes back as
//! the service wrote it. A read is repeated after UNAVAILABLE within the deadline; an employer
//! check is counted against the client's limits before it is passed on, and given back when
//! the service finds its input bad.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::Body as HttpBody;
use http_body_util::{BodyExt as _, Full};
use portal_common::assertion::{ASSERTION_HEADER, ON_BEHALF_OF_HEADER, REQUEST_ID_HEADER};
use portal_common::deadline::{caller_deadline, deadline_from, grpc_timeout};
use portal_common::upstream;
use portal_common::{Caller, FieldViolation, Principal, Signer};
use tonic::body::Body;
use tonic::codegen::{Bytes, StdError};
use tonic::server::NamedService;
use tonic::{Code, Status};
use tower::Service;

use crate::Upstreams;
use crate::auth::Session;
use crate::error::Error;
use crate::limits::CheckLimits;
use crate::routes::{Access, Cost, Found, MAX_BULK_CHECKS, Route};
use crate::session_cache::SessionCheck;
use crate::source::TrustedProxies;
use crate::stream::{Ends, Watched};
use portal_common::server::ShutdownSignal;

/// The request headers passed on as they came: the message's encoding, and what the caller
/// accepts back.
const PASSED_ON: [&str; 3] = ["content-type", "grpc-encoding", "grpc-accept-encoding"];

/// The longest employer user reference the audit keeps.
pub const MAX_ON_BEHALF_OF: usize = 128;

/// The employer user a call is made for (`x-on-behalf-of`): at most [`MAX_ON_BEHALF_OF`]
/// visible ASCII characters and spaces. Anything else is refused, naming the header, rather
/// than dropped from the audit.
fn on_behalf_of(value: Option<&[u8]>) -> Result<Option<String>, Error> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let visible = value.iter().all(|b| (0x20..=0x7e).contains(b));
    match std::str::from_utf8(value) {
        Ok(text) if visible && value.len() <= MAX_ON_BEHALF_OF => Ok(Some(text.to_owned())),
        _ => Err(FieldViolation::new(
            ON_BEHALF_OF_HEADER,
            format!(
                "must be at most {MAX_ON_BEHALF_OF} visible ASCII characters, without control \
                 characters"
            ),
        )
        .into()),
    }
}

/// The caller of a public call, as the gateway asserts it to a service: the session's
/// principal (the gateway itself for a call anyone may make), the request id, the employer
/// user it is made for, the session, and where it came from.
pub fn caller<'a>(
    access: Access,
    session: Option<&Session>,
    source: Option<String>,
    header: impl Fn(&str) -> Option<&'a [u8]>,
) -> Result<Caller, Error> {
    let request_id = header(REQUEST_ID_HEADER)
        .and_then(|v| std::str::from_utf8(v).ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned);
    let session = session.filter(|_| access != Access::Anyone);
    Ok(Caller {
        principal: session.map_or_else(
            || Principal::Service(crate::NAME.to_owned()),
            |s| s.principal.clone(),
        ),
        request_id: request_id.unwrap_or_default(),
        on_behalf_of: on_behalf_of(header(ON_BEHALF_OF_HEADER))?,
        session_id: session.map(|s| s.id.clone()),
        source,
    })
}

/// The TCP peer of a call, through TLS or not.
fn peer(extensions: &http::Extensions) -> Option<std::net::SocketAddr> {
    portal_common::connections::ConnectionInfo::of(extensions)
        .and_then(portal_common::connections::ConnectionInfo::remote_addr)
}

/// The message of a unary call, read whole but never decoded: a frame larger than `limit` is
/// refused from its header, before its bytes are read.
async fn read_message<B>(body: B, limit: usize) -> Result<Bytes, Error>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<StdError>,
{
    let mut body = std::pin::pin!(body);
    let mut message = Vec::new();
    let mut sized = false;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Error::Incomplete)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        message.extend_from_slice(&data);
        if !sized && message.len() >= 5 {
            let declared = u32::from_be_bytes([message[1], message[2], message[3], message[4]]);
            let declared = usize::try_from(declared).unwrap_or(usize::MAX);
            if declared > limit {
                return Err(Error::TooLarge(limit));
            }
            // Room for the whole frame at once: one copy of the message, never a second
            // while the buffer grows.
            message.reserve_exact((declared + 5).saturating_sub(message.len()));
            sized = true;
        }
        if message.len() > limit + 5 {
            return Err(Error::TooLarge(limit));
        }
    }
    Ok(Bytes::from(message))
}

/// The message a frame carries: as it is, or gunzipped when the frame says it is compressed
/// and the call's `grpc-encoding` is gzip. `Err` for a message that unpacks to more than
/// `limit` bytes; `Ok(None)` when it cannot be read (another encoding, or bad bytes: the service
/// then refuses it).
fn message_of<'a>(
    frame: &'a [u8],
    encoding: Option<&str>,
    limit: usize,
) -> Result<Option<Cow<'a, [u8]>>, Error> {
    use std::io::Read as _;
    let Some((&compressed, rest)) = frame.split_first() else {
        return Ok(None);
    };
    let Some(message) = rest.get(4..) else {
        return Ok(None);
    };
    match (compressed, encoding) {
        (0, _) => Ok(Some(Cow::Borrowed(message))),
        (1, Some("gzip")) => {
            let mut unpacked = Vec::new();
            let bound = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
            if flate2::read::GzDecoder::new(message)
                .take(bound)
                .read_to_end(&mut unpacked)
                .is_err()
            {
                return Ok(None);
            }
            if unpacked.len() > limit {
                return Err(Error::TooLarge(limit));
            }
            Ok(Some(Cow::Owned(unpacked)))
        }
        _ => Ok(None),
    }
}

/// How many entries of the repeated field 1 a message holds, read from the protobuf wire
/// format without decoding the message; `None` when it cannot be read that way (malformed:
/// the service then refuses it).
fn entries_of_field_1(mut message: &[u8]) -> Option<usize> {
    use prost::encoding::{DecodeContext, WireType, decode_key, skip_field};
    let mut entries = 0;
    while !message.is_empty() {
        let (tag, wire) = decode_key(&mut message).ok()?;
        if tag == 1 && wire == WireType::LengthDelimited {
            entries += 1;
        }
        skip_field(wire, tag, &mut message, DecodeContext::default()).ok()?;
    }
    Some(entries)
}

/// What a call costs against its client's limits; a bulk check outside its bounds is refused
/// here, before anything is counted. A compressed bulk check is unpacked to be counted.
fn checks_in(cost: Cost, frame: &[u8], encoding: Option<&str>, limit: usize) -> Result<u32, Error> {
    Ok(match cost {
        Cost::Free => 0,
        Cost::One => 1,
        Cost::PerEntry => match message_of(frame, encoding, limit)?
            .and_then(|message| entries_of_field_1(&message))
        {
            Some(n) if (1..=MAX_BULK_CHECKS).contains(&n) => u32::try_from(n).unwrap_or(u32::MAX),
            Some(_) => {
                return Err(portal_common::FieldViolation::new(
                    "queries",
                    format!("must hold 1 to {MAX_BULK_CHECKS} queries"),
                )
                .into());
            }
            None => 1,
        },
    })
}

/// The status of an answer that failed at once (gRPC's trailers-only form).
fn failed_at_once(response: &Response<Body>) -> Option<Status> {
    Status::from_header_map(response.headers()).filter(|status| status.code() != Code::Ok)
}

/// Passes public calls on to the services.
#[derive(Clone)]
pub struct Forwarder {
    signer: Signer,
    trusted_proxies: TrustedProxies,
    check_limits: CheckLimits,
    upstreams: std::sync::Arc<Upstreams>,
    /// Checks a stream's session while it runs.
    sessions: SessionCheck,
    /// Ends streams when the gateway stops.
    shutdown: ShutdownSignal,
}

impl Forwarder {
    pub fn new(
        signer: Signer,
        trusted_proxies: TrustedProxies,
        check_limits: CheckLimits,
        upstreams: std::sync::Arc<Upstreams>,
        sessions: SessionCheck,
        shutdown: ShutdownSignal,
    ) -> Self {
        Self {
            signer,
            trusted_proxies,
            check_limits,
            upstreams,
            sessions,
            shutdown,
        }
    }

    /// Forwards the call `found` routes, answering any refusal as a gRPC status.
    pub async fn forward<B>(&self, found: &'static Found, request: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<StdError>,
    {
        match self.try_forward(found, request).await {
            Ok(response) => response,
            Err(status) => status.into_http(),
        }
    }

    async fn try_forward<B>(
        &self,
        found: &'static Found,
        request: Request<B>,
    ) -> Result<Response<Body>, Status>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<StdError>,
    {
        let route: &Route = found.route;
        let (Some(path), crate::routes::Target::Forward(upstream)) =
            (found.upstream_path.clone(), route.target)
        else {
            return Err(Error::NoSuchMethod.into());
        };
        let (parts, body) = request.into_parts();
        let session = parts.extensions.get::<Session>();
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let source = (route.access == Access::Anyone).then(|| {
            self.trusted_proxies
                .source(peer(&parts.extensions), &parts.headers)
        });
        let mut caller = caller(route.access, session, source, |name| {
            parts.headers.get(name).map(http::HeaderValue::as_bytes)
        })?;
        // Only identity acts on the session itself (sign-out, step-up); every other service is
        // spared its id in each call's assertion.
        if route.api != crate::routes::Api::Authentication {
            caller.session_id = None;
        }
        // A stream runs for as long as its caller wants; any other call within the default.
        let deadline = if route.stream {
            caller_deadline(header("grpc-timeout"))
        } else {
            Some(deadline_from(header("grpc-timeout")))
        };
        // Bad input counts nothing: the size and the number of queries first, then the limits.
        let limit = route.api.max_request();
        let message = read_message(body, limit).await?;
        let checks = checks_in(route.cost, &message, header("grpc-encoding"), limit)?;
        if checks > 0 {
            self.check_limits.take(&client_id(&caller)?, checks).await?;
        }
        let channel = self.upstreams.channel(upstream);
        let attempt = |left: Option<std::time::Duration>| {
            let mut forwarded = Request::new(Body::new(Full::new(message.clone())));
            *forwarded.method_mut() = http::Method::POST;
            *forwarded.uri_mut() = http::Uri::from(path.clone());
            *forwarded.version_mut() = http::Version::HTTP_2;
            let headers = forwarded.headers_mut();
            self.headers(&parts.headers, headers, &caller, left);
            let mut channel = channel.clone();
            async move {
                std::future::poll_fn(|cx| channel.poll_ready(cx))
                    .await
                    .map_err(|_| Error::Unavailable)?;
                let response = channel
                    .call(forwarded)
                    .await
                    .map_err(|_| Error::Unavailable)?;
                // Only UNAVAILABLE is worth repeating: any other answer is the answer.
                match failed_at_once(&response) {
                    Some(status) if status.code() == Code::Unavailable => Err(status),
                    _ => Ok(response),
                }
            }
        };
        let answer = match deadline {
            Some(deadline) if route.read => {
                upstream::read(deadline, |left| attempt(Some(left))).await
            }
            _ => attempt(deadline).await,
        };
        let response = match answer {
            Ok(response) if route.stream => {
                let session_id = session.map(|s| s.id.clone());
                let ends = Ends {
                    sessions: self.sessions.clone(),
                    session_id,
                    deadline,
                    shutdown: self.shutdown.clone(),
                };
                response.map(|body| Body::new(Watched::new(body, ends)))
            }
            Ok(response) => response,
            Err(status) => status.into_http(),
        };
        if checks > 0
            && failed_at_once(&response).is_some_and(|s| s.code() == Code::InvalidArgument)
        {
            self.check_limits
                .give_back(&client_id(&caller)?, checks)
                .await?;
        }
        Ok(response)
    }

    /// The headers of a forwarded call: the gateway's own, and the few it passes on.
    fn headers(
        &self,
        incoming: &HeaderMap,
        headers: &mut HeaderMap,
        caller: &Caller,
        left: Option<std::time::Duration>,
    ) {
        for name in PASSED_ON {
            if let Some(value) = incoming.get(name) {
                headers.insert(name, value.clone());
            }
        }
        headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
        let assertion = self.signer.mint(caller, std::time::SystemTime::now());
        if let Ok(value) = HeaderValue::from_bytes(assertion.as_encoded_bytes()) {
            headers.insert(ASSERTION_HEADER, value);
        }
        if let Some(Ok(timeout)) = left.map(|left| HeaderValue::try_from(grpc_timeout(left))) {
            headers.insert("grpc-timeout", timeout);
        }
        if let Ok(id) = HeaderValue::try_from(caller.request_id.as_str()) {
            headers.insert(REQUEST_ID_HEADER, id);
        }
    }
}

/// The client id of an employer session (the route table let only clients through).
fn client_id(caller: &Caller) -> Result<String, Error> {
    match &caller.principal {
        Principal::Client { client_id, .. } => Ok(client_id.clone()),
        _ => Err(Error::ClientsOnly),
    }
}

/// One public service: its forwarded RPCs to the [`Forwarder`], the rest to its typed
/// handlers.
#[derive(Clone)]
pub struct Dispatch<S> {
    typed: S,
    forwarder: Forwarder,
}

impl<S> Dispatch<S> {
    pub fn new(typed: S, forwarder: Forwarder) -> Self {
        Self { typed, forwarder }
    }
}

impl<S: NamedService> NamedService for Dispatch<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<Request<B>> for Dispatch<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.typed.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let Some(found) = request.extensions().get::<&'static Found>().copied() else {
            return Box::pin(async { Ok(Status::from(Error::NoSuchMethod).into_http()) });
        };
        if found.upstream_path.is_some() {
            let forwarder = self.forwarder.clone();
            return Box::pin(async move { Ok(forwarder.forward(found, request).await) });
        }
        let mut typed = portal_common::server::ready(&mut self.typed);
        Box::pin(async move {
            // A typed handler's message is read here under its API's limit, as a forwarded
            // one is, so that an oversized request is refused the same way from its header.
            let (parts, body) = request.into_parts();
            match read_message(body, found.route.api.max_request()).await {
                Ok(message) => {
                    let request = Request::from_parts(parts, Body::new(Full::new(message)));
                    typed.call(request).await
                }
                Err(error) => Ok(Status::from(error).into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dqt_proto::dqt::portal::v1 as pb;

    fn frame(message: &impl prost::Message) -> Vec<u8> {
        let bytes = message.encode_to_vec();
        let mut frame = vec![0];
        frame.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_be_bytes());
        frame.extend_from_slice(&bytes);
        frame
    }

    fn bulk(n: usize) -> Vec<u8> {
        frame(&pb::CheckTeachersRequest {
            queries: (0..n)
                .map(|i| pb::TeacherQuery {
                    trn: format!("{:07}", 1_000_000 + i),
                    date_of_birth: "1980-01-01".into(),
                })
                .collect(),
        })
    }

    #[test]
    fn a_bulk_check_is_counted_from_its_frame_and_refused_past_its_bound() {
        let checks_in = |cost, frame: &[u8]| checks_in(cost, frame, None, LIMIT);
        assert_eq!(checks_in(Cost::PerEntry, &bulk(1)).unwrap(), 1);
        assert_eq!(checks_in(Cost::PerEntry, &bulk(500)).unwrap(), 500);
        for n in [0, 501] {
            let refused = Status::from(checks_in(Cost::PerEntry, &bulk(n)).unwrap_err());
            assert_eq!(refused.code(), Code::InvalidArgument, "{n}");
        }
        // What cannot be read is the service's to refuse; it counts one meanwhile.
        assert_eq!(
            checks_in(Cost::PerEntry, &[0, 0, 0, 0, 2, 0xff, 0xff]).unwrap(),
            1
        );
        assert_eq!(checks_in(Cost::One, &bulk(3)).unwrap(), 1);
        assert_eq!(checks_in(Cost::Free, &bulk(3)).unwrap(), 0);
    }

    const LIMIT: usize = 1 << 20;

    fn gzipped(frame: &[u8], level: u32) -> Vec<u8> {
        use std::io::Write as _;
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        encoder.write_all(&frame[5..]).unwrap();
        let packed = encoder.finish().unwrap();
        let mut compressed = vec![1];
        compressed.extend_from_slice(&u32::try_from(packed.len()).unwrap().to_be_bytes());
        compressed.extend_from_slice(&packed);
        compressed
    }

    #[test]
    fn a_compressed_bulk_check_is_unpacked_to_be_counted_and_held_to_the_limit() {
        let packed = gzipped(&bulk(300), 6);
        assert!(packed.len() < bulk(300).len());
        assert_eq!(
            checks_in(Cost::PerEntry, &packed, Some("gzip"), LIMIT).unwrap(),
            300
        );
        let refused = checks_in(Cost::PerEntry, &gzipped(&bulk(501), 6), Some("gzip"), LIMIT);
        assert_eq!(
            Status::from(refused.unwrap_err()).code(),
            Code::InvalidArgument
        );
        // Unpacking stops at the limit: a small frame that unpacks to more is refused.
        let bomb = gzipped(&[vec![0; 5], vec![0; 4 * LIMIT]].concat(), 9);
        assert!(bomb.len() < LIMIT / 100);
        let refused = checks_in(Cost::PerEntry, &bomb, Some("gzip"), LIMIT);
        assert!(matches!(refused, Err(Error::TooLarge(LIMIT))));
        // Another encoding cannot be read here: the service decides, and it counts one.
        assert_eq!(
            checks_in(Cost::PerEntry, &packed, Some("zstd"), LIMIT).unwrap(),
            1
        );
    }
}
