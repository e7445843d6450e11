//! Who may call each public RPC: the one place the gateway decides it, before any service is
//! called. Services still re-check that a teacher only touches their own record.

use portal_common::principal::{EMPLOYER_ROLE, Principal};
use tonic::Status;

/// What a caller needs to call an RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Anyone,
    /// Any live session.
    Session,
    /// A teacher's session.
    Teacher,
    /// A client session holding the role.
    Role(&'static str),
}

const AUTHENTICATION: &str = "/dqt.portal.v1.Authentication/";
const TEACHER_PORTAL: &str = "/dqt.portal.v1.TeacherPortal/";
const EMPLOYER_ACCESS: &str = "/dqt.portal.v1.EmployerAccess/";
const ADMINISTRATION: &str = "/dqt.portal.v1.Administration/";

/// Every public RPC, by service prefix and method name.
pub const POLICY: &[(&str, &str, Access)] = &[
    (AUTHENTICATION, "CreateCaptcha", Access::Anyone),
    (AUTHENTICATION, "SignInTeacher", Access::Anyone),
    (AUTHENTICATION, "SignInClient", Access::Anyone),
    (AUTHENTICATION, "SignOut", Access::Session),
    (TEACHER_PORTAL, "GetMyRecord", Access::Teacher),
    (TEACHER_PORTAL, "ListMyDocuments", Access::Teacher),
    (TEACHER_PORTAL, "DownloadDocument", Access::Teacher),
    (TEACHER_PORTAL, "UpdateMyContactDetails", Access::Teacher),
    (TEACHER_PORTAL, "RequestNameChange", Access::Teacher),
    (TEACHER_PORTAL, "RequestDateOfBirthChange", Access::Teacher),
    (TEACHER_PORTAL, "ListMyChangeRequests", Access::Teacher),
    (TEACHER_PORTAL, "ListMyEmployments", Access::Teacher),
    (TEACHER_PORTAL, "CreateMyEmployment", Access::Teacher),
    (TEACHER_PORTAL, "UpdateMyEmployment", Access::Teacher),
    (TEACHER_PORTAL, "DeleteMyEmployment", Access::Teacher),
    (TEACHER_PORTAL, "ListMyRecordChecks", Access::Teacher),
    (EMPLOYER_ACCESS, "CheckTeacher", Access::Role(EMPLOYER_ROLE)),
    (EMPLOYER_ACCESS, "FindTeachers", Access::Role(EMPLOYER_ROLE)),
    (
        EMPLOYER_ACCESS,
        "CheckTeachers",
        Access::Role(EMPLOYER_ROLE),
    ),
    (
        EMPLOYER_ACCESS,
        "VerifyDocument",
        Access::Role(EMPLOYER_ROLE),
    ),
    (
        ADMINISTRATION,
        "CreateTeacher",
        Access::Role("records:write"),
    ),
    (ADMINISTRATION, "GetTeacher", Access::Role("records:read")),
    (
        ADMINISTRATION,
        "UpdateTeacher",
        Access::Role("records:write"),
    ),
    (
        ADMINISTRATION,
        "AddProfessionalStatus",
        Access::Role("records:write"),
    ),
    (
        ADMINISTRATION,
        "SetInduction",
        Access::Role("records:write"),
    ),
    (
        ADMINISTRATION,
        "AddQualification",
        Access::Role("records:write"),
    ),
    (ADMINISTRATION, "AddAlert", Access::Role("alerts:write")),
    (ADMINISTRATION, "CloseAlert", Access::Role("alerts:write")),
    (
        ADMINISTRATION,
        "ListChangeRequests",
        Access::Role("change-requests:review"),
    ),
    (
        ADMINISTRATION,
        "ReviewChangeRequest",
        Access::Role("change-requests:review"),
    ),
    (
        ADMINISTRATION,
        "GetChangeRequestEvidence",
        Access::Role("change-requests:review"),
    ),
    (
        ADMINISTRATION,
        "ListEmployments",
        Access::Role("records:read"),
    ),
    (
        ADMINISTRATION,
        "ListAuditEvents",
        Access::Role("audit:read"),
    ),
    (
        ADMINISTRATION,
        "RevokeTeacherSessions",
        Access::Role("clients:manage"),
    ),
    (
        ADMINISTRATION,
        "CreateClient",
        Access::Role("clients:manage"),
    ),
];

/// Services anyone may call: health and reflection.
const OPEN_SERVICES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The access an RPC path needs; `None` for a path the gateway does not serve.
pub fn access(path: &str) -> Option<Access> {
    if OPEN_SERVICES.iter().any(|prefix| path.starts_with(prefix)) {
        return Some(Access::Anyone);
    }
    POLICY
        .iter()
        .find(|(service, method, _)| path.strip_prefix(service) == Some(method))
        .map(|(_, _, access)| *access)
}

/// Allows the call, or says why not: UNAUTHENTICATED without a session, PERMISSION_DENIED
/// with the wrong one.
pub fn decide(access: Access, principal: Option<&Principal>) -> Result<(), Status> {
    let allowed = match (access, principal) {
        (Access::Anyone, _) => true,
        (_, None) => return Err(Status::unauthenticated("sign in first")),
        (Access::Session, Some(_)) => true,
        (Access::Teacher, Some(principal)) => matches!(principal, Principal::Teacher(_)),
        (Access::Role(role), Some(principal)) => principal.has_role(role),
    };
    if allowed {
        Ok(())
    } else {
        Err(Status::permission_denied("not allowed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_common::values::Trn;
    use prost::Message as _;

    /// Every method of every `dqt.portal.v1` service, from the compiled descriptors.
    fn public_methods() -> Vec<String> {
        let set = prost_types::FileDescriptorSet::decode(dqt_proto::FILE_DESCRIPTOR_SET).unwrap();
        set.file
            .iter()
            .filter(|file| file.package() == "dqt.portal.v1")
            .flat_map(|file| {
                file.service.iter().flat_map(|service| {
                    service.method.iter().map(move |method| {
                        format!("/dqt.portal.v1.{}/{}", service.name(), method.name())
                    })
                })
            })
            .collect()
    }

    #[test]
    fn every_public_rpc_has_exactly_one_policy_entry() {
        let methods = public_methods();
        assert!(methods.len() >= 30, "descriptor set lists the public API");
        for method in &methods {
            let entries = POLICY
                .iter()
                .filter(|(service, name, _)| method.strip_prefix(service) == Some(name))
                .count();
            assert_eq!(entries, 1, "{method} needs exactly one policy entry");
        }
        assert_eq!(
            POLICY.len(),
            methods.len(),
            "no entry for an RPC that does not exist"
        );
    }

    #[test]
    fn unknown_paths_have_no_access() {
        assert_eq!(access("/dqt.record.v1.RecordService/GetTeacher"), None);
        assert_eq!(access("/dqt.portal.v1.Administration/DropEverything"), None);
        assert_eq!(access("/dqt.portal.v1.Administration/"), None);
        assert_eq!(access("/grpc.health.v1.Health/Check"), Some(Access::Anyone));
    }

    #[test]
    fn decisions_follow_the_principal() {
        let teacher = Principal::Teacher(Trn::from_number(1_000_001).unwrap());
        let employer = Principal::Client {
            client_id: "sa".into(),
            roles: vec![EMPLOYER_ROLE.into()],
        };
        assert!(decide(Access::Anyone, None).is_ok());
        assert_eq!(
            decide(Access::Session, None).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert!(decide(Access::Session, Some(&employer)).is_ok());
        assert!(decide(Access::Teacher, Some(&teacher)).is_ok());
        assert_eq!(
            decide(Access::Teacher, Some(&employer)).unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
        assert!(decide(Access::Role(EMPLOYER_ROLE), Some(&employer)).is_ok());
        assert_eq!(
            decide(Access::Role("records:read"), Some(&employer))
                .unwrap_err()
                .code(),
            tonic::Code::PermissionDenied
        );
        assert!(decide(Access::Role(EMPLOYER_ROLE), Some(&teacher)).is_err());
    }
}
