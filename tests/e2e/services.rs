//! Services trust only calls carrying a valid principal assertion; every server serves health
//! and reflection (v1 and v1alpha, each describing every service served and the error details).

use std::time::SystemTime;

use crate::support::{Stores, start, start_only};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::record::v1::record_service_client::RecordServiceClient;
use portal_common::assertion::ASSERTION_HEADER;
use portal_common::component::names;
use portal_common::deadline::DEFAULT_DEADLINE;
use portal_common::values::Trn;
use portal_common::{Assurance, Caller, Principal, Signer};
use tonic::Code;
use tonic_reflection::pb::{v1, v1alpha};

fn teacher(trn: &str) -> Caller {
    Caller {
        principal: Principal::Teacher {
            trn: Trn::parse("trn", trn).unwrap(),
            assurance: Assurance::Verified,
        },
        request_id: "r".into(),
        on_behalf_of: None,
        session_id: None,
        source: None,
    }
}

#[tokio::test]
async fn services_refuse_calls_without_a_valid_principal_assertion() {
    // The record service alone: nothing here goes through another component.
    let h = start_only(&[names::RECORD], Stores::Embedded, |_| {})
        .await
        .unwrap();
    assert!(
        h.addr(names::GATEWAY).ends_with(":0"),
        "only the record service runs"
    );
    let mut record = RecordServiceClient::connect(format!("http://{}", h.addr(names::RECORD)))
        .await
        .unwrap();

    let status = record
        .get_my_record(pb::GetMyRecordRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "no assertion");

    let forged = Signer::random().request(
        pb::GetMyRecordRequest {},
        &teacher("1000000"),
        DEFAULT_DEADLINE,
    );
    let status = record.get_my_record(forged).await.unwrap_err();
    assert_eq!(
        status.code(),
        Code::Unauthenticated,
        "signed with another key"
    );

    let signer = h.stack.as_ref().unwrap().signer().clone();
    let mut expired = tonic::Request::new(pb::GetMyRecordRequest {});
    expired.metadata_mut().insert(
        ASSERTION_HEADER,
        signer.mint(
            &teacher("1000000"),
            SystemTime::now() - std::time::Duration::from_secs(60),
        ),
    );
    let status = record.get_my_record(expired).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "expired");

    // A valid assertion for a teacher with no record passes the check and finds nothing.
    let valid = signer.request(
        pb::GetMyRecordRequest {},
        &teacher("1000000"),
        DEFAULT_DEADLINE,
    );
    assert_eq!(
        record.get_my_record(valid).await.unwrap_err().code(),
        Code::NotFound
    );

    // A teacher's assertion does not reach the internal read.
    let as_teacher = signer.request(
        pb::GetTeacherRequest {
            trn: "1000000".into(),
        },
        &teacher("1000000"),
        DEFAULT_DEADLINE,
    );
    assert_eq!(
        record.get_teacher(as_teacher).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    h.shutdown().await;
}

/// What a server tells through one version of the reflection API (v1 and v1alpha are distinct
/// generated types of the same shape), asked as `buf curl --list-methods` asks: the services it
/// lists; then the file declaring each of them and each of `symbols`, and every file those
/// import, by name. Returns the services listed and what did not resolve.
macro_rules! reflection_of {
    ($version:ident, $addr:expr, $symbols:expr) => {{
        use $version::server_reflection_request::MessageRequest;
        use $version::server_reflection_response::MessageResponse;
        let mut client =
            $version::server_reflection_client::ServerReflectionClient::new(channel(&$addr));
        let mut ask = async |message: MessageRequest| {
            let request = $version::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(message),
            };
            client
                .server_reflection_info(tokio_stream::iter([request]))
                .await
                .unwrap()
                .into_inner()
                .message()
                .await
                .unwrap()
                .unwrap()
                .message_response
                .unwrap()
        };
        let listed: Vec<String> = match ask(MessageRequest::ListServices(String::new())).await {
            MessageResponse::ListServicesResponse(list) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("unexpected reflection answer {other:?}"),
        };
        let mut unresolved = Vec::new();
        let mut wanted: Vec<MessageRequest> = listed
            .iter()
            .cloned()
            .chain($symbols.iter().map(|s: &&str| (*s).to_owned()))
            .map(MessageRequest::FileContainingSymbol)
            .collect();
        let mut seen = std::collections::HashSet::new();
        while let Some(request) = wanted.pop() {
            let asked = format!("{request:?}");
            match ask(request).await {
                MessageResponse::FileDescriptorResponse(files)
                    if !files.file_descriptor_proto.is_empty() =>
                {
                    for bytes in files.file_descriptor_proto {
                        let file = <prost_types::FileDescriptorProto as prost::Message>::decode(
                            bytes.as_slice(),
                        )
                        .unwrap();
                        seen.insert(file.name().to_owned());
                        for import in file.dependency {
                            if seen.insert(import.clone()) {
                                wanted.push(MessageRequest::FileByFilename(import));
                            }
                        }
                    }
                }
                other => unresolved.push(format!("{asked}: {other:?}")),
            }
        }
        (listed, unresolved)
    }};
}

/// The error types a client must decode from reflection alone.
const DETAIL_TYPES: [&str; 4] = [
    "google.rpc.Status",
    "google.rpc.BadRequest",
    "google.rpc.ErrorInfo",
    "google.rpc.RetryInfo",
];

fn channel(addr: impl std::fmt::Display) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy()
}

#[tokio::test]
async fn reflection_describes_every_service_and_the_error_details_on_v1_and_v1alpha() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    let gateway = h.addr(names::GATEWAY);
    for (listed, unresolved) in [
        reflection_of!(v1, gateway, DETAIL_TYPES),
        reflection_of!(v1alpha, gateway, DETAIL_TYPES),
    ] {
        for service in [
            "dqt.portal.v1.Authentication",
            "dqt.portal.v1.TeacherPortal",
            "dqt.portal.v1.EmployerAccess",
            "dqt.portal.v1.Administration",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            assert!(
                listed.iter().any(|s| s == service),
                "{service} listed: {listed:?}"
            );
        }
        assert!(
            !listed.iter().any(|s| s.starts_with("dqt.record")),
            "internal APIs stay internal"
        );
        assert_eq!(unresolved, Vec::<String>::new(), "everything resolves");
    }
    for (component, service) in [
        (names::RECORD, "dqt.record.v1.RecordService"),
        (names::IDENTITY, "dqt.identity.v1.IdentityService"),
        (names::EMPLOYMENT, "dqt.employment.v1.EmploymentService"),
        (names::DOCUMENT, "dqt.document.v1.DocumentService"),
        (
            names::NOTIFICATION,
            "dqt.notification.v1.NotificationService",
        ),
    ] {
        let (listed, unresolved) = reflection_of!(v1alpha, h.addr(component), DETAIL_TYPES);
        assert!(
            listed.iter().any(|s| s == service),
            "{service} listed: {listed:?}"
        );
        assert_eq!(unresolved, Vec::<String>::new(), "everything resolves");
    }
    h.shutdown().await;
}
