//! The expiring key-value store behind sessions, captchas, verifications and counters: Redis
//! in deployment (shared by every gateway and identity instance), process memory when embedded.
//! Every value expires; counters count within windows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;
use tonic::Status;

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
        crate::error::unavailable("session store unavailable")
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
