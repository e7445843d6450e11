//! Who a call acts for: a teacher at an assurance level, a client with roles, or a component
//! on its own behalf; and the caller of a service call as its principal assertion names it
//! (`assertion`).

use dqt_proto::dqt::portal::v1 as pb;
use tonic::{Request, Status};

use crate::config::VerificationMode;
use crate::values::Trn;

/// What a client may do (architecture.md, Principals): one role per area of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The employer Secure Access backend: check teachers, verify documents.
    EmployerCheck,
    RecordsRead,
    RecordsWrite,
    AlertsWrite,
    ChangeRequestsReview,
    AuditRead,
    ClientsManage,
    /// Internal systems keeping copies of records: the change feed.
    ChangesRead,
}

impl Role {
    /// The roles of internal DfE clients (every role but the employer's).
    pub const INTERNAL: [Role; 7] = [
        Role::RecordsRead,
        Role::RecordsWrite,
        Role::AlertsWrite,
        Role::ChangeRequestsReview,
        Role::AuditRead,
        Role::ClientsManage,
        Role::ChangesRead,
    ];

    /// Every role.
    pub const ALL: [Role; 8] = [
        Role::EmployerCheck,
        Role::RecordsRead,
        Role::RecordsWrite,
        Role::AlertsWrite,
        Role::ChangeRequestsReview,
        Role::AuditRead,
        Role::ClientsManage,
        Role::ChangesRead,
    ];

    /// The role's name in the API and the database, such as `records:read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmployerCheck => "employer:check",
            Self::RecordsRead => "records:read",
            Self::RecordsWrite => "records:write",
            Self::AlertsWrite => "alerts:write",
            Self::ChangeRequestsReview => "change-requests:review",
            Self::AuditRead => "audit:read",
            Self::ClientsManage => "clients:manage",
            Self::ChangesRead => "changes:read",
        }
    }

    /// The role named `name`; `None` for a name that is no role.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == name)
    }

    /// The roles named in `names`, leaving out names that are no role (say, one withdrawn since
    /// a session was made).
    pub fn known(names: &[String]) -> Vec<Self> {
        names.iter().filter_map(|name| Self::parse(name)).collect()
    }
}

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
    Client { client_id: String, roles: Vec<Role> },
    /// A component calling on its own behalf (e.g. the gateway forwarding a sign-in).
    Service(String),
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        matches!(self, Self::Client { roles, .. } if roles.contains(&role))
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
                roles: roles.iter().map(|role| role.as_str().to_owned()).collect(),
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
                roles: Role::known(&principal.roles),
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
    /// The caller of a request that went through [`crate::Signer::interceptor`].
    pub fn of<T>(request: &Request<T>) -> Result<&Caller, Status> {
        request.extensions().get::<Caller>().ok_or_else(|| {
            crate::error::status(
                tonic::Code::Unauthenticated,
                "no principal assertion",
                crate::error::Reason::SessionInvalid,
            )
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_from_their_names_and_unknown_names_are_left_out() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(
            Role::known(&["records:read".into(), "root".into()]),
            [Role::RecordsRead]
        );
        let client = Principal::Client {
            client_id: "c".into(),
            roles: vec![Role::AuditRead],
        };
        assert_eq!(
            Principal::from_proto(&client.to_proto().unwrap()),
            Some(client.clone())
        );
        assert!(client.has_role(Role::AuditRead) && !client.has_role(Role::RecordsRead));
    }
}
