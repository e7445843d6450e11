//! The authorisation matrix, generated from the gateway's route table: every public RPC is
//! called as anonymous, as a teacher at each assurance level, as an employer client and as a
//! client of each internal role, and each answer must be the table's: refused
//! (UNAUTHENTICATED without a session, PERMISSION_DENIED with the wrong one, with reason
//! VERIFICATION_REQUIRED for a teacher below the level) or let through to the service.

use std::time::Duration;

use crate::support::{Harness, Stores, authed, start};
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::{Assurance, Role};
use portal_gateway::routes::{Access, ROUTES};
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic_prost::ProstCodec;
use tonic_types::StatusExt as _;

/// Who calls, and what the table should let them do.
struct CallerUnderTest {
    name: String,
    token: Option<String>,
    /// A teacher's assurance level.
    teacher: Option<Assurance>,
    roles: Vec<Role>,
}

impl CallerUnderTest {
    fn allowed(&self, access: Access) -> bool {
        match access {
            Access::Anyone => true,
            Access::Session => self.token.is_some(),
            Access::Teacher(needed) => self.teacher.is_some_and(|level| level >= needed),
            Access::Role(role) => self.roles.contains(&role),
        }
    }
}

/// Calls `path` with an empty request (every request message decodes from no bytes): its
/// code, and the ErrorInfo reason of a refusal. A stream that is let through runs on: it is
/// taken as answered once it has sent nothing wrong for a moment.
async fn call(
    h: &Harness,
    path: &str,
    token: Option<&str>,
    stream: bool,
) -> (Code, Option<String>) {
    let mut grpc = tonic::client::Grpc::new(h.gateway.clone());
    grpc.ready().await.unwrap();
    let request = match token {
        Some(token) => authed((), token),
        None => tonic::Request::new(()),
    };
    let codec: ProstCodec<(), ()> = ProstCodec::default();
    let path = PathAndQuery::try_from(path).unwrap();
    let answer = if stream {
        match grpc.server_streaming(request, path, codec).await {
            Ok(response) => {
                let mut messages = response.into_inner();
                match tokio::time::timeout(Duration::from_millis(300), messages.message()).await {
                    Ok(Err(status)) => Err(status),
                    _ => Ok(()),
                }
            }
            Err(status) => Err(status),
        }
    } else {
        grpc.unary(request, path, codec).await.map(drop)
    };
    match answer {
        Ok(()) => (Code::Ok, None),
        Err(status) => (
            status.code(),
            status.get_details_error_info().map(|info| info.reason),
        ),
    }
}

async fn client(h: &Harness, admin: &str, id: &str, roles: &[Role]) -> String {
    let created = h
        .admin()
        .create_client(authed(
            pb::CreateClientRequest {
                client_id: id.into(),
                display_name: id.into(),
                roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner();
    h.auth()
        .sign_in_client(pb::SignInClientRequest {
            client_id: created.client_id,
            client_secret: created.client_secret,
        })
        .await
        .unwrap()
        .into_inner()
        .token
}

#[tokio::test]
async fn every_public_rpc_answers_every_kind_of_caller_as_the_policy_table_says() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    let admin = h.sign_in_admin().await;
    let record = h
        .create_teacher(
            &admin,
            pb::CreateTeacherRequest {
                first_name: "Matrix".into(),
                last_name: "Teacher".into(),
                date_of_birth: "1980-01-01".into(),
                contact_details: Some(pb::ContactDetails {
                    email: "matrix@example.org".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await;
    let knowledge = h.sign_in_teacher(&record).await.token;
    let verified = h.verified_teacher(&record).await;
    let mut callers = vec![
        CallerUnderTest {
            name: "anonymous".into(),
            token: None,
            teacher: None,
            roles: vec![],
        },
        CallerUnderTest {
            name: "teacher at the knowledge level".into(),
            token: Some(knowledge),
            teacher: Some(Assurance::Knowledge),
            roles: vec![],
        },
        CallerUnderTest {
            name: "verified teacher".into(),
            token: Some(verified),
            teacher: Some(Assurance::Verified),
            roles: vec![],
        },
        CallerUnderTest {
            name: "employer".into(),
            token: Some(client(&h, &admin, "matrix-employer", &[Role::EmployerCheck]).await),
            teacher: None,
            roles: vec![Role::EmployerCheck],
        },
    ];
    for role in Role::INTERNAL {
        let id = format!("matrix-{}", role.as_str().replace(':', "-"));
        callers.push(CallerUnderTest {
            name: role.as_str().into(),
            token: Some(client(&h, &admin, &id, &[role]).await),
            teacher: None,
            roles: vec![role],
        });
    }

    // SignOut ends the session it is called with: it goes last.
    let mut routes: Vec<_> = ROUTES.iter().collect();
    routes.sort_by_key(|route| route.method == "SignOut");
    let mut cells = 0;
    for route in routes {
        let (path, access) = (
            format!("/{}/{}", route.api.name(), route.method),
            &route.access,
        );
        for caller in &callers {
            let (code, reason) = call(&h, &path, caller.token.as_deref(), route.stream).await;
            let cell = format!("{path} as {}: {code:?} {reason:?}", caller.name);
            if caller.allowed(*access) {
                assert!(
                    !matches!(code, Code::PermissionDenied | Code::Unimplemented),
                    "refused although allowed: {cell}"
                );
                if *access != Access::Anyone {
                    assert_ne!(
                        code,
                        Code::Unauthenticated,
                        "refused although allowed: {cell}"
                    );
                }
            } else if caller.token.is_none() {
                assert_eq!(code, Code::Unauthenticated, "{cell}");
            } else {
                assert_eq!(code, Code::PermissionDenied, "{cell}");
                // A teacher below the level is told how to get there; nobody else is.
                let below = matches!(access, Access::Teacher(_)) && caller.teacher.is_some();
                assert_eq!(
                    reason.as_deref() == Some("VERIFICATION_REQUIRED"),
                    below,
                    "{cell}"
                );
            }
            cells += 1;
        }
    }
    assert_eq!(cells, ROUTES.len() * callers.len());
    // Each session really ended with its SignOut.
    for caller in callers.iter().filter(|c| c.token.is_some()) {
        let (code, _) = call(
            &h,
            "/dqt.portal.v1.TeacherPortal/GetMyRecord",
            caller.token.as_deref(),
            false,
        )
        .await;
        assert_eq!(
            code,
            Code::Unauthenticated,
            "{} after signing out",
            caller.name
        );
    }
    h.shutdown().await;
}

#[tokio::test]
async fn each_api_refuses_requests_larger_than_it_needs() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    let oversized = h
        .auth()
        .sign_in_teacher(pb::SignInTeacherRequest {
            trn: "1000000".into(),
            surname: "x".repeat(32 * 1024),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(oversized.code(), Code::ResourceExhausted);
    let admin = h.sign_in_admin().await;
    let oversized = h
        .admin()
        .get_teacher(authed(
            pb::GetTeacherRequest {
                trn: "1".repeat(100 * 1024),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(oversized.code(), Code::ResourceExhausted);
    // Within its bound a request is read and judged on its content.
    let ordinary = h
        .admin()
        .get_teacher(authed(
            pb::GetTeacherRequest {
                trn: "1".repeat(1024),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(ordinary.code(), Code::InvalidArgument);
    h.shutdown().await;
}
