//! Personal data and secrets never reach the logs: `portal up` runs as a process with debug
//! logging, every flow that handles them runs against it, and no name, date of birth, NINO,
//! email, phone number, token, one-time code or secret may appear in what it wrote.

use crate::support::mail::Mailbox;
use crate::support::{PortalProcess, authed};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_client::AdministrationClient;
use dqt_proto::dqt::portal::v1::authentication_client::AuthenticationClient;
use dqt_proto::dqt::portal::v1::teacher_portal_client::TeacherPortalClient;
use prost_types::FieldMask;

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
    // Step-up by the code emailed to the record's address, then a change of email confirmed by
    // the code sent to the new one.
    let outbox = Mailbox::outbox(&portal.data_dir);
    let verification = auth
        .start_verification(authed(pb::StartVerificationRequest {}, &teacher_token))
        .await
        .unwrap()
        .into_inner();
    let step_up_code = outbox.latest("quillonia.z@example.org", 1).await.code();
    let teacher_token = auth
        .complete_verification(authed(
            pb::CompleteVerificationRequest {
                verification_id: verification.verification_id.clone(),
                code: step_up_code.clone(),
            },
            &teacher_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .token;
    portal_api
        .update_my_contact_details(authed(
            pb::UpdateMyContactDetailsRequest {
                contact_details: Some(pb::ContactDetails {
                    email: "zzyzxowska.q@example.net".into(),
                    ..Default::default()
                }),
                update_mask: None,
            },
            &teacher_token,
        ))
        .await
        .unwrap();
    let email_code = outbox.latest("zzyzxowska.q@example.net", 1).await.code();
    portal_api
        .confirm_my_email(authed(
            pb::ConfirmMyEmailRequest {
                code: email_code.clone(),
            },
            &teacher_token,
        ))
        .await
        .unwrap();
    outbox.latest("quillonia.z@example.org", 2).await;
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
    // Lost-TRN searches: one that finds the record (its TRN emailed to another address), one
    // that becomes a case, listed and resolved by staff.
    let search = |first: &str, last: &str, email: &str| pb::FindMyTrnRequest {
        first_name: first.into(),
        last_name: last.into(),
        previous_last_name: "Ormsgrave".into(),
        date_of_birth: "1977-07-17".into(),
        national_insurance_number: "jc 74 18 52 d".into(),
        email: email.into(),
        ..Default::default()
    };
    auth.find_my_trn(search("Quillonia", "Zzyzxowska", "quill.found@example.com"))
        .await
        .unwrap();
    auth.find_my_trn(search("Oberwaltz", "Yarrowgate", "oberwaltz@example.com"))
        .await
        .unwrap();
    outbox.latest("quill.found@example.com", 1).await;
    outbox.latest("oberwaltz@example.com", 1).await;
    let case = admin
        .list_trn_cases(authed(pb::ListTrnCasesRequest::default(), &admin_token))
        .await
        .unwrap()
        .into_inner()
        .cases
        .remove(0);
    admin
        .resolve_trn_case(authed(
            pb::ResolveTrnCaseRequest {
                id: case.id,
                resolution: Some(pb::resolve_trn_case_request::Resolution::NoMatch(true)),
            },
            &admin_token,
        ))
        .await
        .unwrap();
    outbox.latest("oberwaltz@example.com", 2).await;
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
    assert!(output.contains("email finished"), "the emails were logged");
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
        "zzyzxowska.q@example.net",
        "quill.found@example.com",
        "oberwaltz@example.com",
        "Oberwaltz",
        "Yarrowgate",
        "Ormsgrave",
        &verification.verification_id,
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
    // Six digits can turn up by chance in a timestamp or a duration: a code counts as logged
    // when it stands on its own, outside the lines' timestamps.
    let words: Vec<&str> = output
        .lines()
        .flat_map(|line| line.split(|c: char| !c.is_ascii_digit() && c != '.'))
        .collect();
    for code in [&step_up_code, &email_code] {
        assert!(
            !words.iter().any(|word| word == code),
            "the logs hold a one-time code"
        );
    }
}
