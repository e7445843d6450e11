//! Limits on connections, below HTTP/2: a connection must complete its opening (the HTTP/2
//! preface and first SETTINGS frame, or an HTTP/1.1 request's head; on TLS the handshake, which
//! tonic times) within a few seconds; a public server closes a connection that has had no call
//! in progress for its idle time, and takes at most so many connections from one address. So a
//! crowd of half-open or idle connections holds no memory, file descriptors or tasks for long.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_stream::{Stream, StreamExt as _};
use tonic::transport::server::{Connected, TcpConnectInfo, TlsConnectInfo};

/// What the public server adds to every server's opening limit.
#[derive(Debug, Clone)]
pub struct PublicConnections {
    /// A connection with no call in progress for this long is closed.
    pub idle_timeout: Duration,
    /// Connections one address may hold open at once; more are closed as they are accepted.
    pub per_source: usize,
    /// Addresses with no cap: the trusted front ends, which carry many callers' connections.
    pub exempt: Vec<IpNet>,
}

/// The limits one server keeps.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Time for a connection's opening to arrive.
    pub handshake_timeout: Duration,
    /// The public server's idle time and cap per address.
    pub public: Option<PublicConnections>,
    /// The server speaks TLS: what passes here is encrypted, and tonic times the handshake.
    pub tls: bool,
}

/// The calls in progress on one connection, shared between the connection and the calls.
#[derive(Debug, Default)]
pub struct Activity {
    calls: AtomicUsize,
    /// Since when the connection has had no call (last set when the count fell to zero), and
    /// the reader to wake then, so that it starts timing the idle period.
    idle: Mutex<(Option<Instant>, Option<Waker>)>,
}

impl Activity {
    fn idle(&self) -> MutexGuard<'_, (Option<Instant>, Option<Waker>)> {
        // Every update is a plain assignment: a poisoned lock still holds a usable value.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A call begins; it is in progress until the returned guard is dropped (with its answer's
    /// last byte, for a stream).
    pub fn begin(self: &Arc<Self>) -> CallInProgress {
        self.calls.fetch_add(1, Ordering::SeqCst);
        CallInProgress(Arc::clone(self))
    }
}

/// One call in progress on a connection.
#[derive(Debug)]
pub struct CallInProgress(Arc<Activity>);

impl Drop for CallInProgress {
    fn drop(&mut self) {
        if self.0.calls.fetch_sub(1, Ordering::SeqCst) == 1 {
            let mut idle = self.0.idle();
            idle.0 = Some(Instant::now());
            if let Some(waker) = idle.1.take() {
                waker.wake();
            }
        }
    }
}

/// What a call learns of its connection: the peer's address, and where to count itself.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub tcp: TcpConnectInfo,
    pub activity: Arc<Activity>,
}

impl ConnectionInfo {
    /// The connection a request came on, through TLS or not.
    pub fn of(extensions: &http::Extensions) -> Option<&Self> {
        extensions.get::<Self>().or_else(|| {
            extensions
                .get::<TlsConnectInfo<Self>>()
                .map(TlsConnectInfo::get_ref)
        })
    }

    /// The peer's address.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.tcp.remote_addr
    }
}

/// The connections open per address, for the cap.
#[derive(Debug, Default)]
struct OpenPerSource(Mutex<HashMap<IpAddr, usize>>);

impl OpenPerSource {
    fn counts(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One connection's place under its address's cap; given back when the connection closes.
#[derive(Debug)]
struct SourceSlot {
    open: Arc<OpenPerSource>,
    addr: IpAddr,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut counts = self.open.counts();
        if let Some(count) = counts.get_mut(&self.addr) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.addr);
            }
        }
    }
}

/// The connections `listener` accepts, each under `limits`; one past its address's cap is
/// closed at once.
pub fn incoming(
    listener: TcpListener,
    limits: ConnectionLimits,
) -> impl Stream<Item = io::Result<Guarded>> {
    let open = Arc::new(OpenPerSource::default());
    tokio_stream::wrappers::TcpListenerStream::new(listener).filter_map(move |accepted| {
        let stream = match accepted {
            Ok(stream) => stream,
            Err(error) => return Some(Err(error)),
        };
        // Small answers must not wait out Nagle's algorithm against delayed ACKs.
        let _ = stream.set_nodelay(true);
        let peer = stream.peer_addr().ok().map(|addr| canonical(addr.ip()));
        let slot = match (&limits.public, peer) {
            (Some(public), Some(addr)) if !public.exempt.iter().any(|n| n.contains(&addr)) => {
                let mut counts = open.counts();
                let count = counts.entry(addr).or_default();
                if *count >= public.per_source {
                    drop(counts);
                    crate::metrics::metrics().connection_closed("per_source_cap");
                    tracing::debug!("connection refused: its address has its limit open");
                    return None;
                }
                *count += 1;
                Some(SourceSlot {
                    open: Arc::clone(&open),
                    addr,
                })
            }
            _ => None,
        };
        Some(Ok(Guarded::new(stream, &limits, slot)))
    })
}

/// IPv4 addresses seen through an IPv6 socket count as IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// How far a connection's opening has come.
#[derive(Debug)]
enum Opening {
    /// Matching the HTTP/2 preface so far (this many bytes of it).
    Preface(usize),
    /// After the preface: the first frame's 9-byte header, read so far.
    FrameHeader(Vec<u8>),
    /// The rest of the first frame (SETTINGS), this many bytes.
    Settings(usize),
    /// An HTTP/1.1 request: this many bytes of the blank line that ends its head matched.
    Http1Head(usize),
    Done,
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const END_OF_HEAD: &[u8] = b"\r\n\r\n";
const SETTINGS: u8 = 0x4;

impl Opening {
    /// Follows the bytes the client sent; an opening that is neither HTTP/2 nor HTTP/1.1 is
    /// left to hyper, which refuses it.
    fn observe(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            *self = match std::mem::replace(self, Self::Done) {
                Self::Done => return,
                Self::Preface(matched) if PREFACE[matched] == byte => {
                    if matched + 1 == PREFACE.len() {
                        Self::FrameHeader(Vec::with_capacity(9))
                    } else {
                        Self::Preface(matched + 1)
                    }
                }
                // Not HTTP/2: read as an HTTP/1.1 request from its first byte (the bytes of
                // the preface matched so far cannot hold the end of a head).
                Self::Preface(_) => Self::Http1Head(usize::from(byte == b'\r')),
                Self::FrameHeader(mut header) => {
                    header.push(byte);
                    if header.len() < 9 {
                        Self::FrameHeader(header)
                    } else if header[3] != SETTINGS {
                        Self::Done
                    } else {
                        let length = usize::from(header[0]) << 16
                            | usize::from(header[1]) << 8
                            | usize::from(header[2]);
                        if length == 0 {
                            Self::Done
                        } else {
                            Self::Settings(length)
                        }
                    }
                }
                Self::Settings(left) => {
                    if left <= 1 {
                        Self::Done
                    } else {
                        Self::Settings(left - 1)
                    }
                }
                Self::Http1Head(matched) => {
                    if END_OF_HEAD[matched] == byte {
                        if matched + 1 == END_OF_HEAD.len() {
                            Self::Done
                        } else {
                            Self::Http1Head(matched + 1)
                        }
                    } else {
                        Self::Http1Head(usize::from(byte == b'\r'))
                    }
                }
            };
        }
    }
}

/// An accepted connection under its limits: reading from it fails (and hyper closes it) once
/// its opening is late, or once it has been idle too long.
pub struct Guarded {
    stream: TcpStream,
    opening: Opening,
    /// The opening's deadline, then the idle deadline.
    timer: Pin<Box<Sleep>>,
    idle_timeout: Option<Duration>,
    activity: Arc<Activity>,
    _slot: Option<SourceSlot>,
}

impl Guarded {
    fn new(stream: TcpStream, limits: &ConnectionLimits, slot: Option<SourceSlot>) -> Self {
        let activity = Arc::new(Activity::default());
        activity.idle().0 = Some(Instant::now());
        Self {
            stream,
            opening: if limits.tls {
                Opening::Done
            } else {
                Opening::Preface(0)
            },
            timer: Box::pin(tokio::time::sleep(limits.handshake_timeout)),
            idle_timeout: limits.public.as_ref().map(|p| p.idle_timeout),
            activity,
            _slot: slot,
        }
    }

    /// Why the connection must close now, if it must; otherwise the reader is woken when it
    /// might have to.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<&'static str> {
        if !matches!(self.opening, Opening::Done) {
            return self
                .timer
                .as_mut()
                .poll(cx)
                .is_ready()
                .then_some("opening_late");
        }
        let idle_timeout = self.idle_timeout?;
        let since = {
            let mut idle = self.activity.idle();
            if self.activity.calls.load(Ordering::SeqCst) > 0 {
                // Woken when the last call ends.
                idle.1 = Some(cx.waker().clone());
                return None;
            }
            idle.0.unwrap_or_else(Instant::now)
        };
        let deadline = since + idle_timeout;
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        self.timer.as_mut().poll(cx).is_ready().then_some("idle")
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.opening.observe(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match this.expired(cx) {
                Some(why) => {
                    tracing::debug!(why, "connection closed");
                    crate::metrics::metrics().connection_closed(why);
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why)))
                }
                None => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl Connected for Guarded {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        ConnectionInfo {
            tcp: self.stream.connect_info(),
            activity: Arc::clone(&self.activity),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened(bytes: &[&[u8]]) -> bool {
        let mut opening = Opening::Preface(0);
        for chunk in bytes {
            opening.observe(chunk);
        }
        matches!(opening, Opening::Done)
    }

    #[test]
    fn an_http2_opening_is_the_preface_and_a_whole_settings_frame() {
        let settings = [0, 0, 6, SETTINGS, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
        assert!(opened(&[PREFACE, &settings]));
        // In pieces, as TCP may deliver it.
        assert!(opened(&[
            &PREFACE[..5],
            &PREFACE[5..],
            &settings[..4],
            &settings[4..]
        ]));
        assert!(!opened(&[PREFACE]), "no SETTINGS yet");
        assert!(!opened(&[PREFACE, &settings[..14]]), "SETTINGS not whole");
        assert!(!opened(&[&PREFACE[..12]]), "half a preface");
        assert!(opened(&[PREFACE, &[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]]));
    }

    #[test]
    fn an_http1_opening_is_a_whole_request_head() {
        assert!(opened(&[b"POST /x HTTP/1.1\r\nhost: a\r\n\r\n"]));
        assert!(opened(&[b"POST /x HTTP/1.1\r\nhost: a\r", b"\n\r", b"\n"]));
        assert!(!opened(&[b"POST /x HTTP/1.1\r\nhost: a\r\n"]));
        // Starts like the preface, then is not.
        assert!(opened(&[b"PRX / HTTP/1.1\r\n\r\n"]));
    }

    #[tokio::test]
    async fn calls_in_progress_are_counted_until_their_guards_go() {
        let activity = Arc::new(Activity::default());
        let first = activity.begin();
        let second = activity.begin();
        assert_eq!(activity.calls.load(Ordering::SeqCst), 2);
        drop(first);
        assert!(activity.idle().0.is_none(), "still a call in progress");
        drop(second);
        assert!(activity.idle().0.is_some(), "idle from now");
    }

    /// A real socket pair: the server side under `limits`.
    async fn pair(limits: &ConnectionLimits) -> (Guarded, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (Guarded::new(server, limits, None), client)
    }

    #[tokio::test]
    async fn a_connection_is_idle_only_with_no_call_in_progress() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let limits = ConnectionLimits {
            handshake_timeout: Duration::from_secs(5),
            public: Some(PublicConnections {
                idle_timeout: Duration::from_millis(200),
                per_source: 10,
                exempt: Vec::new(),
            }),
            tls: false,
        };
        let (mut server, mut client) = pair(&limits).await;
        client.write_all(PREFACE).await.unwrap();
        client
            .write_all(&[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0])
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let mut read = 0;
        while read < PREFACE.len() + 9 {
            read += server.read(&mut buf).await.unwrap();
        }
        let call = server.activity.begin();
        // A call in progress: nothing to read, and the connection stays open past the idle time.
        let waited = tokio::time::timeout(Duration::from_millis(600), server.read(&mut buf)).await;
        assert!(waited.is_err(), "still waiting to read, not closed");
        drop(call);
        let closed = tokio::time::timeout(Duration::from_secs(2), server.read(&mut buf))
            .await
            .expect("closed soon after its last call");
        assert_eq!(closed.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_late_opening_fails_the_read() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let limits = ConnectionLimits {
            handshake_timeout: Duration::from_millis(200),
            public: None,
            tls: false,
        };
        let (mut server, mut client) = pair(&limits).await;
        client.write_all(&PREFACE[..10]).await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(server.read(&mut buf).await.unwrap(), 10);
        let late = tokio::time::timeout(Duration::from_secs(2), server.read(&mut buf))
            .await
            .expect("refused once late");
        assert_eq!(late.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }
}
