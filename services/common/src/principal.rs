//! Who is calling a service, as asserted by the gateway (or by identity for its own calls).
//!
//! The assertion is a `dqt.auth.v1.PrincipalAssertion`, encoded, signed with HMAC-SHA256 under
//! a key every component shares, and sent in the `x-dqt-principal` metadata entry. It lives for
//! seconds: long enough for one call and the calls it makes.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dqt_proto::dqt::auth::v1::PrincipalAssertion;
use dqt_proto::dqt::portal::v1 as pb;
use hmac::{Hmac, Mac};
use prost::Message as _;
use sha2::Sha256;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Request, Status};

use crate::config::VerificationMode;
use crate::values::Trn;

/// Metadata entry that carries the assertion.
pub const ASSERTION_HEADER: &str = "x-dqt-principal";
/// Metadata entry that carries the request id across every hop.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Metadata entry in which an employer client names the employer user it acts for.
pub const ON_BEHALF_OF_HEADER: &str = "x-on-behalf-of";

const ASSERTION_LIFETIME: Duration = Duration::from_secs(30);
/// Longest a downstream call may take when the caller set no deadline.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// The roles an internal client can hold (architecture.md, Principals).
pub const INTERNAL_ROLES: [&str; 6] = [
    "records:read",
    "records:write",
    "alerts:write",
    "change-requests:review",
    "audit:read",
    "clients:manage",
];
/// The role of the employer Secure Access backend.
pub const EMPLOYER_ROLE: &str = "employer:check";

/// How sure the portal is that a teacher's session belongs to the teacher (architecture.md,
/// Assurance levels). Ordered: a higher level may do everything a lower one may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Assurance {
    /// Signed in with details that others may also know.
    Knowledge,
    /// Has also proved control of the email address on the record.
    Verified,
}

impl Assurance {
    /// Whether a session at this level may do what needs `needed`, under `mode`.
    pub fn meets(self, needed: Assurance, mode: VerificationMode) -> bool {
        mode == VerificationMode::Off || self >= needed
    }

    pub fn to_proto(self) -> pb::AssuranceLevel {
        match self {
            Self::Knowledge => pb::AssuranceLevel::Knowledge,
            Self::Verified => pb::AssuranceLevel::Verified,
        }
    }

    /// The level of a stored or asserted principal; a teacher's without one (a session from
    /// before levels existed) is at the knowledge level.
    pub fn from_proto(level: pb::AssuranceLevel) -> Self {
        match level {
            pb::AssuranceLevel::Verified => Self::Verified,
            pb::AssuranceLevel::Knowledge | pb::AssuranceLevel::Unspecified => Self::Knowledge,
        }
    }
}

/// Who a call acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A teacher acting on their own record, at an assurance level.
    Teacher { trn: Trn, assurance: Assurance },
    /// A client system with roles.
    Client {
        client_id: String,
        roles: Vec<String>,
    },
    /// A component calling on its own behalf (e.g. the gateway forwarding a sign-in).
    Service(String),
}

impl Principal {
    pub fn has_role(&self, role: &str) -> bool {
        matches!(self, Self::Client { roles, .. } if roles.iter().any(|r| r == role))
    }

    /// The TRN of a teacher principal.
    pub fn teacher_trn(&self) -> Option<Trn> {
        match self {
            Self::Teacher { trn, .. } => Some(*trn),
            _ => None,
        }
    }

    /// The assurance level of a teacher principal.
    pub fn assurance(&self) -> Option<Assurance> {
        match self {
            Self::Teacher { assurance, .. } => Some(*assurance),
            _ => None,
        }
    }

    /// The public form, as in SignInResponse; `None` for a service.
    pub fn to_proto(&self) -> Option<pb::Principal> {
        match self {
            Self::Teacher { trn, assurance } => Some(pb::Principal {
                kind: pb::PrincipalKind::Teacher.into(),
                trn: trn.to_string(),
                assurance_level: assurance.to_proto().into(),
                ..Default::default()
            }),
            Self::Client { client_id, roles } => Some(pb::Principal {
                kind: pb::PrincipalKind::Client.into(),
                client_id: client_id.clone(),
                roles: roles.clone(),
                ..Default::default()
            }),
            Self::Service(_) => None,
        }
    }

    /// Reads the public form back; `None` when it is malformed.
    pub fn from_proto(principal: &pb::Principal) -> Option<Self> {
        match principal.kind() {
            pb::PrincipalKind::Teacher => {
                Trn::parse("trn", &principal.trn)
                    .ok()
                    .map(|trn| Self::Teacher {
                        trn,
                        assurance: Assurance::from_proto(principal.assurance_level()),
                    })
            }
            pb::PrincipalKind::Client if !principal.client_id.is_empty() => Some(Self::Client {
                client_id: principal.client_id.clone(),
                roles: principal.roles.clone(),
            }),
            _ => None,
        }
    }
}

/// The verified caller of a service call, put into the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    pub request_id: String,
    pub on_behalf_of: Option<String>,
    /// The public session the call was made in (the SHA-256 of its token, lowercase hex).
    pub session_id: Option<String>,
    /// Where the public call came from, as the gateway saw it: for sign-in throttling.
    pub source: Option<String>,
}

impl Caller {
    /// The caller of a request that went through [`Signer::interceptor`].
    pub fn of<T>(request: &Request<T>) -> Result<&Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .ok_or_else(|| Status::unauthenticated("no principal assertion"))
    }

    /// The actor as the audit names it: a client id, "teacher", or the service.
    pub fn actor(&self) -> &str {
        match &self.principal {
            Principal::Teacher { .. } => "teacher",
            Principal::Client { client_id, .. } => client_id,
            Principal::Service(name) => name,
        }
    }
}

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
        Status::unauthenticated(error.to_string())
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
        let mut request = Request::new(message);
        let metadata = request.metadata_mut();
        metadata.insert(ASSERTION_HEADER, self.mint(caller, SystemTime::now()));
        if let Ok(value) = AsciiMetadataValue::try_from(caller.request_id.as_str()) {
            metadata.insert(REQUEST_ID_HEADER, value);
        }
        request.set_timeout(deadline);
        request
    }
}

/// Time kept back from a deadline passed on, so that a call further along runs out first
/// and its DEADLINE_EXCEEDED reaches the caller before the caller's own deadline.
const REPLY_MARGIN: Duration = Duration::from_millis(20);

/// The deadline to pass on: what remains of the caller's (`grpc-timeout`), capped at
/// [`DEFAULT_DEADLINE`], less a margin for the answer to travel back (at most a tenth).
pub fn remaining_deadline(metadata: &MetadataMap) -> Duration {
    deadline_from(
        metadata
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok()),
    )
}

/// [`remaining_deadline`] from the value of a `grpc-timeout` header, if any.
pub fn deadline_from(grpc_timeout: Option<&str>) -> Duration {
    let remaining = grpc_timeout
        .and_then(parse_grpc_timeout)
        .map_or(DEFAULT_DEADLINE, |timeout| timeout.min(DEFAULT_DEADLINE));
    remaining.saturating_sub(REPLY_MARGIN.min(remaining / 10))
}

/// A `grpc-timeout` header value for `timeout` (in milliseconds, rounded up).
pub fn grpc_timeout(timeout: Duration) -> String {
    let millis = timeout.as_micros().div_ceil(1000).clamp(1, 99_999_999);
    format!("{millis}m")
}

/// Parses a `grpc-timeout` value: up to 8 digits and a unit (H, M, S, m, u, n).
pub(crate) fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
                roles: vec!["records:read".into()],
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

    #[test]
    fn short_keys_are_refused() {
        assert!(Signer::new(b"short").is_err());
        assert!(Signer::new(&[7u8; 32]).is_ok());
    }

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
        assert_eq!(parse_grpc_timeout(""), None);
    }

    #[test]
    fn timeouts_are_written_as_grpc_reads_them() {
        for ms in [1, 250, 9_980] {
            let written = grpc_timeout(Duration::from_millis(ms));
            assert_eq!(
                parse_grpc_timeout(&written),
                Some(Duration::from_millis(ms))
            );
        }
        assert_eq!(grpc_timeout(Duration::from_micros(1)), "1m");
    }

    #[test]
    fn remaining_deadline_is_capped() {
        let mut metadata = MetadataMap::new();
        let margin = Duration::from_millis(20);
        assert_eq!(remaining_deadline(&metadata), DEFAULT_DEADLINE - margin);
        metadata.insert("grpc-timeout", AsciiMetadataValue::from_static("2S"));
        assert_eq!(
            remaining_deadline(&metadata),
            Duration::from_secs(2) - margin
        );
        metadata.insert("grpc-timeout", AsciiMetadataValue::from_static("1H"));
        assert_eq!(remaining_deadline(&metadata), DEFAULT_DEADLINE - margin);
        metadata.insert("grpc-timeout", AsciiMetadataValue::from_static("100m"));
        assert_eq!(remaining_deadline(&metadata), Duration::from_millis(90));
    }
}
