//! The walking skeleton's slice through every layer, over real gRPC: admin bootstrap, client
//! sign-in, CreateTeacher, teacher sign-in, GetMyRecord; on embedded stores and on PostgreSQL +
//! Redis.

use crate::support;
use std::time::Duration;

use crate::support::{Harness, Stores, authed, bad_fields, start};
use dqt_proto::dqt::portal::v1 as pb;
use tonic::Code;

fn new_teacher() -> pb::CreateTeacherRequest {
    pb::CreateTeacherRequest {
        first_name: "Zoë".into(),
        middle_name: "Anne".into(),
        last_name: "O'Súilleabháin".into(),
        date_of_birth: "1985-03-14".into(),
        national_insurance_number: "ab 12 34 56 c".into(),
        contact_details: Some(pb::ContactDetails {
            email: "teacher@example.org".into(),
            ..Default::default()
        }),
    }
}

fn sign_in(
    trn: &str,
    surname: &str,
    forename: &str,
    dob: &str,
    nino: &str,
) -> pb::SignInTeacherRequest {
    pb::SignInTeacherRequest {
        trn: trn.into(),
        surname: surname.into(),
        forename: forename.into(),
        date_of_birth: dob.into(),
        national_insurance_number: nino.into(),
        ..Default::default()
    }
}

/// The slice tries several wrong details in a row; captchas are another test's subject.
fn no_captcha(config: &mut portal::Config) {
    config.identity.sign_in.captcha = portal_identity::throttle::CaptchaMode::Off;
}

async fn slice(h: &Harness) {
    let admin_token = h.sign_in_admin().await;
    let created = h.create_teacher(&admin_token, new_teacher()).await;
    assert_eq!(created.trn.len(), 7);
    assert!(created.trn.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(created.first_name, "Zoë");
    assert_eq!(created.national_insurance_number, "AB123456C");
    assert_eq!(created.date_of_birth, "1985-03-14");

    // A second teacher gets the next TRN: allocation is sequential and never reuses one.
    let second = h.create_teacher(&admin_token, new_teacher()).await;
    assert_eq!(
        second.trn.parse::<u32>().unwrap(),
        created.trn.parse::<u32>().unwrap() + 1
    );

    // Names compare case-insensitively, with curly apostrophes and outer spaces ignored.
    let signed_in = h
        .auth()
        .sign_in_teacher(sign_in(
            &created.trn,
            " o’súilleabháin ",
            "ZOË",
            "1985-03-14",
            "AB123456C",
        ))
        .await
        .expect("teacher signs in")
        .into_inner();
    assert_eq!(signed_in.token.len(), 43, "256 bits in base64url");
    let principal = signed_in.principal.unwrap();
    assert_eq!(principal.kind(), pb::PrincipalKind::Teacher);
    assert_eq!(principal.trn, created.trn);
    assert!(signed_in.expire_time.is_some());

    let mut request = authed(pb::GetMyRecordRequest {}, &signed_in.token);
    request
        .metadata_mut()
        .insert("x-request-id", "test-request-42".parse().unwrap());
    let response = h.portal().get_my_record(request).await.expect("own record");
    assert_eq!(
        response.metadata().get("x-request-id").unwrap(),
        "test-request-42"
    );
    let record = response.into_inner();
    assert_eq!(record.trn, created.trn);
    assert_eq!(record.last_name, "O'Súilleabháin");
    // The seed's sign-in proves knowledge of the details only: the contact details are masked.
    assert_eq!(principal.assurance_level(), pb::AssuranceLevel::Knowledge);
    assert!(record.masked);
    assert_eq!(record.contact_details.unwrap().email, "t***@example.org");

    // Every mismatch gets the same answer.
    let wrong = [
        sign_in(&created.trn, "Smith", "Zoë", "1985-03-14", ""),
        sign_in(&created.trn, "O'Súilleabháin", "Zoe", "1985-03-14", ""),
        sign_in(&created.trn, "O'Súilleabháin", "Zoë", "1985-03-15", ""),
        sign_in(
            &created.trn,
            "O'Súilleabháin",
            "Zoë",
            "1985-03-14",
            "AB123457C",
        ),
        sign_in("9999998", "O'Súilleabháin", "Zoë", "1985-03-14", ""),
    ];
    let mut messages = Vec::new();
    for details in wrong {
        let status = h.auth().sign_in_teacher(details).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        messages.push(status.message().to_owned());
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "one message whatever was wrong");
    assert!(!messages[0].contains("Zo") && !messages[0].contains(&created.trn));

    // A teacher's session does not reach the Administration API; an admin's reaches it.
    let status = h
        .admin()
        .get_teacher(authed(
            pb::GetTeacherRequest {
                trn: created.trn.clone(),
            },
            &signed_in.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let internal = h
        .admin()
        .get_teacher(authed(
            pb::GetTeacherRequest {
                trn: created.trn.clone(),
            },
            &admin_token,
        ))
        .await
        .expect("admin reads the record")
        .into_inner();
    assert_eq!(internal.trn, created.trn);
    let status = h
        .admin()
        .get_teacher(authed(
            pb::GetTeacherRequest {
                trn: "9999998".into(),
            },
            &admin_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // A client session is not a teacher's.
    let status = h
        .portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &admin_token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // Sign-out ends the session.
    h.auth()
        .sign_out(authed(pb::SignOutRequest {}, &signed_in.token))
        .await
        .expect("signs out");
    let status = h
        .portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &signed_in.token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn slice_on_embedded_stores() {
    let h = start(Stores::Embedded, no_captcha).await.unwrap();
    slice(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn slice_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, no_captcha).await else {
        return;
    };
    slice(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn missing_made_up_malformed_and_expired_tokens_are_refused() {
    let h = start(Stores::Embedded, |config| {
        config.shared.session_idle_seconds = 1
    })
    .await
    .unwrap();
    let status = h
        .portal()
        .get_my_record(pb::GetMyRecordRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "missing");
    let status = h
        .portal()
        .get_my_record(authed(
            pb::GetMyRecordRequest {},
            "bWFkZS11cC10b2tlbi1tYWRlLXVwLXRva2VuLW1hZGUt",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "made up");
    let mut request = tonic::Request::new(pb::GetMyRecordRequest {});
    request
        .metadata_mut()
        .insert("authorization", "Basic YWRtaW46YWRtaW4=".parse().unwrap());
    let status = h.portal().get_my_record(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "not a bearer token");

    let admin_token = h.sign_in_admin().await;
    let created = h.create_teacher(&admin_token, new_teacher()).await;
    let token = h
        .auth()
        .sign_in_teacher(sign_in(
            &created.trn,
            "O'Súilleabháin",
            "Zoë",
            "1985-03-14",
            "",
        ))
        .await
        .unwrap()
        .into_inner()
        .token;
    h.portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &token))
        .await
        .expect("fresh session works");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let status = h
        .portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &token))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::Unauthenticated,
        "expired after the idle timeout"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn bad_input_names_each_field() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    let admin_token = h.sign_in_admin().await;
    let status = h
        .admin()
        .create_teacher(authed(
            pb::CreateTeacherRequest {
                first_name: " ".into(),
                last_name: "x".repeat(101),
                date_of_birth: "1985-02-30".into(),
                national_insurance_number: "GB123456A".into(),
                contact_details: None,
                ..Default::default()
            },
            &admin_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&status),
        [
            "first_name",
            "last_name",
            "date_of_birth",
            "national_insurance_number"
        ]
    );
    let status = h
        .auth()
        .sign_in_teacher(sign_in("12345", "a", "b", "1985-01-01", ""))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["trn"]);
    let status = h
        .admin()
        .create_client(authed(
            pb::CreateClientRequest {
                client_id: "Bad Id".into(),
                display_name: String::new(),
                roles: vec!["root".into()],
            },
            &admin_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["client_id", "display_name", "roles"]);
    h.shutdown().await;
}

#[tokio::test]
async fn created_clients_sign_in_with_their_roles_and_the_secret_shown_once() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    let admin_token = h.sign_in_admin().await;
    let created = h
        .admin()
        .create_client(authed(
            pb::CreateClientRequest {
                client_id: "secure-access".into(),
                display_name: "Secure Access".into(),
                roles: vec!["employer:check".into()],
            },
            &admin_token,
        ))
        .await
        .expect("client created")
        .into_inner();
    let session = h
        .auth()
        .sign_in_client(pb::SignInClientRequest {
            client_id: created.client_id.clone(),
            client_secret: created.client_secret.clone(),
        })
        .await
        .expect("client signs in")
        .into_inner();
    let principal = session.principal.unwrap();
    assert_eq!(principal.kind(), pb::PrincipalKind::Client);
    assert_eq!(principal.roles, ["employer:check"]);
    let status = h
        .auth()
        .sign_in_client(pb::SignInClientRequest {
            client_id: created.client_id.clone(),
            client_secret: "wrong".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = h
        .admin()
        .create_client(authed(
            pb::CreateClientRequest {
                client_id: "secure-access".into(),
                display_name: "Again".into(),
                roles: vec!["employer:check".into()],
            },
            &admin_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    // An employer session may not create teachers.
    let status = h
        .admin()
        .create_teacher(authed(new_teacher(), &session.token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    h.shutdown().await;
}

#[tokio::test]
async fn calls_in_flight_when_shutdown_begins_still_finish() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    let mut auth = h.auth();
    // A client sign-in verifies an Argon2id hash: long enough to still be running when the
    // shutdown begins a moment after it is sent.
    let call = tokio::spawn(async move {
        auth.sign_in_client(pb::SignInClientRequest {
            client_id: "admin".into(),
            client_secret: support::ADMIN_SECRET.into(),
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stopped = tokio::spawn(h.shutdown());
    let answer = call.await.unwrap();
    assert!(answer.is_ok(), "the in-flight call finished: {answer:?}");
    stopped.await.unwrap();
}
