//! The principal assertion: what the gateway (or identity, for its own calls) asserts to a
//! service about the caller. A `dqt.auth.v1.PrincipalAssertion`, encoded, signed with
//! HMAC-SHA256 under a key every component shares, and sent in the `x-dqt-principal` metadata
//! entry. It lives for seconds: long enough for one call and the calls it makes.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dqt_proto::dqt::auth::v1::PrincipalAssertion;
use hmac::{Hmac, Mac};
use prost::Message as _;
use sha2::Sha256;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Request, Status};

use crate::principal::{Caller, Principal};

/// Metadata entry that carries the assertion.
pub const ASSERTION_HEADER: &str = "x-dqt-principal";
/// Metadata entry that carries the request id across every hop.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Metadata entry in which an employer client names the employer user it acts for.
pub const ON_BEHALF_OF_HEADER: &str = "x-on-behalf-of";

const ASSERTION_LIFETIME: Duration = Duration::from_secs(30);

/// Why an assertion was refused. Deliberately coarse: the caller learns nothing useful.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssertionError {
    #[error("principal assertion missing")]
    Missing,
    #[error("principal assertion malformed")]
    Malformed,
    #[error("principal assertion signature invalid")]
    BadSignature,
    #[error("principal assertion expired")]
    Expired,
}

impl From<AssertionError> for Status {
    fn from(error: AssertionError) -> Self {
        crate::error::status(
            tonic::Code::Unauthenticated,
            error.to_string(),
            crate::error::Reason::SessionInvalid,
        )
    }
}

/// Mints and checks principal assertions with the key all components share.
#[derive(Clone)]
pub struct Signer {
    mac: Hmac<Sha256>,
    /// Keys whose assertions are also accepted, never used to sign: the other key while the
    /// signing key is being rotated.
    accepted: Vec<Hmac<Sha256>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { .. }")
    }
}

impl Signer {
    /// Minimum key length in bytes.
    pub const MIN_KEY_LEN: usize = 32;

    pub fn new(key: &[u8]) -> Result<Self, String> {
        if key.len() < Self::MIN_KEY_LEN {
            return Err(format!(
                "the internal signing key must be at least {} bytes",
                Self::MIN_KEY_LEN
            ));
        }
        Hmac::new_from_slice(key)
            .map(|mac| Self {
                mac,
                accepted: Vec::new(),
            })
            .map_err(|e| e.to_string())
    }

    /// Also accepts assertions signed with `key` (for rotating the signing key: see
    /// docs/operations.md).
    pub fn accepting(mut self, key: &[u8]) -> Result<Self, String> {
        self.accepted.push(Self::new(key)?.mac);
        Ok(self)
    }

    /// A keyed fingerprint of `data` (lowercase hex), for recording that something was asked
    /// without keeping what: unlike a plain hash it cannot be reversed by trying every
    /// TRN and date of birth without the key.
    pub fn fingerprint(&self, purpose: &str, data: &[u8]) -> String {
        self.fingerprint_mac(purpose, data)
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `fingerprint` is [`Self::fingerprint`] of `data`, compared in constant time (a
    /// one-time code checked against its stored digest).
    pub fn fingerprint_matches(&self, purpose: &str, data: &[u8], fingerprint: &str) -> bool {
        let hex = fingerprint.as_bytes();
        if hex.len() != 64 {
            return false;
        }
        let digit = |c: u8| char::from(c).to_digit(16);
        let bytes: Option<Vec<u8>> = hex
            .chunks(2)
            .map(|pair| u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok())
            .collect();
        bytes.is_some_and(|bytes| {
            self.fingerprint_mac(purpose, data)
                .verify_slice(&bytes)
                .is_ok()
        })
    }

    fn fingerprint_mac(&self, purpose: &str, data: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(b"fingerprint:");
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(data);
        mac
    }

    /// A signer with a fresh random key, for components that all run in one process.
    pub fn random() -> Self {
        let key: [u8; 32] = rand::random();
        Self {
            mac: Hmac::new_from_slice(&key)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length")),
            accepted: Vec::new(),
        }
    }

    fn signature(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac = self.mac.clone();
        mac.update(payload);
        mac.finalize().into_bytes().to_vec()
    }

    /// The metadata value asserting `caller` until `now + 30 s`.
    pub fn mint(&self, caller: &Caller, now: SystemTime) -> AsciiMetadataValue {
        let (principal, service) = match &caller.principal {
            Principal::Service(name) => (None, name.clone()),
            other => (other.to_proto(), String::new()),
        };
        let assertion = PrincipalAssertion {
            principal,
            service,
            expire_time: Some((now + ASSERTION_LIFETIME).into()),
            request_id: caller.request_id.clone(),
            on_behalf_of: caller.on_behalf_of.clone().unwrap_or_default(),
            session_id: caller.session_id.clone().unwrap_or_default(),
            source: caller.source.clone().unwrap_or_default(),
        };
        let payload = assertion.encode_to_vec();
        let value = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(self.signature(&payload))
        );
        AsciiMetadataValue::try_from(value).unwrap_or_else(|_| unreachable!("base64url is ASCII"))
    }

    /// Checks an assertion's signature and expiry and returns the caller it names.
    pub fn verify(
        &self,
        metadata: &MetadataMap,
        now: SystemTime,
    ) -> Result<Caller, AssertionError> {
        let value = metadata
            .get(ASSERTION_HEADER)
            .ok_or(AssertionError::Missing)?
            .to_str()
            .map_err(|_| AssertionError::Malformed)?;
        let (payload, signature) = value.split_once('.').ok_or(AssertionError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| AssertionError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| AssertionError::Malformed)?;
        let signed_by = |key: &Hmac<Sha256>| {
            let mut mac = key.clone();
            mac.update(&payload);
            mac.verify_slice(&signature).is_ok()
        };
        if !std::iter::once(&self.mac)
            .chain(&self.accepted)
            .any(signed_by)
        {
            return Err(AssertionError::BadSignature);
        }
        let assertion = PrincipalAssertion::decode(payload.as_slice())
            .map_err(|_| AssertionError::Malformed)?;
        let expires = assertion
            .expire_time
            .and_then(|t| SystemTime::try_from(t).ok())
            .ok_or(AssertionError::Malformed)?;
        if expires <= now {
            return Err(AssertionError::Expired);
        }
        let principal = match (&assertion.principal, assertion.service.is_empty()) {
            (Some(principal), true) => {
                Principal::from_proto(principal).ok_or(AssertionError::Malformed)?
            }
            (None, false) => Principal::Service(assertion.service),
            _ => return Err(AssertionError::Malformed),
        };
        Ok(Caller {
            principal,
            request_id: assertion.request_id,
            on_behalf_of: (!assertion.on_behalf_of.is_empty()).then_some(assertion.on_behalf_of),
            session_id: (!assertion.session_id.is_empty()).then_some(assertion.session_id),
            source: (!assertion.source.is_empty()).then_some(assertion.source),
        })
    }

    /// The interceptor every service puts in front of its API: a call without a valid
    /// assertion is refused; a valid one puts the [`Caller`] into the request's extensions.
    pub fn interceptor(
        &self,
    ) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone + Send + Sync + 'static
    {
        let signer = self.clone();
        move |mut request: Request<()>| {
            let caller = signer.verify(request.metadata(), SystemTime::now())?;
            request.extensions_mut().insert(caller);
            Ok(request)
        }
    }

    /// A request to another component on behalf of `caller`, with the time left of `deadline`.
    pub fn request<T>(&self, message: T, caller: &Caller, deadline: Duration) -> Request<T> {
        let mut request = self.asserted(message, caller);
        request.set_timeout(deadline);
        request
    }

    /// A request carrying `caller`'s assertion and request id, and no deadline: for a stream
    /// that runs until its caller ends it.
    pub fn asserted<T>(&self, message: T, caller: &Caller) -> Request<T> {
        let mut request = Request::new(message);
        let metadata = request.metadata_mut();
        metadata.insert(ASSERTION_HEADER, self.mint(caller, SystemTime::now()));
        if let Ok(value) = AsciiMetadataValue::try_from(caller.request_id.as_str()) {
            metadata.insert(REQUEST_ID_HEADER, value);
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Assurance;
    use crate::config::VerificationMode;
    use crate::values::Trn;
    use dqt_proto::dqt::portal::v1 as pb;

    fn teacher() -> Caller {
        Caller {
            principal: Principal::Teacher {
                trn: Trn::from_number(1_234_567).unwrap(),
                assurance: Assurance::Verified,
            },
            request_id: "req-1".into(),
            on_behalf_of: None,
            session_id: Some("ab12".into()),
            source: None,
        }
    }

    fn metadata_with(value: AsciiMetadataValue) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert(ASSERTION_HEADER, value);
        metadata
    }

    #[test]
    fn a_rotation_accepts_both_keys_and_signs_with_one() {
        let (old, new) = ([1u8; 32], [2u8; 32]);
        let now = SystemTime::now();
        let before = Signer::new(&old).unwrap();
        let during = Signer::new(&old).unwrap().accepting(&new).unwrap();
        let after = Signer::new(&new).unwrap().accepting(&old).unwrap();
        let from_new = metadata_with(after.mint(&teacher(), now));
        let from_old = metadata_with(before.mint(&teacher(), now));
        assert!(before.verify(&from_new, now).is_err());
        assert_eq!(during.verify(&from_new, now).unwrap(), teacher());
        assert_eq!(during.verify(&from_old, now).unwrap(), teacher());
        assert_eq!(after.verify(&from_old, now).unwrap(), teacher());
        let stranger = metadata_with(Signer::random().mint(&teacher(), now));
        assert!(matches!(
            during.verify(&stranger, now),
            Err(AssertionError::BadSignature)
        ));
        assert!(Signer::new(&old).unwrap().accepting(&[0u8; 8]).is_err());
    }

    #[test]
    fn minted_assertions_verify() {
        let signer = Signer::random();
        let now = SystemTime::now();
        let metadata = metadata_with(signer.mint(&teacher(), now));
        assert_eq!(signer.verify(&metadata, now).unwrap(), teacher());
        let client = Caller {
            principal: Principal::Client {
                client_id: "admin".into(),
                roles: vec![crate::Role::RecordsRead],
            },
            request_id: "r".into(),
            on_behalf_of: Some("employer-user-9".into()),
            session_id: None,
            source: None,
        };
        let metadata = metadata_with(signer.mint(&client, now));
        assert_eq!(signer.verify(&metadata, now).unwrap(), client);
    }

    #[test]
    fn assertions_from_another_key_are_refused() {
        let now = SystemTime::now();
        let metadata = metadata_with(Signer::random().mint(&teacher(), now));
        assert_eq!(
            Signer::random().verify(&metadata, now),
            Err(AssertionError::BadSignature)
        );
    }

    #[test]
    fn expired_and_missing_assertions_are_refused() {
        let signer = Signer::random();
        let now = SystemTime::now();
        let metadata = metadata_with(signer.mint(&teacher(), now));
        assert_eq!(
            signer.verify(&metadata, now + Duration::from_secs(31)),
            Err(AssertionError::Expired)
        );
        assert_eq!(
            signer.verify(&MetadataMap::new(), now),
            Err(AssertionError::Missing)
        );
        let garbage = metadata_with(AsciiMetadataValue::from_static("abc.def"));
        assert!(signer.verify(&garbage, now).is_err());
    }

    #[test]
    fn fingerprints_match_only_their_data_and_purpose() {
        let signer = Signer::random();
        let digest = signer.fingerprint("code", b"123456");
        assert!(signer.fingerprint_matches("code", b"123456", &digest));
        assert!(!signer.fingerprint_matches("code", b"123457", &digest));
        assert!(!signer.fingerprint_matches("other", b"123456", &digest));
        assert!(!Signer::random().fingerprint_matches("code", b"123456", &digest));
        assert!(!signer.fingerprint_matches("code", b"123456", &digest[..62]));
        assert!(!signer.fingerprint_matches("code", b"123456", &"zz".repeat(32)));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(Signer::new(b"short").is_err());
        assert!(Signer::new(&[7u8; 32]).is_ok());
    }

    #[test]
    fn a_teacher_keeps_the_level_asserted_and_an_old_session_is_at_knowledge() {
        let signer = Signer::random();
        let now = SystemTime::now();
        let metadata = metadata_with(signer.mint(&teacher(), now));
        let caller = signer.verify(&metadata, now).unwrap();
        assert_eq!(caller.principal.assurance(), Some(Assurance::Verified));
        assert_eq!(caller.session_id.as_deref(), Some("ab12"));
        let old = pb::Principal {
            kind: pb::PrincipalKind::Teacher.into(),
            trn: "1234567".into(),
            ..Default::default()
        };
        assert_eq!(
            Principal::from_proto(&old).and_then(|p| p.assurance()),
            Some(Assurance::Knowledge)
        );
        let needed = Assurance::Verified;
        assert!(!Assurance::Knowledge.meets(needed, VerificationMode::Required));
        assert!(Assurance::Knowledge.meets(needed, VerificationMode::Off));
        assert!(Assurance::Verified.meets(needed, VerificationMode::Required));
    }
}
