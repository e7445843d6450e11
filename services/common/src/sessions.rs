//! Sessions: 256-bit bearer tokens, kept in a session store under the SHA-256 of the token
//! with an idle timeout that slides on use and an absolute lifetime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dqt_proto::dqt::auth::v1::Session;
use prost::Message as _;
use redis::AsyncCommands as _;
use sha2::{Digest, Sha256};
use tonic::Status;

use crate::principal::Principal;
use crate::values::Trn;

/// The session store failed or did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("session store unavailable: {0}")]
pub struct StoreError(String);

impl StoreError {
    pub fn new(detail: impl Into<String>) -> Self {
        Self(detail.into())
    }
}

impl From<StoreError> for Status {
    fn from(error: StoreError) -> Self {
        tracing::warn!(%error, "session store call failed");
        Status::unavailable("session store unavailable")
    }
}

/// Where sessions, captchas and sign-in counters live: Redis in deployment (shared by every
/// gateway and identity instance), process memory when embedded. Every value expires.
#[tonic::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a value under `key` for `ttl`.
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError>;
    /// Reads a value, leaving its life as it is.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Reads a value and, in the same step, extends its life to `ttl` from now.
    async fn get_and_extend(&self, key: &str, ttl: Duration)
    -> Result<Option<Vec<u8>>, StoreError>;
    /// Reads a value and deletes it in the same step: a value that can be used once.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Deletes values; returns how many existed.
    async fn delete(&self, keys: &[String]) -> Result<u64, StoreError>;
    /// Adds `delta` to each counter, in one step for all of them. A counter that did not exist
    /// starts at 0 and lives `window` from now; an existing one keeps its expiry. Returns the
    /// new values.
    async fn add(
        &self,
        keys: &[String],
        delta: i64,
        window: Duration,
    ) -> Result<Vec<i64>, StoreError>;
    /// Each counter's value (0 when absent) and the time it has left (zero when absent).
    async fn counters(&self, keys: &[String]) -> Result<Vec<(i64, Duration)>, StoreError>;
    /// Adds `delta` to every counter unless that would take one past its limit, in one step:
    /// `Ok` when added; otherwise nothing is added and `Err` holds how long the full window
    /// has left. A counter that did not exist starts at 0 and lives its window from now.
    async fn count_within(
        &self,
        limits: &[Limit],
        delta: i64,
    ) -> Result<Result<(), Duration>, StoreError>;
    /// Sets a counter to `value` for `ttl` unless it exists (so a lock is never extended).
    async fn set_if_absent(&self, key: &str, value: i64, ttl: Duration) -> Result<(), StoreError>;
    /// Adds a member to a set, which then lives at least `ttl` from now (never less than it
    /// already had).
    async fn add_to_set(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError>;
    /// Deletes a set and returns its members, in one step.
    async fn take_set(&self, key: &str) -> Result<Vec<String>, StoreError>;
}

/// A counter with a limit and the window it counts over, for [`SessionStore::count_within`].
#[derive(Debug, Clone)]
pub struct Limit {
    pub key: String,
    pub limit: i64,
    pub window: Duration,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// What the memory store holds under a key.
enum Value {
    Bytes(Vec<u8>),
    Counter(i64),
    Set(std::collections::BTreeSet<String>),
}

/// The in-process store of `portal up`.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, (Value, Instant)>>,
}

type Entries = HashMap<String, (Value, Instant)>;

impl MemoryStore {
    /// The live entries: expired ones are dropped first, now and then all of them so that
    /// abandoned values do not pile up.
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves the map consistent (every update is one insert
        // or remove), so a poisoned lock is still safe to use.
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len().is_multiple_of(1024) {
            let now = Instant::now();
            entries.retain(|_, (_, expires)| *expires > now);
        }
        entries
    }

    /// The live entry under `key`; an expired one is removed.
    fn live<'a>(entries: &'a mut Entries, key: &str) -> Option<&'a mut (Value, Instant)> {
        let now = Instant::now();
        if entries.get(key).is_some_and(|(_, expires)| *expires <= now) {
            entries.remove(key);
        }
        entries.get_mut(key)
    }
}

#[tonic::async_trait]
impl SessionStore for MemoryStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        self.entries()
            .insert(key.to_owned(), (Value::Bytes(value), Instant::now() + ttl));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut entries = self.entries();
        Ok(match Self::live(&mut entries, key) {
            Some((Value::Bytes(value), _)) => Some(value.clone()),
            _ => None,
        })
    }

    async fn get_and_extend(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut entries = self.entries();
        Ok(match Self::live(&mut entries, key) {
            Some((Value::Bytes(value), expires)) => {
                *expires = Instant::now() + ttl;
                Some(value.clone())
            }
            _ => None,
        })
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut entries = self.entries();
        Self::live(&mut entries, key);
        Ok(match entries.remove(key) {
            Some((Value::Bytes(value), _)) => Some(value),
            _ => None,
        })
    }

    async fn delete(&self, keys: &[String]) -> Result<u64, StoreError> {
        let mut entries = self.entries();
        let mut existed = 0;
        for key in keys {
            if Self::live(&mut entries, key).is_some() {
                entries.remove(key);
                existed += 1;
            }
        }
        Ok(existed)
    }

    async fn add(
        &self,
        keys: &[String],
        delta: i64,
        window: Duration,
    ) -> Result<Vec<i64>, StoreError> {
        let mut entries = self.entries();
        let now = Instant::now();
        Ok(keys
            .iter()
            .map(|key| {
                let current = match Self::live(&mut entries, key) {
                    Some((Value::Counter(count), expires)) => Some((*count, *expires)),
                    _ => None,
                };
                let (count, expires) = current.unwrap_or((0, now + window));
                let count = count.saturating_add(delta);
                entries.insert(key.clone(), (Value::Counter(count), expires));
                count
            })
            .collect())
    }

    async fn counters(&self, keys: &[String]) -> Result<Vec<(i64, Duration)>, StoreError> {
        let mut entries = self.entries();
        let now = Instant::now();
        Ok(keys
            .iter()
            .map(|key| match Self::live(&mut entries, key) {
                Some((Value::Counter(count), expires)) => (*count, *expires - now),
                _ => (0, Duration::ZERO),
            })
            .collect())
    }

    async fn count_within(
        &self,
        limits: &[Limit],
        delta: i64,
    ) -> Result<Result<(), Duration>, StoreError> {
        let mut entries = self.entries();
        let now = Instant::now();
        let mut current = Vec::with_capacity(limits.len());
        for limit in limits {
            let (count, expires) = match Self::live(&mut entries, &limit.key) {
                Some((Value::Counter(count), expires)) => (*count, *expires),
                _ => (0, now + limit.window),
            };
            if delta > 0 && count.saturating_add(delta) > limit.limit {
                return Ok(Err(expires - now));
            }
            current.push((count, expires));
        }
        for (limit, (count, expires)) in limits.iter().zip(current) {
            let counter = Value::Counter(count.saturating_add(delta));
            entries.insert(limit.key.clone(), (counter, expires));
        }
        Ok(Ok(()))
    }

    async fn set_if_absent(&self, key: &str, value: i64, ttl: Duration) -> Result<(), StoreError> {
        let mut entries = self.entries();
        if Self::live(&mut entries, key).is_none() {
            entries.insert(
                key.to_owned(),
                (Value::Counter(value), Instant::now() + ttl),
            );
        }
        Ok(())
    }

    async fn add_to_set(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let mut entries = self.entries();
        let expires = Instant::now() + ttl;
        match Self::live(&mut entries, key) {
            Some((Value::Set(members), at)) => {
                members.insert(member.to_owned());
                *at = (*at).max(expires);
            }
            _ => {
                let members = std::iter::once(member.to_owned()).collect();
                entries.insert(key.to_owned(), (Value::Set(members), expires));
            }
        }
        Ok(())
    }

    async fn take_set(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let mut entries = self.entries();
        Self::live(&mut entries, key);
        Ok(match entries.remove(key) {
            Some((Value::Set(members), _)) => members.into_iter().collect(),
            _ => Vec::new(),
        })
    }
}

/// Redis through a multiplexed, self-reconnecting connection; every call bounded in time.
/// Every key is put under a prefix, so that several deployments can share one Redis.
#[derive(Clone)]
pub struct RedisStore {
    connection: redis::aio::ConnectionManager,
    prefix: String,
}

impl RedisStore {
    /// Connects lazily: start-up does not fail while Redis is down, calls do (UNAVAILABLE).
    pub fn new(url: &str, timeout: Duration, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(timeout);
        let connection = redis::aio::ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn keys(&self, keys: &[String]) -> Vec<String> {
        keys.iter().map(|k| self.key(k)).collect()
    }

    async fn run<T: redis::FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T, StoreError> {
        pipe.query_async(&mut self.connection.clone())
            .await
            .map_err(|e| StoreError(e.to_string()))
    }
}

#[tonic::async_trait]
impl SessionStore for RedisStore {
    #[tracing::instrument(name = "redis", skip_all, fields(op = "put"))]
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        connection
            .pset_ex::<_, _, ()>(self.key(key), value, millis(ttl))
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    #[tracing::instrument(name = "redis", skip_all, fields(op = "get"))]
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut connection = self.connection.clone();
        connection
            .get(self.key(key))
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    #[tracing::instrument(name = "redis", skip_all, fields(op = "get_and_extend"))]
    async fn get_and_extend(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut connection = self.connection.clone();
        connection
            .get_ex(self.key(key), redis::Expiry::PX(millis(ttl)))
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    #[tracing::instrument(name = "redis", skip_all, fields(op = "take"))]
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut connection = self.connection.clone();
        connection
            .get_del(self.key(key))
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    #[tracing::instrument(name = "redis", skip_all, fields(op = "delete"))]
    async fn delete(&self, keys: &[String]) -> Result<u64, StoreError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut connection = self.connection.clone();
        connection
            .del(self.keys(keys))
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    #[tracing::instrument(name = "redis", skip_all, fields(op = "add"))]
    async fn add(
        &self,
        keys: &[String],
        delta: i64,
        window: Duration,
    ) -> Result<Vec<i64>, StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for key in self.keys(keys) {
            pipe.incr(&key, delta)
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(millis(window))
                .arg("NX")
                .ignore();
        }
        self.run(&pipe).await
    }

    #[tracing::instrument(name = "redis", skip_all, fields(op = "counters"))]
    async fn counters(&self, keys: &[String]) -> Result<Vec<(i64, Duration)>, StoreError> {
        let mut pipe = redis::pipe();
        for key in self.keys(keys) {
            pipe.get(&key).pttl(&key);
        }
        let answers: Vec<(Option<i64>, i64)> = self.run(&pipe).await?;
        Ok(answers
            .into_iter()
            .map(|(count, ttl)| {
                let left = u64::try_from(ttl).map_or(Duration::ZERO, Duration::from_millis);
                (count.unwrap_or(0), left)
            })
            .collect())
    }

    #[tracing::instrument(name = "redis", skip_all, fields(op = "count_within"))]
    async fn count_within(
        &self,
        limits: &[Limit],
        delta: i64,
    ) -> Result<Result<(), Duration>, StoreError> {
        // Checked and counted in one step on the server: one round trip, and a call refused
        // by a limit counts nothing, however many come at once.
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                r"
                local delta = tonumber(ARGV[1])
                for i, key in ipairs(KEYS) do
                  local current = tonumber(redis.call('GET', key) or '0')
                  if delta > 0 and current + delta > tonumber(ARGV[i * 2]) then
                    local left = redis.call('PTTL', key)
                    if left < 0 then left = tonumber(ARGV[i * 2 + 1]) end
                    return left
                  end
                end
                for i, key in ipairs(KEYS) do
                  redis.call('INCRBY', key, delta)
                  redis.call('PEXPIRE', key, ARGV[i * 2 + 1], 'NX')
                end
                return -1
                ",
            )
        });
        let mut invocation = SCRIPT.prepare_invoke();
        invocation.arg(delta);
        for limit in limits {
            invocation
                .key(self.key(&limit.key))
                .arg(limit.limit)
                .arg(millis(limit.window));
        }
        let left: i64 = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(match u64::try_from(left) {
            Ok(ms) => Err(Duration::from_millis(ms)),
            Err(_) => Ok(()),
        })
    }

    #[tracing::instrument(name = "redis", skip_all, fields(op = "set_if_absent"))]
    async fn set_if_absent(&self, key: &str, value: i64, ttl: Duration) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .ignore();
        self.run(&pipe).await
    }

    #[tracing::instrument(name = "redis", skip_all, fields(op = "add_to_set"))]
    async fn add_to_set(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let key = self.key(key);
        let ttl = millis(ttl);
        let mut pipe = redis::pipe();
        // NX gives a new set its life; GT lengthens an existing one's, never shortens it.
        pipe.atomic().sadd(&key, member).ignore();
        for condition in ["NX", "GT"] {
            pipe.cmd("PEXPIRE")
                .arg(&key)
                .arg(ttl)
                .arg(condition)
                .ignore();
        }
        self.run(&pipe).await
    }

    #[tracing::instrument(name = "redis", skip_all, fields(op = "take_set"))]
    async fn take_set(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let key = self.key(key);
        let mut pipe = redis::pipe();
        pipe.atomic().smembers(&key).del(&key).ignore();
        let (members,): (Vec<String>,) = self.run(&pipe).await?;
        Ok(members)
    }
}

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Ends a session unused for this long.
    pub idle_timeout: Duration,
    /// Ends a teacher's session this long after sign-in, however active.
    pub teacher_lifetime: Duration,
    /// Ends a client's session this long after sign-in, however active.
    pub client_lifetime: Duration,
}

/// A session just created: the token (shown once) and when it ends at the latest.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub expire_time: SystemTime,
}

/// Why a token was not accepted. Every variant answers UNAUTHENTICATED the same way.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session missing, expired or revoked")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SessionError> for Status {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::NotFound => {
                Status::unauthenticated("session missing, expired or revoked")
            }
            SessionError::Store(store) => store.into(),
        }
    }
}

/// How the gateway checks sessions: straight from the store (embedded, in memory), or from a
/// cache of its own that Redis keeps honest.
#[derive(Clone)]
pub enum SessionCheck {
    Store(Sessions),
    Cached(crate::session_cache::CachedSessions),
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

/// Sessions over a store: identity creates them, the gateway checks them on every call.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    policy: SessionPolicy,
}

/// The store key of a session: a prefix and the lowercase hex SHA-256 of its token, so that a
/// copy of the store yields no usable token.
pub fn session_id(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The store key of a session (before any deployment's prefix).
pub(crate) fn key(session_id: &str) -> String {
    format!("dqt:session:{session_id}")
}

/// The principal of a stored session and when it ends at the latest; a session past its
/// absolute expiry, or one that cannot be read, is no session.
pub(crate) fn decode_session(bytes: &[u8]) -> Result<(Principal, SystemTime), SessionError> {
    let session = Session::decode(bytes).map_err(|_| SessionError::NotFound)?;
    let expires = session
        .expire_time
        .and_then(|t| SystemTime::try_from(t).ok())
        .filter(|expires| *expires > SystemTime::now())
        .ok_or(SessionError::NotFound)?;
    let principal = session
        .principal
        .as_ref()
        .and_then(Principal::from_proto)
        .ok_or(SessionError::NotFound)?;
    Ok((principal, expires))
}

/// The set of a teacher's session ids, so that they can all be revoked.
fn teacher_sessions_key(trn: Trn) -> String {
    format!("dqt:teacher-sessions:{trn}")
}

impl Sessions {
    pub fn new(store: Arc<dyn SessionStore>, policy: SessionPolicy) -> Self {
        Self { store, policy }
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// Starts a session for `principal` and returns its token.
    pub async fn create(&self, principal: &Principal) -> Result<NewSession, StoreError> {
        let lifetime = match principal {
            Principal::Teacher { .. } => self.policy.teacher_lifetime,
            _ => self.policy.client_lifetime,
        };
        self.create_until(principal, SystemTime::now() + lifetime)
            .await
    }

    /// Replaces the session `old` with a new one for `principal` (a change of level),
    /// ending at the old one's absolute expiry: a new token on a change of privilege, and no
    /// longer life than the sign-in gave. `None` when the old session has ended.
    pub async fn replace(
        &self,
        old: &str,
        principal: &Principal,
    ) -> Result<Option<NewSession>, StoreError> {
        let Some(bytes) = self.store.get(&key(old)).await? else {
            return Ok(None);
        };
        let expire_time = Session::decode(bytes.as_slice())
            .ok()
            .and_then(|s| s.expire_time)
            .and_then(|t| SystemTime::try_from(t).ok())
            .filter(|expires| *expires > SystemTime::now());
        let Some(expire_time) = expire_time else {
            return Ok(None);
        };
        let new = self.create_until(principal, expire_time).await?;
        // Ending the old session is what makes the step-up safe: when that fails, the new
        // session (whose token nobody has seen) goes too, and the caller is told to retry.
        if let Err(error) = self.store.delete(&[key(old)]).await {
            self.store.delete(&[key(&session_id(&new.token))]).await?;
            return Err(error);
        }
        Ok(Some(new))
    }

    async fn create_until(
        &self,
        principal: &Principal,
        expire_time: SystemTime,
    ) -> Result<NewSession, StoreError> {
        let now = SystemTime::now();
        let lifetime = expire_time.duration_since(now).unwrap_or_default();
        let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let session = Session {
            principal: principal.to_proto(),
            create_time: Some(now.into()),
            expire_time: Some(expire_time.into()),
        };
        let id = session_id(&token);
        self.store
            .put(
                &key(&id),
                session.encode_to_vec(),
                self.policy.idle_timeout.min(lifetime),
            )
            .await?;
        if let Principal::Teacher { trn, .. } = principal {
            self.store
                .add_to_set(&teacher_sessions_key(*trn), &id, lifetime)
                .await?;
        }
        Ok(NewSession { token, expire_time })
    }

    /// The principal of a live session, sliding its idle timeout: one store round trip.
    pub async fn authenticate(&self, session_id: &str) -> Result<Principal, SessionError> {
        let bytes = self
            .store
            .get_and_extend(&key(session_id), self.policy.idle_timeout)
            .await?
            .ok_or(SessionError::NotFound)?;
        match decode_session(&bytes) {
            Ok((principal, _)) => Ok(principal),
            Err(error) => {
                self.store.delete(&[key(session_id)]).await?;
                Err(error)
            }
        }
    }

    /// Ends a session; true when it existed.
    pub async fn end(&self, session_id: &str) -> Result<bool, StoreError> {
        Ok(self.store.delete(&[key(session_id)]).await? > 0)
    }

    /// Ends every session of a teacher; returns how many were live.
    pub async fn revoke_teacher(&self, trn: Trn) -> Result<u64, StoreError> {
        let ids = self.store.take_set(&teacher_sessions_key(trn)).await?;
        let keys: Vec<String> = ids.iter().map(|id| key(id)).collect();
        self.store.delete(&keys).await
    }

    /// The store behind the sessions, shared with captchas and sign-in counters.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(idle: Duration, lifetime: Duration) -> Sessions {
        Sessions::new(
            Arc::new(MemoryStore::default()),
            SessionPolicy {
                idle_timeout: idle,
                teacher_lifetime: lifetime,
                client_lifetime: lifetime,
            },
        )
    }

    fn teacher() -> Principal {
        Principal::Teacher {
            trn: Trn::from_number(1_000_001).unwrap(),
            assurance: crate::principal::Assurance::Knowledge,
        }
    }

    #[tokio::test]
    async fn a_session_authenticates_by_the_hash_of_its_token_until_ended() {
        let sessions = sessions(Duration::from_secs(60), Duration::from_secs(600));
        let new = sessions.create(&teacher()).await.unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(&new.token).unwrap().len(), 32);
        let id = session_id(&new.token);
        assert_eq!(sessions.authenticate(&id).await.unwrap(), teacher());
        assert!(sessions.authenticate(&session_id("made-up")).await.is_err());
        assert!(sessions.end(&id).await.unwrap());
        assert!(sessions.authenticate(&id).await.is_err());
    }

    #[tokio::test]
    async fn idle_sessions_expire_and_use_slides_the_timeout() {
        let sessions = sessions(Duration::from_millis(1000), Duration::from_secs(600));
        let id = session_id(&sessions.create(&teacher()).await.unwrap().token);
        // Four uses 400 ms apart outlive the 1 s idle timeout only because each use slides it.
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            assert!(
                sessions.authenticate(&id).await.is_ok(),
                "use keeps it alive"
            );
        }
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(sessions.authenticate(&id).await.is_err());
    }

    #[tokio::test]
    async fn a_replaced_session_ends_and_its_successor_keeps_the_absolute_expiry() {
        let sessions = sessions(Duration::from_secs(60), Duration::from_secs(600));
        let old = sessions.create(&teacher()).await.unwrap();
        let old_id = session_id(&old.token);
        let verified = Principal::Teacher {
            trn: Trn::from_number(1_000_001).unwrap(),
            assurance: crate::principal::Assurance::Verified,
        };
        let new = sessions.replace(&old_id, &verified).await.unwrap().unwrap();
        assert_ne!(new.token, old.token);
        assert_eq!(new.expire_time, old.expire_time);
        assert!(
            sessions.authenticate(&old_id).await.is_err(),
            "old one ended"
        );
        let new_id = session_id(&new.token);
        assert_eq!(sessions.authenticate(&new_id).await.unwrap(), verified);
        assert!(
            sessions
                .replace(&old_id, &verified)
                .await
                .unwrap()
                .is_none()
        );
        // Revoking the teacher ends the successor too.
        assert_eq!(
            sessions
                .revoke_teacher(verified.teacher_trn().unwrap())
                .await
                .unwrap(),
            1
        );
        assert!(sessions.authenticate(&new_id).await.is_err());
    }

    #[tokio::test]
    async fn sessions_end_at_their_absolute_lifetime_however_active() {
        let sessions = sessions(Duration::from_secs(60), Duration::from_millis(1000));
        let id = session_id(&sessions.create(&teacher()).await.unwrap().token);
        assert!(sessions.authenticate(&id).await.is_ok());
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(sessions.authenticate(&id).await.is_err());
    }
}
