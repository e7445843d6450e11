//! Step-up from the knowledge level to the verified level: a 6-digit code sent to the email
//! address on the record proves that the person signed in controls it. A verification belongs
//! to the session that started it, lives ten minutes, works once and is void after five wrong
//! codes; at most three may be started for a TRN in an hour. Kept in the session store, the
//! code only as a keyed digest.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dqt_proto::dqt::auth::v1::PendingVerification;
use portal_common::Signer;
use portal_common::codes;
use portal_common::kv::{SessionStore, StoreError};
use portal_common::values::Trn;
use prost::Message as _;

/// Verifications that may be started for one TRN in [`WINDOW`].
pub const STARTS_PER_WINDOW: i64 = 3;
/// The window the starts are counted in.
pub const WINDOW: Duration = Duration::from_secs(60 * 60);

/// What the purpose of a code's digest is, so that no other digest can stand in for it.
const DIGEST_PURPOSE: &str = "verification-code";

/// The result of a code given for a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The right code: the verification is used up, and the TRN it was for proved.
    Right(Trn),
    /// A wrong code (the verification may now be void).
    Wrong,
    /// No such verification for this session, or it is void, used or expired.
    Expired,
}

/// A verification just started.
#[derive(Debug)]
pub struct Started {
    pub id: String,
    pub expire_time: SystemTime,
}

pub struct Verifications {
    store: Arc<dyn SessionStore>,
    signer: Signer,
}

fn key(id: &str) -> String {
    format!("dqt:verification:{id}")
}

fn tries_key(id: &str) -> String {
    format!("dqt:verification-tries:{id}")
}

fn starts_key(trn: Trn) -> String {
    format!("dqt:verification-starts:{trn}")
}

impl Verifications {
    pub fn new(store: Arc<dyn SessionStore>, signer: Signer) -> Self {
        Self { store, signer }
    }

    /// Counts a start for `trn`: `Err` with the time until another is allowed when the hour's
    /// allowance is used up (the refused start then counts nothing).
    pub async fn admit(&self, trn: Trn) -> Result<Result<(), Duration>, StoreError> {
        let key = [starts_key(trn)];
        let started = self.store.add(&key, 1, WINDOW).await?;
        if started.first().copied().unwrap_or(0) <= STARTS_PER_WINDOW {
            return Ok(Ok(()));
        }
        self.store.add(&key, -1, WINDOW).await?;
        let left = self.store.counters(&key).await?;
        let retry_after = left.first().map_or(WINDOW, |(_, ttl)| *ttl);
        Ok(Err(retry_after.max(Duration::from_secs(1))))
    }

    /// Gives back a start whose code could not be sent.
    pub async fn withdraw(&self, trn: Trn) -> Result<(), StoreError> {
        self.store
            .add(&[starts_key(trn)], -1, WINDOW)
            .await
            .map(drop)
    }

    /// Keeps a verification of `code` for `trn`, completed only from `session_id`.
    pub async fn create(
        &self,
        id: &str,
        trn: Trn,
        session_id: &str,
        code: &str,
    ) -> Result<Started, StoreError> {
        let expire_time = SystemTime::now() + codes::LIFETIME;
        let pending = PendingVerification {
            trn: trn.to_string(),
            session_id: session_id.to_owned(),
            code_digest: self.digest(id, code),
            expire_time: Some(expire_time.into()),
        };
        self.store
            .put(&key(id), pending.encode_to_vec(), codes::LIFETIME)
            .await?;
        Ok(Started {
            id: id.to_owned(),
            expire_time,
        })
    }

    /// Checks `code` for the verification `id`, as called from `session_id`. Every try counts
    /// before the code is compared, so that concurrent guesses cannot outrun the limit.
    pub async fn check(
        &self,
        id: &str,
        session_id: &str,
        code: &str,
    ) -> Result<Checked, StoreError> {
        let tries = self
            .store
            .add(&[tries_key(id)], 1, codes::LIFETIME)
            .await?
            .first()
            .copied()
            .unwrap_or(i64::MAX);
        if tries > codes::MAX_WRONG {
            self.store.delete(&[key(id)]).await?;
            return Ok(Checked::Expired);
        }
        let pending = self
            .store
            .get(&key(id))
            .await?
            .and_then(|bytes| PendingVerification::decode(bytes.as_slice()).ok());
        let Some(pending) = pending else {
            return Ok(Checked::Expired);
        };
        let live = pending
            .expire_time
            .and_then(|t| SystemTime::try_from(t).ok())
            .is_some_and(|expires| expires > SystemTime::now());
        let trn = Trn::parse("trn", &pending.trn).ok();
        let (Some(trn), true, true) = (trn, live, pending.session_id == session_id) else {
            return Ok(Checked::Expired);
        };
        if !self.signer.fingerprint_matches(
            DIGEST_PURPOSE,
            format!("{id}:{code}").as_bytes(),
            &pending.code_digest,
        ) {
            if tries == codes::MAX_WRONG {
                self.store.delete(&[key(id)]).await?;
            }
            return Ok(Checked::Wrong);
        }
        // Taken, not just read: of two right answers at once, one wins.
        Ok(match self.store.take(&key(id)).await? {
            Some(_) => Checked::Right(trn),
            None => Checked::Expired,
        })
    }

    fn digest(&self, id: &str, code: &str) -> String {
        self.signer
            .fingerprint(DIGEST_PURPOSE, format!("{id}:{code}").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_common::kv::MemoryStore;

    fn verifications() -> Verifications {
        Verifications::new(Arc::new(MemoryStore::default()), Signer::random())
    }

    fn trn() -> Trn {
        Trn::from_number(1_000_001).unwrap()
    }

    #[tokio::test]
    async fn the_right_code_from_the_right_session_works_once() {
        let v = verifications();
        v.create("v1", trn(), "s1", "123456").await.unwrap();
        assert_eq!(
            v.check("v1", "s2", "123456").await.unwrap(),
            Checked::Expired
        );
        assert_eq!(v.check("v1", "s1", "654321").await.unwrap(), Checked::Wrong);
        assert_eq!(
            v.check("v1", "s1", "123456").await.unwrap(),
            Checked::Right(trn())
        );
        assert_eq!(
            v.check("v1", "s1", "123456").await.unwrap(),
            Checked::Expired
        );
        assert_eq!(
            v.check("v0", "s1", "123456").await.unwrap(),
            Checked::Expired
        );
    }

    #[tokio::test]
    async fn five_wrong_codes_void_it() {
        let v = verifications();
        v.create("v1", trn(), "s1", "123456").await.unwrap();
        for _ in 0..5 {
            assert_eq!(v.check("v1", "s1", "000000").await.unwrap(), Checked::Wrong);
        }
        assert_eq!(
            v.check("v1", "s1", "123456").await.unwrap(),
            Checked::Expired
        );
    }

    #[tokio::test]
    async fn three_starts_an_hour_and_a_withdrawn_one_does_not_count() {
        let v = verifications();
        for _ in 0..3 {
            assert!(v.admit(trn()).await.unwrap().is_ok());
        }
        let retry = v.admit(trn()).await.unwrap().unwrap_err();
        assert!(retry > Duration::from_secs(3500) && retry <= WINDOW);
        v.withdraw(trn()).await.unwrap();
        assert!(v.admit(trn()).await.unwrap().is_ok());
        assert!(v.admit(trn()).await.unwrap().is_err());
    }
}
