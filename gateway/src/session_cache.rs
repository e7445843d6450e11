//! The gateway's session check from memory, kept honest by Redis. Verified sessions are held in
//! a bounded cache (moka); a connection of its own to Redis speaks RESP3 with `CLIENT TRACKING`,
//! so that Redis tells this gateway at once of every change to a session it has read: sign-out,
//! revocation, a new level, idle or absolute expiry. Losing that connection empties the cache,
//! and calls fail closed (UNAVAILABLE) until Redis answers again. An entry never outlives its
//! session's absolute expiry, and the idle expiry slides in Redis at most once per
//! `touch_every` for each session, off the call's path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use redis::aio::{ConnectionLike as _, MultiplexedConnection};
use redis::{AsyncConnectionConfig, IntoConnectionInfo as _, ProtocolVersion, PushInfo, PushKind};

use portal_common::Principal;
use portal_common::kv::StoreError;
use portal_common::sessions::{SessionError, SessionPolicy, Sessions, decode_session, key};

/// The most sessions one gateway keeps.
const CAPACITY: u64 = 200_000;
/// How often the tracking connection is asked whether it still answers.
const HEARTBEAT: Duration = Duration::from_millis(500);
/// Pause before connecting again after the connection is lost.
const RECONNECT: Duration = Duration::from_millis(200);
/// Slots recording invalidations by a hash of the key, so that a read answered before a change
/// is not kept after the change's invalidation has gone by.
const SLOTS: usize = 4096;

/// How the gateway checks sessions: straight from the store (embedded, in memory), or from a
/// cache of its own that Redis keeps honest.
#[derive(Clone)]
pub enum SessionCheck {
    Store(Sessions),
    Cached(CachedSessions),
}

impl SessionCheck {
    /// The principal of a live session.
    pub async fn authenticate(&self, session_id: &str) -> Result<Principal, SessionError> {
        match self {
            Self::Store(sessions) => sessions.authenticate(session_id).await,
            Self::Cached(cached) => cached.authenticate(session_id).await,
        }
    }
}

/// A session held in memory.
struct Entry {
    principal: Principal,
    /// When the session ends however recently it was used.
    expires: SystemTime,
    /// When its idle expiry last slid in Redis, in milliseconds since [`Inner::started`].
    touched: AtomicU64,
}

struct Inner {
    client: redis::Client,
    prefix: String,
    policy: SessionPolicy,
    touch_every: Duration,
    timeout: Duration,
    cache: moka::sync::Cache<String, Arc<Entry>>,
    /// The tracking connection; `None` while it is lost.
    connection: RwLock<Option<MultiplexedConnection>>,
    /// The last invalidation of any key hashing to each slot, by `sequence`.
    invalidated: Vec<AtomicU64>,
    sequence: AtomicU64,
    /// Told when the connection is lost.
    lost: tokio::sync::Notify,
    started: Instant,
}

/// Sessions checked from memory, with Redis telling of every change. Cheap to clone.
#[derive(Clone)]
pub struct CachedSessions {
    inner: Arc<Inner>,
}

fn slot(session_id: &str) -> usize {
    use std::hash::{BuildHasher as _, BuildHasherDefault, DefaultHasher};
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(session_id);
    usize::try_from(hash % SLOTS as u64).unwrap_or(0)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl CachedSessions {
    /// Connects to Redis at `url` (keys under `prefix`) and keeps connected for as long as the
    /// process runs. Until the first connection is made, calls are UNAVAILABLE.
    pub fn connect(
        url: &str,
        prefix: &str,
        policy: SessionPolicy,
        touch_every: Duration,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let info = url
            .into_connection_info()
            .map_err(|e| StoreError::new(e.to_string()))?;
        let redis = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(redis))
            .map_err(|e| StoreError::new(e.to_string()))?;
        let inner = Arc::new(Inner {
            client,
            prefix: prefix.to_owned(),
            policy,
            touch_every,
            timeout,
            cache: moka::sync::Cache::new(CAPACITY),
            connection: RwLock::new(None),
            invalidated: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            sequence: AtomicU64::new(0),
            lost: tokio::sync::Notify::new(),
            started: Instant::now(),
        });
        tokio::spawn(keep_connected(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// The principal of a live session: from memory when this gateway holds it, else from
    /// Redis (one round trip, which also slides its idle expiry).
    pub async fn authenticate(&self, session_id: &str) -> Result<Principal, SessionError> {
        let inner = &self.inner;
        let Some(mut connection) = inner.connection() else {
            return Err(StoreError::new("session tracking lost").into());
        };
        let now = millis(inner.started.elapsed());
        let idle = millis(inner.policy.idle_timeout);
        if let Some(entry) = inner.cache.get(session_id) {
            if entry.expires <= SystemTime::now() {
                inner.cache.invalidate(session_id);
                return Err(SessionError::NotFound);
            }
            let touched = entry.touched.load(Ordering::Acquire);
            // Past its idle time as this gateway last saw it, Redis is asked again: another
            // gateway may have kept it alive, or it has gone.
            if now < touched.saturating_add(idle) {
                let due = now >= touched.saturating_add(millis(inner.touch_every));
                if due
                    && entry
                        .touched
                        .compare_exchange(touched, now, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                {
                    self.touch(connection, session_id);
                }
                return Ok(entry.principal.clone());
            }
        }
        let before = inner.sequence.load(Ordering::SeqCst);
        let key = inner.key(session_id);
        let read =
            tokio::time::timeout(inner.timeout, touch_and_read(&mut connection, &key, idle)).await;
        let bytes = match read {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => return Err(StoreError::new(error.to_string()).into()),
            Err(_) => return Err(StoreError::new("session store timed out").into()),
        };
        let (principal, expires) = decode_session(&bytes.ok_or(SessionError::NotFound)?)?;
        let entry = Arc::new(Entry {
            principal: principal.clone(),
            expires,
            touched: AtomicU64::new(now),
        });
        inner.cache.insert(session_id.to_owned(), entry);
        // A change whose invalidation went by while the read was answered: the copy may be
        // from before it, so it is not kept.
        if inner.invalidated[slot(session_id)].load(Ordering::SeqCst) > before {
            inner.cache.invalidate(session_id);
        }
        Ok(principal)
    }

    /// Slides a session's idle expiry in Redis, without the caller waiting; a session found
    /// gone meanwhile is forgotten.
    fn touch(&self, mut connection: MultiplexedConnection, session_id: &str) {
        let inner = self.inner.clone();
        let session_id = session_id.to_owned();
        tokio::spawn(async move {
            let key = inner.key(&session_id);
            let idle = millis(inner.policy.idle_timeout);
            match touch_and_read(&mut connection, &key, idle).await {
                Ok(Some(_)) => {}
                Ok(None) => inner.invalidate(&session_id),
                Err(error) => {
                    tracing::warn!(%error, "session idle expiry not slid");
                    inner.invalidate(&session_id);
                }
            }
        });
    }

    /// How many sessions this gateway holds (for tests and metrics).
    pub fn held(&self) -> u64 {
        self.inner.cache.run_pending_tasks();
        self.inner.cache.entry_count()
    }
}

/// Slides the idle expiry of the session at `key` and reads it, in one round trip. The read
/// comes second because Redis stops tracking a key for the connection that changes it (and,
/// with NOLOOP, does not tell it): reading it again is what keeps this gateway told of the
/// changes others make.
#[tracing::instrument(name = "redis", skip_all, fields(op = "touch_and_read"))]
async fn touch_and_read(
    connection: &mut MultiplexedConnection,
    key: &str,
    idle_ms: u64,
) -> redis::RedisResult<Option<Vec<u8>>> {
    let mut pipe = redis::pipe();
    pipe.cmd("PEXPIRE")
        .arg(key)
        .arg(idle_ms.max(1))
        .ignore()
        .get(key);
    let (bytes,): (Option<Vec<u8>>,) = pipe.query_async(connection).await?;
    Ok(bytes)
}

impl Inner {
    fn key(&self, session_id: &str) -> String {
        format!("{}{}", self.prefix, key(session_id))
    }

    fn connection(&self) -> Option<MultiplexedConnection> {
        self.connection
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Forgets one session, remembering that it changed.
    fn invalidate(&self, session_id: &str) {
        let sequence = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        self.invalidated[slot(session_id)].store(sequence, Ordering::SeqCst);
        self.cache.invalidate(session_id);
    }

    /// Forgets every session, remembering that they all changed.
    fn invalidate_all(&self) {
        let sequence = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        for slot in &self.invalidated {
            slot.store(sequence, Ordering::SeqCst);
        }
        self.cache.invalidate_all();
    }

    /// No connection: nothing is served from memory, and every call is UNAVAILABLE.
    fn lose(&self) {
        *self
            .connection
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        self.invalidate_all();
        self.lost.notify_one();
    }

    /// What Redis pushes: invalidations of keys this connection read, and the library's word
    /// that the connection is gone. Called in the order the connection reads them, before any
    /// reply that follows.
    fn pushed(&self, info: PushInfo) {
        match info.kind {
            PushKind::Invalidate => {
                let session_prefix = format!("{}{}", self.prefix, key(""));
                for value in info.data {
                    match value {
                        redis::Value::Array(keys) => {
                            for key in keys {
                                let key: Option<String> = redis::from_redis_value(key).ok();
                                if let Some(id) =
                                    key.as_deref().and_then(|k| k.strip_prefix(&session_prefix))
                                {
                                    self.invalidate(id);
                                }
                            }
                        }
                        // A flush of the whole database.
                        redis::Value::Nil => self.invalidate_all(),
                        _ => {}
                    }
                }
            }
            PushKind::Disconnection => self.lose(),
            _ => {}
        }
    }
}

/// Connects, turns tracking on, then watches the connection; on losing it, empties the cache
/// and connects again. Ends when the sessions are dropped.
async fn keep_connected(inner: Weak<Inner>) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        match connect(&strong, inner.clone()).await {
            Ok(mut connection) => {
                strong.invalidate_all();
                *strong
                    .connection
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(connection.clone());
                tracing::info!("session tracking connected");
                let timeout = strong.timeout;
                loop {
                    tokio::select! {
                        // Also woken by a loss told before this connection was made: the
                        // check below tells which.
                        () = strong.lost.notified() => {}
                        () = tokio::time::sleep(HEARTBEAT) => {
                            let ping = redis::cmd("PING");
                            let answered = tokio::time::timeout(
                                timeout,
                                connection.req_packed_command(&ping),
                            )
                            .await;
                            if !matches!(answered, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                    if strong.connection().is_none() {
                        break;
                    }
                }
                strong.lose();
                tracing::warn!("session tracking lost: calls fail closed until Redis answers");
            }
            Err(error) => {
                tracing::debug!(%error, "session tracking not connected");
            }
        }
        drop(strong);
        tokio::time::sleep(RECONNECT).await;
    }
}

async fn connect(inner: &Inner, weak: Weak<Inner>) -> Result<MultiplexedConnection, String> {
    let pushed = move |info: PushInfo| -> Result<(), std::convert::Infallible> {
        if let Some(inner) = weak.upgrade() {
            inner.pushed(info);
        }
        Ok(())
    };
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(inner.timeout))
        .set_response_timeout(Some(inner.timeout))
        .set_push_sender(pushed);
    let mut connection = inner
        .client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| e.to_string())?;
    let mut tracking = redis::cmd("CLIENT");
    tracking.arg("TRACKING").arg("ON").arg("NOLOOP");
    connection
        .req_packed_command(&tracking)
        .await
        .map_err(|e| e.to_string())?;
    Ok(connection)
}
