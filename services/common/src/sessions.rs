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

/// The session store failed or did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("session store unavailable: {0}")]
pub struct StoreError(String);

impl From<StoreError> for Status {
    fn from(error: StoreError) -> Self {
        tracing::warn!(%error, "session store call failed");
        Status::unavailable("session store unavailable")
    }
}

/// Where sessions live: Redis in deployment, process memory when embedded.
#[tonic::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a value under `key` for `ttl`.
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError>;
    /// Reads a value and, in the same step, extends its life to `ttl` from now.
    async fn get_and_extend(&self, key: &str, ttl: Duration)
    -> Result<Option<Vec<u8>>, StoreError>;
    /// Deletes a value; true when it existed.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;
}

/// The in-process store of `portal up`.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
}

impl MemoryStore {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<u8>, Instant)>> {
        // A panic while holding the lock leaves the map consistent (every update is one insert
        // or remove), so a poisoned lock is still safe to use.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[tonic::async_trait]
impl SessionStore for MemoryStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut entries = self.entries();
        // Sweep expired entries now and then so that abandoned sessions do not pile up.
        if entries.len().is_multiple_of(1024) {
            entries.retain(|_, (_, expires)| *expires > now);
        }
        entries.insert(key.to_owned(), (value, now + ttl));
        Ok(())
    }

    async fn get_and_extend(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let now = Instant::now();
        let mut entries = self.entries();
        match entries.get_mut(key) {
            Some((value, expires)) if *expires > now => {
                *expires = now + ttl;
                Ok(Some(value.clone()))
            }
            Some(_) => {
                entries.remove(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.entries().remove(key).is_some())
    }
}

/// Redis through a multiplexed, self-reconnecting connection; every call bounded in time.
#[derive(Clone)]
pub struct RedisStore {
    connection: redis::aio::ConnectionManager,
}

impl RedisStore {
    /// Connects lazily: start-up does not fail while Redis is down, calls do (UNAVAILABLE).
    pub fn new(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(timeout);
        let connection = redis::aio::ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(Self { connection })
    }
}

#[tonic::async_trait]
impl SessionStore for RedisStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        connection
            .pset_ex::<_, _, ()>(key, value, ttl_ms)
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    async fn get_and_extend(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut connection = self.connection.clone();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        connection
            .get_ex(key, redis::Expiry::PX(ttl_ms))
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let removed: u64 = connection
            .del(key)
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(removed > 0)
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

fn key(session_id: &str) -> String {
    format!("dqt:session:{session_id}")
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
            Principal::Teacher(_) => self.policy.teacher_lifetime,
            _ => self.policy.client_lifetime,
        };
        let now = SystemTime::now();
        let expire_time = now + lifetime;
        let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let session = Session {
            principal: principal.to_proto(),
            create_time: Some(now.into()),
            expire_time: Some(expire_time.into()),
        };
        self.store
            .put(
                &key(&session_id(&token)),
                session.encode_to_vec(),
                self.policy.idle_timeout.min(lifetime),
            )
            .await?;
        Ok(NewSession { token, expire_time })
    }

    /// The principal of a live session, sliding its idle timeout: one store round trip.
    pub async fn authenticate(&self, session_id: &str) -> Result<Principal, SessionError> {
        let bytes = self
            .store
            .get_and_extend(&key(session_id), self.policy.idle_timeout)
            .await?
            .ok_or(SessionError::NotFound)?;
        let session = Session::decode(bytes.as_slice()).map_err(|_| SessionError::NotFound)?;
        let expired = session
            .expire_time
            .and_then(|t| SystemTime::try_from(t).ok())
            .is_none_or(|expires| expires <= SystemTime::now());
        if expired {
            self.store.delete(&key(session_id)).await?;
            return Err(SessionError::NotFound);
        }
        session
            .principal
            .as_ref()
            .and_then(Principal::from_proto)
            .ok_or(SessionError::NotFound)
    }

    /// Ends a session; true when it existed.
    pub async fn end(&self, session_id: &str) -> Result<bool, StoreError> {
        self.store.delete(&key(session_id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Trn;

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
        Principal::Teacher(Trn::from_number(1_000_001).unwrap())
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
    async fn sessions_end_at_their_absolute_lifetime_however_active() {
        let sessions = sessions(Duration::from_secs(60), Duration::from_millis(1000));
        let id = session_id(&sessions.create(&teacher()).await.unwrap().token);
        assert!(sessions.authenticate(&id).await.is_ok());
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(sessions.authenticate(&id).await.is_err());
    }
}
