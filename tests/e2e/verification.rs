//! Who is really signed in. A session from the seed's details (the knowledge level) sees a
//! masked record and changes nothing until the teacher types the code emailed to the address
//! on the record; a new email address applies only once the code sent to it comes back, and
//! the old address is told; every Update changes only the fields it names (AIP-134). Codes
//! arrive through a real SMTP server (aiosmtpd) or, with none configured, as `.eml` files in
//! the outbox folder; on embedded stores and on PostgreSQL + Redis.

use crate::support;
use portal_common::Component as _;
use portal_common::component::names;
use std::time::{Duration, SystemTime};

use crate::support::{Harness, Stores, authed, bad_fields, start, start_with_smtp};
use dqt_proto::dqt::auth::v1::PendingVerification;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::teacher_portal_client::TeacherPortalClient;
use portal_common::VerificationMode;
use prost::Message as _;
use prost_types::FieldMask;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

const EMAIL: &str = "quillonia.z@example.org";
const NEW_EMAIL: &str = "q.zzyzxowska@school.example.org";

fn teacher_with_email() -> pb::CreateTeacherRequest {
    pb::CreateTeacherRequest {
        first_name: "Quillonia".into(),
        last_name: "Zzyzxowska".into(),
        date_of_birth: "1977-07-17".into(),
        national_insurance_number: "JC741852D".into(),
        contact_details: Some(pb::ContactDetails {
            email: EMAIL.into(),
            phone: "07700 900461".into(),
            address_line1: "17 Larkspur Mews".into(),
            address_line2: "Upper Wharfedale".into(),
            town: "Kettlewell".into(),
            postcode: "BD23 5QZ".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn reason(status: &Status) -> Option<String> {
    status.get_details_error_info().map(|info| info.reason)
}

fn assert_reason(status: &Status, code: Code, expected: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(status).as_deref(), Some(expected), "{status:?}");
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

/// A code other than `code`.
fn not(code: &str) -> String {
    if code == "000000" { "111111" } else { "000000" }.to_owned()
}

async fn my_record(portal: &mut TeacherPortalClient<Channel>, token: &str) -> pb::TeacherRecord {
    portal
        .get_my_record(authed(pb::GetMyRecordRequest {}, token))
        .await
        .expect("the record")
        .into_inner()
}

async fn start_verification(h: &Harness, token: &str) -> Result<pb::Verification, Status> {
    h.auth()
        .start_verification(authed(pb::StartVerificationRequest {}, token))
        .await
        .map(tonic::Response::into_inner)
}

async fn complete(
    h: &Harness,
    token: &str,
    verification_id: &str,
    code: &str,
) -> Result<pb::SignInResponse, Status> {
    h.auth()
        .complete_verification(authed(
            pb::CompleteVerificationRequest {
                verification_id: verification_id.into(),
                code: code.into(),
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The knowledge level sees a masked record and changes nothing; the code from the email
/// raises it, in a new session that ends the old one; then everything is open.
async fn the_code_from_the_email_opens_the_whole_record(h: Harness) {
    let admin = h.sign_in_admin().await;
    let record = h.create_teacher(&admin, teacher_with_email()).await;
    let signed_in = h.sign_in_teacher(&record).await;
    assert_eq!(
        signed_in.principal.as_ref().unwrap().assurance_level(),
        pb::AssuranceLevel::Knowledge
    );
    let token = signed_in.token;
    let mut portal = h.portal();

    let masked = my_record(&mut portal, &token).await;
    assert!(masked.masked);
    assert_eq!(masked.national_insurance_number, "******52D");
    let contact = masked.contact_details.clone().unwrap();
    assert_eq!(contact.email, "q***@example.org");
    assert_eq!(contact.phone, "********461");
    assert_eq!(
        (
            contact.address_line1.as_str(),
            contact.address_line2.as_str(),
            contact.town.as_str()
        ),
        ("", "", "")
    );
    assert_eq!(contact.postcode, "BD23");
    assert_eq!(
        masked.first_name, "Quillonia",
        "the names are the teacher's own"
    );
    let bytes = masked.encode_to_vec();
    for full in [
        "JC741852D",
        "741852",
        EMAIL,
        "quillonia.z",
        "07700",
        "900461",
        "Larkspur",
        "Wharfedale",
        "Kettlewell",
        "5QZ",
    ] {
        assert!(
            !bytes.windows(full.len()).any(|w| w == full.as_bytes()),
            "a masked detail is in the response"
        );
    }
    // Nothing changes at this level; the documents are open.
    let refused = portal
        .update_my_contact_details(authed(
            pb::UpdateMyContactDetailsRequest {
                contact_details: Some(pb::ContactDetails {
                    town: "Leeds".into(),
                    ..Default::default()
                }),
                update_mask: None,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::PermissionDenied, "VERIFICATION_REQUIRED");
    portal
        .list_my_documents(authed(pb::ListMyDocumentsRequest {}, &token))
        .await
        .unwrap();

    let verification = start_verification(&h, &token).await.unwrap();
    assert_eq!(verification.email_hint, "q***@example.org");
    let expires = SystemTime::try_from(verification.expire_time.unwrap()).unwrap();
    let lifetime = expires.duration_since(SystemTime::now()).unwrap();
    assert!(lifetime > Duration::from_secs(590) && lifetime <= Duration::from_secs(600));
    let email = h.mailbox().latest(EMAIL, 1).await;
    assert!(email.subject.contains("security code"), "{}", email.subject);
    for personal in ["Quillonia", "Zzyzxowska", "JC741852D", "1977", &record.trn] {
        assert!(
            !email.raw.contains(personal),
            "the code email holds only the code"
        );
    }
    let code = email.code();

    let wrong = complete(&h, &token, &verification.verification_id, &not(&code))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&wrong), ["code"]);
    let verified = complete(&h, &token, &verification.verification_id, &code)
        .await
        .unwrap();
    assert_eq!(
        verified.principal.as_ref().unwrap().assurance_level(),
        pb::AssuranceLevel::Verified
    );
    assert_ne!(verified.token, token, "a new session on a change of level");
    assert_eq!(
        verified.expire_time, signed_in.expire_time,
        "no longer than the sign-in gave"
    );
    let old = portal
        .get_my_record(authed(pb::GetMyRecordRequest {}, &token))
        .await
        .unwrap_err();
    assert_eq!(old.code(), Code::Unauthenticated, "the old session ended");
    let reused = complete(&h, &verified.token, &verification.verification_id, &code)
        .await
        .unwrap_err();
    assert_reason(&reused, Code::FailedPrecondition, "VERIFICATION_EXPIRED");

    let whole = my_record(&mut portal, &verified.token).await;
    assert!(!whole.masked);
    assert_eq!(whole.national_insurance_number, "JC741852D");
    assert_eq!(
        whole.contact_details.as_ref().unwrap().town,
        "Kettlewell",
        "the address, whole"
    );
    let updated = portal
        .update_my_contact_details(authed(
            pb::UpdateMyContactDetailsRequest {
                contact_details: Some(pb::ContactDetails {
                    town: "Leeds".into(),
                    ..Default::default()
                }),
                update_mask: None,
            },
            &verified.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.town, "Leeds");
    assert_eq!(updated.phone, "07700 900461", "a field not given is kept");
    assert_eq!(updated.email, EMAIL);
    portal
        .list_my_record_checks(authed(pb::ListMyRecordChecksRequest {}, &verified.token))
        .await
        .unwrap();
    h.shutdown().await;
}

#[tokio::test]
async fn the_emailed_code_opens_the_record_on_embedded_stores_through_the_outbox() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    the_code_from_the_email_opens_the_whole_record(h).await;
}

#[tokio::test]
async fn the_emailed_code_opens_the_record_on_postgres_and_redis_through_a_mail_server() {
    let Some(h) = start_with_smtp(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    the_code_from_the_email_opens_the_whole_record(h).await;
}

/// Five wrong codes void a verification; a verification is only for its session, and only
/// until it expires; three may be started for a TRN in an hour.
async fn codes_are_limited(h: Harness) {
    let admin = h.sign_in_admin().await;
    let record = h.create_teacher(&admin, teacher_with_email()).await;
    let token = h.sign_in_teacher(&record).await.token;

    let first = start_verification(&h, &token).await.unwrap();
    let code = h.mailbox().latest(EMAIL, 1).await.code();
    for _ in 0..5 {
        let wrong = complete(&h, &token, &first.verification_id, &not(&code))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&wrong), ["code"]);
    }
    let void = complete(&h, &token, &first.verification_id, &code)
        .await
        .unwrap_err();
    assert_reason(&void, Code::FailedPrecondition, "VERIFICATION_EXPIRED");

    // Another session of the same teacher cannot complete this session's verification.
    let second = start_verification(&h, &token).await.unwrap();
    let code = h.mailbox().latest(EMAIL, 2).await.code();
    let other_session = h.sign_in_teacher(&record).await.token;
    let elsewhere = complete(&h, &other_session, &second.verification_id, &code)
        .await
        .unwrap_err();
    assert_reason(&elsewhere, Code::FailedPrecondition, "VERIFICATION_EXPIRED");

    // Past its expiry, the right code no longer works.
    let third = start_verification(&h, &token).await.unwrap();
    let code = h.mailbox().latest(EMAIL, 3).await.code();
    let store = h.stack.as_ref().unwrap().sessions().store().clone();
    let key = format!("dqt:verification:{}", third.verification_id);
    let mut pending =
        PendingVerification::decode(store.get(&key).await.unwrap().unwrap().as_slice()).unwrap();
    pending.expire_time = Some((SystemTime::now() - Duration::from_secs(1)).into());
    store
        .put(&key, pending.encode_to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    let expired = complete(&h, &token, &third.verification_id, &code)
        .await
        .unwrap_err();
    assert_reason(&expired, Code::FailedPrecondition, "VERIFICATION_EXPIRED");

    // A fourth within the hour is refused, and says when to try again.
    let fourth = start_verification(&h, &token).await.unwrap_err();
    assert_eq!(fourth.code(), Code::ResourceExhausted);
    let retry = fourth
        .get_details_retry_info()
        .unwrap()
        .retry_delay
        .unwrap();
    assert!(retry > Duration::from_secs(50 * 60) && retry <= Duration::from_secs(3600));
    assert_eq!(
        h.mailbox().to(EMAIL).len(),
        3,
        "no code sent for a refused start"
    );

    // Malformed input names its field; an id that was never given is simply expired.
    let empty = complete(&h, &token, "", "123456").await.unwrap_err();
    assert_eq!(bad_fields(&empty), ["verification_id"]);
    let letters = complete(&h, &token, &second.verification_id, "12345x")
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&letters), ["code"]);
    let unknown = complete(&h, &token, "made-up", "123456").await.unwrap_err();
    assert_reason(&unknown, Code::FailedPrecondition, "VERIFICATION_EXPIRED");
    h.shutdown().await;
}

#[tokio::test]
async fn wrong_expired_and_foreign_codes_fail_and_starts_are_limited_on_embedded_stores() {
    codes_are_limited(start(Stores::Embedded, |_| {}).await.unwrap()).await;
}

#[tokio::test]
async fn wrong_expired_and_foreign_codes_fail_and_starts_are_limited_on_postgres_and_redis() {
    let Some(h) = start_with_smtp(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    codes_are_limited(h).await;
}

#[tokio::test]
async fn a_teacher_without_an_email_cannot_verify_and_verification_can_be_turned_off() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    let admin = h.sign_in_admin().await;
    let mut request = teacher_with_email();
    request.contact_details.as_mut().unwrap().email = String::new();
    let record = h.create_teacher(&admin, request).await;
    let token = h.sign_in_teacher(&record).await.token;
    let refused = start_verification(&h, &token).await.unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "NO_EMAIL_ON_RECORD");
    assert!(h.mailbox().all().is_empty());
    h.shutdown().await;

    // Off: a session from the seed's details may do everything, as before levels existed.
    let h = start(Stores::Embedded, |config| {
        config.shared.verification = VerificationMode::Off;
    })
    .await
    .unwrap();
    let admin = h.sign_in_admin().await;
    let record = h.create_teacher(&admin, teacher_with_email()).await;
    let token = h.sign_in_teacher(&record).await.token;
    let mut portal = h.portal();
    let whole = my_record(&mut portal, &token).await;
    assert!(!whole.masked);
    assert_eq!(whole.national_insurance_number, "JC741852D");
    let updated = portal
        .update_my_contact_details(authed(
            pb::UpdateMyContactDetailsRequest {
                contact_details: Some(pb::ContactDetails {
                    phone: "0113 496 0000".into(),
                    ..Default::default()
                }),
                update_mask: None,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.phone, "0113 496 0000");
    h.shutdown().await;
}

/// A new email waits for the code sent to it; other fields change at once; the right code
/// applies it and the old address is told; removing the email is refused; three changes an
/// hour; an expired change's code does not work.
async fn a_new_email_needs_the_code_sent_to_it(h: Harness) {
    let admin = h.sign_in_admin().await;
    let record = h.create_teacher(&admin, teacher_with_email()).await;
    let token = h.verified_teacher(&record).await;
    let mut portal = h.portal();
    let change = |contact: pb::ContactDetails, paths: Option<FieldMask>| {
        authed(
            pb::UpdateMyContactDetailsRequest {
                contact_details: Some(contact),
                update_mask: paths,
            },
            &token,
        )
    };

    let waiting = portal
        .update_my_contact_details(change(
            pb::ContactDetails {
                email: NEW_EMAIL.into(),
                town: "Skipton".into(),
                ..Default::default()
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(waiting.email, EMAIL, "not changed until confirmed");
    assert_eq!(waiting.pending_email, NEW_EMAIL);
    assert_eq!(waiting.town, "Skipton", "other fields change at once");
    assert_eq!(waiting.phone, "07700 900461", "fields not given are kept");
    assert_eq!(waiting.postcode, "BD23 5QZ");
    let contact = my_record(&mut portal, &token)
        .await
        .contact_details
        .unwrap();
    assert_eq!(contact.email, EMAIL);

    let code_email = h.mailbox().latest(NEW_EMAIL, 1).await;
    assert!(code_email.subject.contains("Confirm your new email"));
    let code = code_email.code();
    let confirm = |code: &str| {
        authed(
            pb::ConfirmMyEmailRequest {
                code: code.to_owned(),
            },
            &token,
        )
    };
    let wrong = portal
        .confirm_my_email(confirm(&not(&code)))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&wrong), ["code"]);
    let confirmed = portal
        .confirm_my_email(confirm(&code))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(confirmed.email, NEW_EMAIL);
    assert_eq!(confirmed.pending_email, "");
    assert_eq!(confirmed.town, "Skipton");
    let notices: Vec<_> = h
        .mailbox()
        .wait_for(EMAIL, 2, Duration::from_secs(20))
        .await
        .into_iter()
        .filter(|e| e.subject.contains("has changed"))
        .collect();
    assert_eq!(notices.len(), 1, "the old address is told once");
    assert!(
        !notices[0].raw.contains(NEW_EMAIL),
        "without the new address"
    );
    let again = portal.confirm_my_email(confirm(&code)).await.unwrap_err();
    assert_reason(&again, Code::FailedPrecondition, "VERIFICATION_EXPIRED");
    let contact = my_record(&mut portal, &token)
        .await
        .contact_details
        .unwrap();
    assert_eq!(contact.email, NEW_EMAIL);

    let removed = portal
        .update_my_contact_details(change(pb::ContactDetails::default(), mask(&["email"])))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&removed), ["contact_details.email"]);

    // A change whose code has expired cannot be confirmed.
    portal
        .update_my_contact_details(change(
            pb::ContactDetails {
                email: EMAIL.into(),
                ..Default::default()
            },
            mask(&["email"]),
        ))
        .await
        .unwrap();
    let code = h.mailbox().latest(EMAIL, 3).await.code();
    expire_email_changes(&h).await;
    let late = portal.confirm_my_email(confirm(&code)).await.unwrap_err();
    assert_reason(&late, Code::FailedPrecondition, "VERIFICATION_EXPIRED");
    // The third change of the hour is taken; a fourth is refused before anything is sent.
    portal
        .update_my_contact_details(change(
            pb::ContactDetails {
                email: EMAIL.into(),
                ..Default::default()
            },
            None,
        ))
        .await
        .unwrap();
    h.mailbox().latest(EMAIL, 4).await;
    let fourth = portal
        .update_my_contact_details(change(
            pb::ContactDetails {
                email: EMAIL.into(),
                phone: "0113 496 0000".into(),
                ..Default::default()
            },
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(fourth.code(), Code::ResourceExhausted);
    assert!(fourth.get_details_retry_info().is_some());
    let contact = my_record(&mut portal, &token)
        .await
        .contact_details
        .unwrap();
    assert_eq!(
        contact.phone, "07700 900461",
        "a refused change changes nothing"
    );
    h.shutdown().await;
}

/// Moves every waiting email change's expiry into the past, in the record database.
async fn expire_email_changes(h: &Harness) {
    use portal_record::store::entities::email_change;
    use sea_orm::EntityTrait as _;
    use sea_orm::sea_query::Expr;
    let db = portal_common::db::connect(
        &h.config.shared.databases,
        h.config.record.database().unwrap(),
    )
    .await
    .unwrap();
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    email_change::Entity::update_many()
        .col_expr(email_change::Column::ExpiresAt, Expr::value(past))
        .exec(&db)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_new_email_applies_with_its_code_and_the_old_one_is_told_on_embedded_stores() {
    a_new_email_needs_the_code_sent_to_it(start(Stores::Embedded, |_| {}).await.unwrap()).await;
}

#[tokio::test]
async fn a_new_email_applies_with_its_code_and_the_old_one_is_told_on_postgres_and_redis() {
    let Some(h) = start_with_smtp(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    a_new_email_needs_the_code_sent_to_it(h).await;
}

/// Every Update RPC: without a mask only the fields given change, with `*` all of them, and
/// a field the caller did not name is never blanked.
#[tokio::test]
async fn every_update_changes_only_the_fields_it_names() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    let admin = h.sign_in_admin().await;
    let record = h.create_teacher(&admin, teacher_with_email()).await;
    let trn = record.trn.clone();
    let update_teacher = |teacher: pb::TeacherRecord, update_mask: Option<FieldMask>| {
        authed(
            pb::UpdateTeacherRequest {
                trn: trn.clone(),
                teacher: Some(teacher),
                update_mask,
            },
            &admin,
        )
    };
    let updated = h
        .admin()
        .update_teacher(update_teacher(
            pb::TeacherRecord {
                last_name: "Kelly".into(),
                contact_details: Some(pb::ContactDetails {
                    town: "Settle".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.last_name, "Kelly");
    assert_eq!(updated.first_name, "Quillonia");
    assert_eq!(updated.national_insurance_number, "JC741852D");
    let contact = updated.contact_details.unwrap();
    assert_eq!(
        (contact.town.as_str(), contact.email.as_str()),
        ("Settle", EMAIL)
    );
    assert_eq!(contact.phone, "07700 900461");
    let nothing = h
        .admin()
        .update_teacher(update_teacher(pb::TeacherRecord::default(), None))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&nothing), ["update_mask"]);
    let replaced = h
        .admin()
        .update_teacher(update_teacher(
            pb::TeacherRecord {
                first_name: "Quill".into(),
                last_name: "Kelly".into(),
                date_of_birth: "1977-07-17".into(),
                status: pb::PersonStatus::Active.into(),
                contact_details: Some(pb::ContactDetails {
                    email: EMAIL.into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            mask(&["*"]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replaced.first_name, "Quill");
    assert_eq!(
        replaced.national_insurance_number, "",
        "`*` replaces every field"
    );
    assert_eq!(replaced.contact_details.as_ref().unwrap().phone, "");

    let token = h.verified_teacher(&replaced).await;
    let mut portal = h.portal();
    let contact = |contact: pb::ContactDetails, update_mask: Option<FieldMask>| {
        authed(
            pb::UpdateMyContactDetailsRequest {
                contact_details: Some(contact),
                update_mask,
            },
            &token,
        )
    };
    portal
        .update_my_contact_details(contact(
            pb::ContactDetails {
                phone: "0113 496 0000".into(),
                postcode: "ls1 4ap".into(),
                town: "Leeds".into(),
                ..Default::default()
            },
            None,
        ))
        .await
        .unwrap();
    let only_phone = portal
        .update_my_contact_details(contact(
            pb::ContactDetails {
                phone: "07700 900461".into(),
                ..Default::default()
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(only_phone.phone, "07700 900461");
    assert_eq!(
        (only_phone.town.as_str(), only_phone.postcode.as_str()),
        ("Leeds", "LS1 4AP"),
        "not given, kept"
    );
    assert_eq!(only_phone.email, EMAIL);
    let everything = portal
        .update_my_contact_details(contact(
            pb::ContactDetails {
                email: EMAIL.into(),
                town: "York".into(),
                ..Default::default()
            },
            mask(&["*"]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(everything.town, "York");
    assert_eq!(
        (everything.phone.as_str(), everything.postcode.as_str()),
        ("", "")
    );

    let created = portal
        .create_my_employment(authed(
            pb::CreateMyEmploymentRequest {
                employment: Some(pb::Employment {
                    establishment_name: "Kettlewell Primary School".into(),
                    urn: "123456".into(),
                    role: "Class teacher".into(),
                    employment_type: pb::EmploymentType::FullTime.into(),
                    start_date: "2015-09-01".into(),
                    ..Default::default()
                }),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let employment = |employment: pb::Employment, update_mask: Option<FieldMask>| {
        authed(
            pb::UpdateMyEmploymentRequest {
                employment: Some(employment),
                update_mask,
            },
            &token,
        )
    };
    let role_only = portal
        .update_my_employment(employment(
            pb::Employment {
                id: created.id.clone(),
                role: "Head of year".into(),
                ..Default::default()
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(role_only.role, "Head of year");
    assert_eq!(role_only.urn, "123456", "not given, kept");
    assert_eq!(role_only.establishment_name, created.establishment_name);
    let all = portal
        .update_my_employment(employment(
            pb::Employment {
                id: created.id.clone(),
                establishment_name: "Grassington Academy".into(),
                role: "Deputy head".into(),
                employment_type: pb::EmploymentType::PartTimeRegular.into(),
                start_date: "2016-01-04".into(),
                ..Default::default()
            },
            mask(&["*"]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.establishment_name, "Grassington Academy");
    assert_eq!(all.urn, "", "`*` replaces every field");
    let nothing = portal
        .update_my_employment(employment(
            pb::Employment {
                id: created.id,
                ..Default::default()
            },
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&nothing), ["update_mask"]);
    h.shutdown().await;
}

/// The mail server refuses connections; the code is acknowledged, kept and, once the server
/// is back, delivered by itself.
async fn mail_server_down_then_up(stores: Stores) {
    let Some(mut h) = start_with_smtp(stores, |config| {
        config.notification.email_retry_max_seconds = 1;
    })
    .await
    else {
        return;
    };
    let admin = h.sign_in_admin().await;
    let record = h.create_teacher(&admin, teacher_with_email()).await;
    let token = h.sign_in_teacher(&record).await.token;
    h.smtp.as_mut().unwrap().stop();
    let verification = start_verification(&h, &token).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(h.mailbox().all().is_empty(), "nothing delivered while down");
    h.smtp.as_mut().unwrap().resume().await;
    let code = h.mailbox().latest(EMAIL, 1).await.code();
    complete(&h, &token, &verification.verification_id, &code)
        .await
        .unwrap();
    h.shutdown().await;
}

#[tokio::test]
async fn email_acknowledged_while_the_mail_server_is_down_arrives_once_it_is_up_embedded() {
    mail_server_down_then_up(Stores::Embedded).await;
}

#[tokio::test]
async fn email_acknowledged_while_the_mail_server_is_down_arrives_once_it_is_up_postgres() {
    mail_server_down_then_up(Stores::PostgresRedis).await;
}

/// The notification service is killed (SIGKILL) after acknowledging a code it could not yet
/// deliver; started again, it delivers it: the message lived only in its database.
async fn a_killed_notification_service_delivers_after_restart(postgres: Option<String>) {
    let Some(redis) = support::reachable_redis().await else {
        return;
    };
    let Some(mut smtp) = support::mail::SmtpServer::start().await else {
        return;
    };
    let data_dir = std::env::temp_dir().join(format!("portal-kill-{:016x}", rand::random::<u64>()));
    let data = data_dir.display().to_string();
    let url = smtp.url();
    let env = [
        ("PORTAL_SMTP_URL", url.as_str()),
        ("PORTAL_EMAIL_RETRY_MAX_SECONDS", "1"),
        // The embedded databases outlive the process that is killed.
        ("PORTAL_DATA_DIR", data.as_str()),
    ];
    let Some(mut portal) =
        support::processes::Portal::start(postgres.as_deref(), &redis, &env).await
    else {
        return;
    };
    let admin = portal.sign_in_admin_when_ready().await;
    let record = portal
        .admin()
        .create_teacher(authed(teacher_with_email(), &admin))
        .await
        .unwrap()
        .into_inner();
    let token = portal
        .auth()
        .sign_in_teacher(support::sign_in_request(&record))
        .await
        .unwrap()
        .into_inner()
        .token;
    smtp.stop();
    let verification = portal
        .auth()
        .start_verification(authed(pb::StartVerificationRequest {}, &token))
        .await
        .expect("acknowledged while the mail server is down")
        .into_inner();
    // Long enough for a first delivery to have been tried and refused.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    portal.kill(names::NOTIFICATION);
    let before_kill = portal.output("notification").join("\n");
    assert!(before_kill.contains("will retry"), "a delivery was tried");
    smtp.resume().await;
    assert!(smtp.mailbox().all().is_empty());
    portal.start_component(names::NOTIFICATION);
    let code = smtp.mailbox().latest(EMAIL, 1).await.code();
    assert!(!before_kill.contains(&code) && !before_kill.contains(EMAIL));
    portal
        .auth()
        .complete_verification(authed(
            pb::CompleteVerificationRequest {
                verification_id: verification.verification_id,
                code,
            },
            &token,
        ))
        .await
        .expect("the code delivered after the restart works");
    drop(portal);
    let _ = std::fs::remove_dir_all(data_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_service_killed_after_acknowledging_delivers_after_restart_embedded() {
    a_killed_notification_service_delivers_after_restart(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_service_killed_after_acknowledging_delivers_after_restart_postgres() {
    a_killed_notification_service_delivers_after_restart(Some(support::postgres_base_url())).await;
}
