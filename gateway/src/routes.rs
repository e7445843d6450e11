//! The gateway as a route table: one row per public RPC saying who may call it (and at which
//! assurance level), where it goes, whether it is a read that may be repeated after
//! UNAVAILABLE, and what it costs against an employer client's check limits. The one place the
//! gateway decides a call, before any service is called; services still take a teacher's TRN
//! from the principal assertion and act on no other.

use std::collections::HashMap;
use std::sync::OnceLock;

use portal_common::VerificationMode;

use crate::error::Error;
use portal_common::{Assurance, Principal, Role as ClientRole};

/// What a caller needs to call an RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not. The call is made as the gateway, for no session.
    Anyone,
    /// Any live session.
    Session,
    /// A teacher's session at this assurance level or above.
    Teacher(Assurance),
    /// A client session holding the role.
    Role(ClientRole),
}

/// The public services, each with the largest request it needs, and no more: evidence
/// uploads (3 MB) go through TeacherPortal, 500 bulk queries through EmployerAccess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Authentication,
    TeacherPortal,
    EmployerAccess,
    Administration,
}

impl Api {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Authentication => "dqt.portal.v1.Authentication",
            Self::TeacherPortal => "dqt.portal.v1.TeacherPortal",
            Self::EmployerAccess => "dqt.portal.v1.EmployerAccess",
            Self::Administration => "dqt.portal.v1.Administration",
        }
    }

    /// The largest request message it accepts, in bytes.
    pub const fn max_request(self) -> usize {
        match self {
            Self::Authentication => 16 * 1024,
            Self::TeacherPortal => 4 * 1024 * 1024,
            Self::EmployerAccess => 256 * 1024,
            Self::Administration => 64 * 1024,
        }
    }
}

/// The internal services the gateway calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Upstream {
    Identity,
    Record,
    Document,
    Employment,
}

impl Upstream {
    pub const ALL: [Upstream; 4] = [
        Upstream::Identity,
        Upstream::Record,
        Upstream::Document,
        Upstream::Employment,
    ];

    /// The service's full gRPC name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Identity => "dqt.identity.v1.IdentityService",
            Self::Record => "dqt.record.v1.RecordService",
            Self::Document => "dqt.document.v1.DocumentService",
            Self::Employment => "dqt.employment.v1.EmploymentService",
        }
    }
}

/// Where a public RPC goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Its frames go unchanged to the method of the same name on this service.
    Forward(Upstream),
    /// A typed handler in `api` answers it: it combines or reshapes data.
    Handler,
}

/// What a call counts against an employer client's check limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Nothing.
    Free,
    /// One check.
    One,
    /// One check per entry of the request's repeated field 1 (CheckTeachers' queries), at most
    /// [`MAX_BULK_CHECKS`]; counted from the frame's wire format, without decoding it.
    PerEntry,
}

/// The most queries one CheckTeachers call may hold.
pub use portal_common::values::MAX_BULK_CHECKS;

/// One public RPC.
#[derive(Debug)]
pub struct Route {
    pub api: Api,
    pub method: &'static str,
    pub access: Access,
    pub target: Target,
    /// A read: safe to repeat after UNAVAILABLE (a write might have been applied before its
    /// answer was lost).
    pub read: bool,
    /// What the call counts against the client's check limits, before it is passed on.
    pub cost: Cost,
    /// A server stream: it runs until the caller's deadline (none when the caller set none),
    /// and ends as soon as the caller's session does.
    pub stream: bool,
}

use Access::{Anyone, Role, Session, Teacher};
use Api::{Administration, Authentication, EmployerAccess, TeacherPortal};
use Assurance::{Knowledge, Verified};
use Target::{Forward, Handler};
use Upstream::{Document, Employment, Identity, Record};

const fn route(api: Api, method: &'static str, access: Access, target: Target) -> Route {
    Route {
        api,
        method,
        access,
        target,
        read: false,
        cost: Cost::Free,
        stream: false,
    }
}

const fn read(api: Api, method: &'static str, access: Access, target: Target) -> Route {
    Route {
        read: true,
        ..route(api, method, access, target)
    }
}

const fn stream(api: Api, method: &'static str, access: Access, target: Target) -> Route {
    Route {
        stream: true,
        ..route(api, method, access, target)
    }
}

const fn check(method: &'static str, cost: Cost) -> Route {
    Route {
        cost,
        ..route(
            EmployerAccess,
            method,
            Role(ClientRole::EmployerCheck),
            Forward(Record),
        )
    }
}

/// Every public RPC.
pub const ROUTES: &[Route] = &[
    route(Authentication, "CreateCaptcha", Anyone, Forward(Identity)),
    route(Authentication, "SignInTeacher", Anyone, Forward(Identity)),
    route(Authentication, "SignInClient", Anyone, Forward(Identity)),
    route(Authentication, "SignOut", Session, Forward(Identity)),
    route(Authentication, "FindMyTrn", Anyone, Forward(Identity)),
    route(
        Authentication,
        "StartOneLoginSignIn",
        Anyone,
        Forward(Identity),
    ),
    route(
        Authentication,
        "CompleteOneLoginSignIn",
        Anyone,
        Forward(Identity),
    ),
    route(Authentication, "LinkOneLogin", Anyone, Forward(Identity)),
    route(
        Authentication,
        "StartVerification",
        Teacher(Knowledge),
        Forward(Identity),
    ),
    route(
        Authentication,
        "CompleteVerification",
        Teacher(Knowledge),
        Forward(Identity),
    ),
    // What the seed's sign-in proves opens a masked record and the documents; the rest needs
    // proof of the email on the record.
    read(
        TeacherPortal,
        "GetMyRecord",
        Teacher(Knowledge),
        Forward(Record),
    ),
    read(
        TeacherPortal,
        "ListMyDocuments",
        Teacher(Knowledge),
        Forward(Document),
    ),
    route(
        TeacherPortal,
        "DownloadDocument",
        Teacher(Knowledge),
        Forward(Document),
    ),
    route(
        TeacherPortal,
        "UpdateMyContactDetails",
        Teacher(Verified),
        Forward(Record),
    ),
    route(
        TeacherPortal,
        "ConfirmMyEmail",
        Teacher(Verified),
        Forward(Record),
    ),
    route(
        TeacherPortal,
        "RequestNameChange",
        Teacher(Verified),
        Forward(Record),
    ),
    route(
        TeacherPortal,
        "RequestDateOfBirthChange",
        Teacher(Verified),
        Forward(Record),
    ),
    read(
        TeacherPortal,
        "ListMyChangeRequests",
        Teacher(Verified),
        Forward(Record),
    ),
    read(
        TeacherPortal,
        "ListMyEmployments",
        Teacher(Verified),
        Forward(Employment),
    ),
    route(
        TeacherPortal,
        "CreateMyEmployment",
        Teacher(Verified),
        Forward(Employment),
    ),
    route(
        TeacherPortal,
        "UpdateMyEmployment",
        Teacher(Verified),
        Forward(Employment),
    ),
    route(
        TeacherPortal,
        "DeleteMyEmployment",
        Teacher(Verified),
        Forward(Employment),
    ),
    // The record service knows the checking clients' ids; identity knows what they are called.
    read(
        TeacherPortal,
        "ListMyRecordChecks",
        Teacher(Verified),
        Handler,
    ),
    check("CheckTeacher", Cost::One),
    check("FindTeachers", Cost::One),
    check("CheckTeachers", Cost::PerEntry),
    check("WatchTeacher", Cost::One),
    check("UnwatchTeacher", Cost::Free),
    Route {
        read: true,
        ..check("ListWatchedTeachers", Cost::Free)
    },
    Route {
        stream: true,
        ..check("WatchRestrictionChanges", Cost::Free)
    },
    read(
        EmployerAccess,
        "VerifyDocument",
        Role(ClientRole::EmployerCheck),
        Forward(Document),
    ),
    route(
        Administration,
        "CreateTeacher",
        Role(ClientRole::RecordsWrite),
        Forward(Record),
    ),
    route(
        Administration,
        "CreateTrnRequest",
        Role(ClientRole::RecordsWrite),
        Forward(Record),
    ),
    read(
        Administration,
        "GetTrnRequest",
        Role(ClientRole::RecordsWrite),
        Forward(Record),
    ),
    read(
        Administration,
        "ListTrnRequests",
        Role(ClientRole::RecordsWrite),
        Forward(Record),
    ),
    route(
        Administration,
        "ResolveTrnRequest",
        Role(ClientRole::RecordsWrite),
        Forward(Record),
    ),
    read(
        Administration,
        "GetTeacher",
        Role(ClientRole::RecordsRead),
        Forward(Record),
    ),
    route(
        Administration,
        "UpdateTeacher",
        Role(ClientRole::RecordsWrite),
        Forward(Record),
    ),
    route(
        Administration,
        "AddProfessionalStatus",
        Role(ClientRole::RecordsWrite),
        Forward(Record),
    ),
    route(
        Administration,
        "SetInduction",
        Role(ClientRole::RecordsWrite),
        Forward(Record),
    ),
    route(
        Administration,
        "SetQtlsStatus",
        Role(ClientRole::RecordsWrite),
        Forward(Record),
    ),
    route(
        Administration,
        "AddQualification",
        Role(ClientRole::RecordsWrite),
        Forward(Record),
    ),
    route(
        Administration,
        "AddAlert",
        Role(ClientRole::AlertsWrite),
        Forward(Record),
    ),
    route(
        Administration,
        "CloseAlert",
        Role(ClientRole::AlertsWrite),
        Forward(Record),
    ),
    route(
        Administration,
        "UpdateAlert",
        Role(ClientRole::AlertsWrite),
        Forward(Record),
    ),
    route(
        Administration,
        "DeleteAlert",
        Role(ClientRole::AlertsWrite),
        Forward(Record),
    ),
    // The record closes, then the TRN's sessions end: two services.
    route(
        Administration,
        "SetDeceased",
        Role(ClientRole::RecordsWrite),
        Handler,
    ),
    read(
        Administration,
        "ListChangeRequests",
        Role(ClientRole::ChangeRequestsReview),
        Forward(Record),
    ),
    route(
        Administration,
        "ReviewChangeRequest",
        Role(ClientRole::ChangeRequestsReview),
        Forward(Record),
    ),
    route(
        Administration,
        "GetChangeRequestEvidence",
        Role(ClientRole::ChangeRequestsReview),
        Forward(Record),
    ),
    read(
        Administration,
        "ListTrnCases",
        Role(ClientRole::ChangeRequestsReview),
        Forward(Record),
    ),
    route(
        Administration,
        "ResolveTrnCase",
        Role(ClientRole::ChangeRequestsReview),
        Forward(Record),
    ),
    read(
        Administration,
        "ListEmployments",
        Role(ClientRole::RecordsRead),
        Forward(Employment),
    ),
    read(
        Administration,
        "ListAuditEvents",
        Role(ClientRole::AuditRead),
        Forward(Record),
    ),
    stream(
        Administration,
        "WatchChanges",
        Role(ClientRole::ChangesRead),
        Forward(Record),
    ),
    route(
        Administration,
        "UnlinkOneLogin",
        Role(ClientRole::ClientsManage),
        Handler,
    ),
    route(
        Administration,
        "RevokeTeacherSessions",
        Role(ClientRole::ClientsManage),
        Forward(Identity),
    ),
    route(
        Administration,
        "CreateClient",
        Role(ClientRole::ClientsManage),
        Forward(Identity),
    ),
    route(
        Administration,
        "UpdateClient",
        Role(ClientRole::ClientsManage),
        Forward(Identity),
    ),
    route(
        Administration,
        "DeleteClient",
        Role(ClientRole::ClientsManage),
        Forward(Identity),
    ),
    route(
        Administration,
        "RotateClientSecret",
        Role(ClientRole::ClientsManage),
        Forward(Identity),
    ),
];

/// A route found by its public path, with the internal path it is forwarded to.
#[derive(Debug)]
pub struct Found {
    pub route: &'static Route,
    /// `/<internal service>/<method>` for a forwarded route.
    pub upstream_path: Option<http::uri::PathAndQuery>,
}

/// Services anyone may call: health and reflection.
const OPEN_SERVICES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// What a path leads to.
#[derive(Debug, Clone, Copy)]
pub enum Destination {
    /// Health and reflection: anyone, answered by the gateway itself.
    Open,
    /// A public RPC.
    Rpc(&'static Found),
}

/// Where a call to `path` goes; `None` for a path the gateway does not serve.
pub fn find(path: &str) -> Option<Destination> {
    static TABLE: OnceLock<HashMap<String, Found>> = OnceLock::new();
    if OPEN_SERVICES.iter().any(|prefix| path.starts_with(prefix)) {
        return Some(Destination::Open);
    }
    let table = TABLE.get_or_init(|| {
        ROUTES
            .iter()
            .map(|route| {
                let upstream_path = match route.target {
                    Forward(upstream) => Some(
                        http::uri::PathAndQuery::try_from(format!(
                            "/{}/{}",
                            upstream.name(),
                            route.method
                        ))
                        .unwrap_or_else(|_| unreachable!("service and method names are paths")),
                    ),
                    Handler => None,
                };
                let path = format!("/{}/{}", route.api.name(), route.method);
                (
                    path,
                    Found {
                        route,
                        upstream_path,
                    },
                )
            })
            .collect()
    });
    table.get(path).map(Destination::Rpc)
}

/// Allows the call, or says why not: UNAUTHENTICATED without a session, PERMISSION_DENIED
/// with the wrong one, and PERMISSION_DENIED with reason VERIFICATION_REQUIRED for a teacher
/// whose session is below the level the call needs (under `mode`).
pub fn decide(
    access: Access,
    principal: Option<&Principal>,
    mode: VerificationMode,
) -> Result<(), Error> {
    let allowed = match (access, principal) {
        (Anyone, _) => true,
        (_, None) => return Err(Error::SignInFirst),
        (Session, Some(_)) => true,
        (Teacher(needed), Some(principal)) => match principal.assurance() {
            Some(level) if level.meets(needed, mode) => true,
            Some(_) => return Err(Error::VerificationRequired),
            None => false,
        },
        (Role(role), Some(principal)) => principal.has_role(role),
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::PermissionDenied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_common::values::Trn;
    use prost::Message as _;
    use prost_types::{FileDescriptorSet, MethodDescriptorProto};

    fn descriptors() -> FileDescriptorSet {
        FileDescriptorSet::decode(dqt_proto::FILE_DESCRIPTOR_SET).unwrap()
    }

    /// Every method of the service `full_name`, from the compiled descriptors.
    fn methods(set: &FileDescriptorSet, full_name: &str) -> Vec<MethodDescriptorProto> {
        set.file
            .iter()
            .flat_map(|file| {
                file.service
                    .iter()
                    .filter(move |s| format!("{}.{}", file.package(), s.name()) == full_name)
                    .flat_map(|s| s.method.clone())
            })
            .collect()
    }

    const APIS: [Api; 4] = [
        Authentication,
        TeacherPortal,
        EmployerAccess,
        Administration,
    ];

    #[test]
    fn every_public_rpc_has_exactly_one_route() {
        let set = descriptors();
        let mut public = 0;
        for api in APIS {
            for method in methods(&set, api.name()) {
                let rows = ROUTES
                    .iter()
                    .filter(|r| r.api == api && r.method == method.name())
                    .count();
                assert_eq!(
                    rows,
                    1,
                    "{}/{} needs exactly one route",
                    api.name(),
                    method.name()
                );
                public += 1;
            }
        }
        assert!(public >= 36, "the descriptor set lists the public API");
        assert_eq!(
            ROUTES.len(),
            public,
            "no route for an RPC that does not exist"
        );
    }

    #[test]
    fn a_forwarded_rpc_takes_and_gives_the_same_messages_on_both_sides() {
        let set = descriptors();
        for route in ROUTES {
            let Forward(upstream) = route.target else {
                continue;
            };
            let public = methods(&set, route.api.name())
                .into_iter()
                .find(|m| m.name() == route.method)
                .unwrap();
            let internal = methods(&set, upstream.name())
                .into_iter()
                .find(|m| m.name() == route.method)
                .unwrap_or_else(|| panic!("{} has no {}", upstream.name(), route.method));
            assert_eq!(
                (public.input_type(), public.output_type()),
                (internal.input_type(), internal.output_type()),
                "{}: the frames must mean the same on both sides",
                route.method
            );
            assert_eq!(
                public.server_streaming(),
                internal.server_streaming(),
                "{}",
                route.method
            );
        }
    }

    fn rpc(path: &str) -> &'static Found {
        match find(path) {
            Some(Destination::Rpc(found)) => found,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths_find_their_routes_and_nothing_else() {
        let found = rpc("/dqt.portal.v1.TeacherPortal/GetMyRecord");
        assert_eq!(found.route.method, "GetMyRecord");
        assert_eq!(
            found.upstream_path.as_ref().unwrap().as_str(),
            "/dqt.record.v1.RecordService/GetMyRecord"
        );
        let typed = rpc("/dqt.portal.v1.TeacherPortal/ListMyRecordChecks");
        assert!(typed.upstream_path.is_none());
        assert!(matches!(
            find("/grpc.health.v1.Health/Check"),
            Some(Destination::Open)
        ));
        assert!(find("/dqt.record.v1.RecordService/GetTeacher").is_none());
        assert!(find("/dqt.portal.v1.Administration/DropEverything").is_none());
        assert!(find("/dqt.portal.v1.Administration/").is_none());
    }

    #[test]
    fn decisions_follow_the_principal_and_its_level() {
        use tonic::{Code, Status};
        use tonic_types::StatusExt as _;
        let mode = VerificationMode::Required;
        let teacher = |assurance| Principal::Teacher {
            trn: Trn::from_number(1_000_001).unwrap(),
            assurance,
        };
        let (known, verified) = (teacher(Knowledge), teacher(Verified));
        let employer = Principal::Client {
            client_id: "sa".into(),
            roles: vec![ClientRole::EmployerCheck],
        };
        assert!(decide(Anyone, None, mode).is_ok());
        let refused =
            |access, principal| Status::from(decide(access, principal, mode).unwrap_err());
        assert_eq!(refused(Session, None).code(), Code::Unauthenticated);
        assert!(decide(Session, Some(&employer), mode).is_ok());
        assert!(decide(Teacher(Knowledge), Some(&known), mode).is_ok());
        assert!(decide(Teacher(Knowledge), Some(&verified), mode).is_ok());
        assert!(decide(Teacher(Verified), Some(&verified), mode).is_ok());
        let below = refused(Teacher(Verified), Some(&known));
        assert_eq!(below.code(), Code::PermissionDenied);
        assert_eq!(
            below.get_details_error_info().unwrap().reason,
            "VERIFICATION_REQUIRED"
        );
        assert!(decide(Teacher(Verified), Some(&known), VerificationMode::Off).is_ok());
        let employer_as_teacher = refused(Teacher(Knowledge), Some(&employer));
        assert_eq!(employer_as_teacher.code(), Code::PermissionDenied);
        assert_eq!(
            employer_as_teacher.get_details_error_info().unwrap().reason,
            "NOT_ALLOWED"
        );
        assert!(decide(Role(ClientRole::EmployerCheck), Some(&employer), mode).is_ok());
        assert_eq!(
            refused(Role(ClientRole::RecordsRead), Some(&employer)).code(),
            Code::PermissionDenied
        );
        assert!(decide(Role(ClientRole::EmployerCheck), Some(&known), mode).is_err());
    }
}
