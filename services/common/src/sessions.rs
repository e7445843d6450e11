//! Sessions: 256-bit bearer tokens, kept in the key-value store (`kv`) under the SHA-256 of the
//! token, with an idle timeout that slides on use and an absolute lifetime.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dqt_proto::dqt::auth::v1::Session;
use prost::Message as _;
use sha2::{Digest, Sha256};
use tonic::Status;

use crate::kv::{SessionStore, StoreError};
use crate::principal::Principal;
use crate::values::Trn;

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
            SessionError::NotFound => crate::error::status(
                tonic::Code::Unauthenticated,
                "session missing, expired or revoked",
                crate::error::Reason::SessionInvalid,
            ),
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

/// The store key of a session (before any deployment's prefix): what a session cache over
/// the store reads and is told of.
pub fn key(session_id: &str) -> String {
    format!("dqt:session:{session_id}")
}

/// The principal of a stored session and when it ends at the latest; a session past its
/// absolute expiry, or one that cannot be read, is no session.
pub fn decode_session(bytes: &[u8]) -> Result<(Principal, SystemTime), SessionError> {
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

/// The set of a client's session ids, so that they all end when the client changes.
fn client_sessions_key(client_id: &str) -> String {
    format!("dqt:client-sessions:{client_id}")
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
        let set = match principal {
            Principal::Teacher { trn, .. } => Some(teacher_sessions_key(*trn)),
            Principal::Client { client_id, .. } => Some(client_sessions_key(client_id)),
            Principal::Service(_) => None,
        };
        if let Some(set) = set {
            self.store.add_to_set(&set, &id, lifetime).await?;
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
        self.revoke_set(&teacher_sessions_key(trn)).await
    }

    /// Ends every session of a client; returns how many were live.
    pub async fn revoke_client(&self, client_id: &str) -> Result<u64, StoreError> {
        self.revoke_set(&client_sessions_key(client_id)).await
    }

    async fn revoke_set(&self, set: &str) -> Result<u64, StoreError> {
        let ids = self.store.take_set(set).await?;
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
    use crate::kv::MemoryStore;

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
    async fn revoking_a_client_ends_its_sessions_and_no_other() {
        let sessions = sessions(Duration::from_secs(60), Duration::from_secs(600));
        let client = |client_id: &str| Principal::Client {
            client_id: client_id.into(),
            roles: vec![crate::principal::Role::EmployerCheck],
        };
        let mut ids = Vec::new();
        for principal in [client("a-client"), client("a-client"), client("another")] {
            ids.push(session_id(
                &sessions.create(&principal).await.unwrap().token,
            ));
        }
        assert_eq!(sessions.revoke_client("a-client").await.unwrap(), 2);
        assert!(sessions.authenticate(&ids[0]).await.is_err());
        assert!(sessions.authenticate(&ids[1]).await.is_err());
        assert!(sessions.authenticate(&ids[2]).await.is_ok());
        assert_eq!(sessions.revoke_client("a-client").await.unwrap(), 0);
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
