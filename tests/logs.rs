//! Personal data and secrets never reach the logs: `portal up` runs as a process with debug
//! logging, every flow that handles them runs against it, and no name, date of birth, NINO,
//! email, phone number, token or secret may appear in what it wrote.

mod support;

use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_client::AdministrationClient;
use dqt_proto::dqt::portal::v1::authentication_client::AuthenticationClient;
use dqt_proto::dqt::portal::v1::teacher_portal_client::TeacherPortalClient;
use prost_types::FieldMask;
use support::{PortalProcess, authed};

const ADMIN_SECRET: &str = "log-test-admin-secret-48151623";

#[tokio::test]
async fn no_personal_data_or_secret_is_logged() {
    let mut portal = PortalProcess::start(
        &["up"],
        &[
            ("RUST_LOG", "debug"),
            ("PORTAL_ADMIN_CLIENT_SECRET", ADMIN_SECRET),
        ],
    );
    let channel = portal.channel();
    let mut auth = AuthenticationClient::new(channel.clone());
    let mut admin = AdministrationClient::new(channel.clone());
    let mut portal_api = TeacherPortalClient::new(channel);

    let admin_token = auth
        .sign_in_client(pb::SignInClientRequest {
            client_id: "admin".into(),
            client_secret: ADMIN_SECRET.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    let created = admin
        .create_teacher(authed(
            pb::CreateTeacherRequest {
                first_name: "Quillonia".into(),
                middle_name: "Brigantia".into(),
                last_name: "Zzyzxowska".into(),
                date_of_birth: "1977-07-17".into(),
                national_insurance_number: "JC741852D".into(),
                contact_details: Some(pb::ContactDetails {
                    email: "quillonia.z@example.org".into(),
                    phone: "07700 900461".into(),
                    address_line1: "17 Larkspur Mews".into(),
                    town: "Kettlewell".into(),
                    postcode: "BD23 5QZ".into(),
                    ..Default::default()
                }),
            },
            &admin_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let sign_in = |surname: &str, date_of_birth: &str| pb::SignInTeacherRequest {
        trn: created.trn.clone(),
        surname: surname.into(),
        forename: "Quillonia".into(),
        date_of_birth: date_of_birth.into(),
        national_insurance_number: "jc 74 18 52 d".into(),
        ..Default::default()
    };
    // A wrong surname, a malformed date, then the right details.
    auth.sign_in_teacher(sign_in("Xanthoudakis", "1977-07-17"))
        .await
        .unwrap_err();
    auth.sign_in_teacher(sign_in("Zzyzxowska", "1977-17-07"))
        .await
        .unwrap_err();
    let teacher_token = auth
        .sign_in_teacher(sign_in("zzyzxowska", "1977-07-17"))
        .await
        .unwrap()
        .into_inner()
        .token;
    portal_api
        .get_my_record(authed(pb::GetMyRecordRequest {}, &teacher_token))
        .await
        .unwrap();
    admin
        .update_teacher(authed(
            pb::UpdateTeacherRequest {
                trn: created.trn.clone(),
                teacher: Some(pb::TeacherRecord {
                    last_name: "Vexbridge".into(),
                    date_of_birth: "1800-01-01".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["last_name".into(), "date_of_birth".into()],
                }),
            },
            &admin_token,
        ))
        .await
        .unwrap_err();
    let client_secret = admin
        .create_client(authed(
            pb::CreateClientRequest {
                client_id: "log-test-employer".into(),
                display_name: "Larkspur Academy Trust".into(),
                roles: vec!["employer:check".into()],
            },
            &admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .client_secret;
    let captcha = auth
        .create_captcha(pb::CreateCaptchaRequest {})
        .await
        .unwrap()
        .into_inner();
    portal_api
        .get_my_record(authed(pb::GetMyRecordRequest {}, "made-up-token-31337"))
        .await
        .unwrap_err();
    auth.sign_out(authed(pb::SignOutRequest {}, &teacher_token))
        .await
        .unwrap();

    portal.terminate();
    assert!(
        portal
            .wait(std::time::Duration::from_secs(10))
            .await
            .success()
    );
    let output = portal.output().join("\n");
    assert!(output.contains("teacher signed in"), "the run was logged");
    for secret in [
        "Quillonia",
        "Brigantia",
        "Zzyzxowska",
        "zzyzxowska",
        "Xanthoudakis",
        "Vexbridge",
        "1977-07-17",
        "1977-17-07",
        "JC741852D",
        "jc 74 18 52 d",
        "quillonia.z@example.org",
        "07700 900461",
        "Larkspur Mews",
        "BD23 5QZ",
        ADMIN_SECRET,
        &admin_token,
        &teacher_token,
        &client_secret,
        &captcha.captcha_id,
        "made-up-token-31337",
    ] {
        assert!(
            !output.contains(secret),
            "the logs hold a value they must not"
        );
    }
}
