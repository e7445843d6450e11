//! Who may call each public RPC: the one place the gateway decides it, before any service is
//! called. Services still re-check that a teacher only touches their own record.

use portal_common::VerificationMode;
use portal_common::error::{reason, with_reason};
use portal_common::principal::{Assurance, EMPLOYER_ROLE, Principal};
use tonic::{Code, Status};

/// What a caller needs to call an RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Anyone,
    /// Any live session.
    Session,
    /// A teacher's session at this assurance level or above.
    Teacher(Assurance),
    /// A client session holding the role.
    Role(&'static str),
}

use Assurance::{Knowledge, Verified};

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
    (
        AUTHENTICATION,
        "StartVerification",
        Access::Teacher(Knowledge),
    ),
    (
        AUTHENTICATION,
        "CompleteVerification",
        Access::Teacher(Knowledge),
    ),
    // What the seed's sign-in proves opens a masked record and the documents; the rest needs
    // proof of the email on the record.
    (TEACHER_PORTAL, "GetMyRecord", Access::Teacher(Knowledge)),
    (
        TEACHER_PORTAL,
        "ListMyDocuments",
        Access::Teacher(Knowledge),
    ),
    (
        TEACHER_PORTAL,
        "DownloadDocument",
        Access::Teacher(Knowledge),
    ),
    (
        TEACHER_PORTAL,
        "UpdateMyContactDetails",
        Access::Teacher(Verified),
    ),
    (TEACHER_PORTAL, "ConfirmMyEmail", Access::Teacher(Verified)),
    (
        TEACHER_PORTAL,
        "RequestNameChange",
        Access::Teacher(Verified),
    ),
    (
        TEACHER_PORTAL,
        "RequestDateOfBirthChange",
        Access::Teacher(Verified),
    ),
    (
        TEACHER_PORTAL,
        "ListMyChangeRequests",
        Access::Teacher(Verified),
    ),
    (
        TEACHER_PORTAL,
        "ListMyEmployments",
        Access::Teacher(Verified),
    ),
    (
        TEACHER_PORTAL,
        "CreateMyEmployment",
        Access::Teacher(Verified),
    ),
    (
        TEACHER_PORTAL,
        "UpdateMyEmployment",
        Access::Teacher(Verified),
    ),
    (
        TEACHER_PORTAL,
        "DeleteMyEmployment",
        Access::Teacher(Verified),
    ),
    (
        TEACHER_PORTAL,
        "ListMyRecordChecks",
        Access::Teacher(Verified),
    ),
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
/// with the wrong one, and PERMISSION_DENIED with reason VERIFICATION_REQUIRED for a teacher
/// whose session is below the level the call needs (under `mode`).
pub fn decide(
    access: Access,
    principal: Option<&Principal>,
    mode: VerificationMode,
) -> Result<(), Status> {
    let allowed = match (access, principal) {
        (Access::Anyone, _) => true,
        (_, None) => return Err(Status::unauthenticated("sign in first")),
        (Access::Session, Some(_)) => true,
        (Access::Teacher(needed), Some(principal)) => match principal.assurance() {
            Some(level) if level.meets(needed, mode) => true,
            Some(_) => {
                return Err(with_reason(
                    Code::PermissionDenied,
                    "this needs a verified session: call StartVerification, then \
                     CompleteVerification with the code from the email",
                    reason::VERIFICATION_REQUIRED,
                ));
            }
            None => false,
        },
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
    fn decisions_follow_the_principal_and_its_level() {
        use tonic_types::StatusExt as _;
        let mode = VerificationMode::Required;
        let teacher = |assurance| Principal::Teacher {
            trn: Trn::from_number(1_000_001).unwrap(),
            assurance,
        };
        let (known, verified) = (teacher(Knowledge), teacher(Verified));
        let employer = Principal::Client {
            client_id: "sa".into(),
            roles: vec![EMPLOYER_ROLE.into()],
        };
        assert!(decide(Access::Anyone, None, mode).is_ok());
        assert_eq!(
            decide(Access::Session, None, mode).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert!(decide(Access::Session, Some(&employer), mode).is_ok());
        assert!(decide(Access::Teacher(Knowledge), Some(&known), mode).is_ok());
        assert!(decide(Access::Teacher(Knowledge), Some(&verified), mode).is_ok());
        assert!(decide(Access::Teacher(Verified), Some(&verified), mode).is_ok());
        let below = decide(Access::Teacher(Verified), Some(&known), mode).unwrap_err();
        assert_eq!(below.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            below.get_details_error_info().unwrap().reason,
            "VERIFICATION_REQUIRED"
        );
        assert!(
            decide(
                Access::Teacher(Verified),
                Some(&known),
                VerificationMode::Off
            )
            .is_ok()
        );
        let employer_as_teacher =
            decide(Access::Teacher(Knowledge), Some(&employer), mode).unwrap_err();
        assert_eq!(employer_as_teacher.code(), tonic::Code::PermissionDenied);
        assert!(employer_as_teacher.get_details_error_info().is_none());
        assert!(decide(Access::Role(EMPLOYER_ROLE), Some(&employer), mode).is_ok());
        assert_eq!(
            decide(Access::Role("records:read"), Some(&employer), mode)
                .unwrap_err()
                .code(),
            tonic::Code::PermissionDenied
        );
        assert!(decide(Access::Role(EMPLOYER_ROLE), Some(&known), mode).is_err());
    }
}
