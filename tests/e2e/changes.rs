//! A teacher's own changes through the public API: contact details at once, name and date of
//! birth through requests with evidence that reviewers decide, and employment details; on
//! embedded stores and on PostgreSQL + Redis.

use std::time::Duration;

use crate::support::{Harness, Stores, authed, bad_fields, start};
use dqt_proto::dqt::portal::v1 as pb;
use prost_types::FieldMask;
use tonic::Code;

const DOB: &str = "1988-05-21";
const PDF: &[u8] = b"%PDF-1.7\n% a scanned deed poll\n";
const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n', 0, 0, 0, 13,
];

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

struct Teacher {
    trn: String,
    /// A verified session: every change needs one.
    token: String,
    email: String,
}

async fn sign_in(h: &Harness, trn: &str, surname: &str) -> Result<String, tonic::Status> {
    h.auth()
        .sign_in_teacher(pb::SignInTeacherRequest {
            trn: trn.into(),
            surname: surname.into(),
            forename: "Aoife".into(),
            date_of_birth: DOB.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().token)
}

async fn teacher(h: &Harness, admin: &str) -> Teacher {
    let email = format!("aoife.{:08x}@example.org", rand::random::<u32>());
    let record = h
        .create_teacher(
            admin,
            pb::CreateTeacherRequest {
                first_name: "Aoife".into(),
                last_name: "Murphy".into(),
                date_of_birth: DOB.into(),
                contact_details: Some(pb::ContactDetails {
                    email: email.clone(),
                    phone: "0113 496 0000".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await;
    let token = h.verified_teacher(&record).await;
    Teacher {
        trn: record.trn,
        token,
        email,
    }
}

async fn contact_details(h: &Harness, t: &Teacher, admin: &str) {
    // Read first, so that a kept copy of the record must give way to the change below.
    let before = h
        .portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &t.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before.contact_details.unwrap().email, t.email);
    let update = |details: pb::ContactDetails, paths: &[&str]| {
        authed(
            pb::UpdateMyContactDetailsRequest {
                contact_details: Some(details),
                update_mask: mask(paths),
            },
            &t.token,
        )
    };
    let new_email = format!("new.{}", t.email);
    let changed = h
        .portal()
        .update_my_contact_details(update(
            pb::ContactDetails {
                email: new_email.clone(),
                postcode: "ls1 4ap".into(),
                phone: "not looked at".into(),
                ..Default::default()
            },
            &["email", "contact_details.postcode"],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changed.email, t.email, "a new email waits for its code");
    assert_eq!(changed.pending_email, new_email);
    assert_eq!(changed.postcode, "LS1 4AP");
    assert_eq!(changed.phone, "0113 496 0000", "not masked, not changed");
    let code = h.mailbox().latest(&new_email, 1).await.code();
    let confirmed = h
        .portal()
        .confirm_my_email(authed(pb::ConfirmMyEmailRequest { code }, &t.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(confirmed.email, new_email);
    let bad = h
        .portal()
        .update_my_contact_details(update(
            pb::ContactDetails {
                email: "aoife at example".into(),
                phone: "+1 202 555 0100".into(),
                postcode: "NOWHERE".into(),
                ..Default::default()
            },
            &["email", "phone", "postcode"],
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&bad),
        [
            "contact_details.email",
            "contact_details.phone",
            "contact_details.postcode"
        ]
    );
    let unknown = h
        .portal()
        .update_my_contact_details(update(pb::ContactDetails::default(), &["fax"]))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&unknown), ["update_mask"]);
    let record = h
        .portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &t.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(record.contact_details.unwrap().email, new_email);
    let audit = h
        .admin()
        .list_audit_events(authed(
            pb::ListAuditEventsRequest {
                trn: t.trn.clone(),
                page_size: 1,
                ..Default::default()
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(audit.events[0].action, "teacher.confirm_email");
    assert_eq!(audit.events[0].actor, "teacher");
}

fn name_change(last: &str, file: &str, evidence: &[u8]) -> pb::RequestNameChangeRequest {
    pb::RequestNameChangeRequest {
        first_name: "Aoife".into(),
        middle_name: String::new(),
        last_name: last.into(),
        evidence_file_name: file.into(),
        evidence: evidence.to_vec(),
    }
}

fn review(id: &str, decision: pb::ReviewDecision, reason: &str) -> pb::ReviewChangeRequestRequest {
    pb::ReviewChangeRequestRequest {
        id: id.into(),
        decision: decision.into(),
        reject_reason: reason.into(),
    }
}

async fn change_requests(h: &Harness, t: &Teacher, admin: &str) {
    let mut portal = h.portal();
    // Evidence is judged by its bytes, not its name, and bounded.
    let disguised = portal
        .request_name_change(authed(
            name_change("Kelly", "deed-poll.pdf", b"<html>"),
            &t.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&disguised), ["evidence"]);
    let mut too_big = PDF.to_vec();
    too_big.resize(3 * 1024 * 1024 + 1, b' ');
    let big = portal
        .request_name_change(authed(
            name_change("Kelly", "deed-poll.pdf", &too_big),
            &t.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&big), ["evidence"]);
    let missing = portal
        .request_name_change(authed(name_change(" ", "", b""), &t.token))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&missing), ["last_name", "evidence"]);

    let name = portal
        .request_name_change(authed(
            // A PDF named as a PNG is kept under the extension its bytes show.
            name_change("Kelly", "../../C:\\scans\\deed poll?.png", PDF),
            &t.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(name.status, pb::ChangeRequestStatus::Open as i32);
    assert_eq!(name.kind, pb::ChangeRequestKind::Name as i32);
    assert_eq!(name.requested_last_name, "Kelly");
    let second = portal
        .request_name_change(authed(name_change("Walsh", "a.pdf", PDF), &t.token))
        .await
        .unwrap_err();
    assert_eq!(
        second.code(),
        Code::FailedPrecondition,
        "one open name request"
    );
    let dob = portal
        .request_date_of_birth_change(authed(
            pb::RequestDateOfBirthChangeRequest {
                date_of_birth: "1988-05-12".into(),
                evidence_file_name: "birth certificate.png".into(),
                evidence: PNG.to_vec(),
            },
            &t.token,
        ))
        .await
        .unwrap()
        .into_inner();
    let mine = portal
        .list_my_change_requests(authed(pb::ListMyChangeRequestsRequest {}, &t.token))
        .await
        .unwrap()
        .into_inner()
        .change_requests;
    assert_eq!(
        mine.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [&dob.id, &name.id]
    );

    // Reviewers only: a teacher cannot list, review or read evidence.
    let denied = h
        .admin()
        .get_change_request_evidence(authed(
            pb::GetChangeRequestEvidenceRequest {
                id: name.id.clone(),
            },
            &t.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let evidence = h
        .admin()
        .get_change_request_evidence(authed(
            pb::GetChangeRequestEvidenceRequest {
                id: name.id.clone(),
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(evidence.content, PDF);
    assert_eq!(evidence.content_type, "application/pdf");
    assert_eq!(evidence.file_name, "deed poll_.pdf");

    // Open requests, a page at a time, oldest first.
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let page = h
            .admin()
            .list_change_requests(authed(
                pb::ListChangeRequestsRequest {
                    status: pb::ChangeRequestStatus::Open.into(),
                    page_size: 1,
                    page_token: token,
                },
                admin,
            ))
            .await
            .unwrap()
            .into_inner();
        listed.extend(
            page.change_requests
                .into_iter()
                .filter(|r| r.trn == t.trn)
                .map(|r| r.id),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(listed, [name.id.clone(), dob.id.clone()]);

    // Approval applies the name in the same step; the old surname still signs in.
    let no_reason = h
        .admin()
        .review_change_request(authed(
            review(&dob.id, pb::ReviewDecision::Reject, ""),
            admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&no_reason), ["reject_reason"]);
    let approved = h
        .admin()
        .review_change_request(authed(
            review(&name.id, pb::ReviewDecision::Approve, ""),
            admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(approved.status, pb::ChangeRequestStatus::Approved as i32);
    let record = h
        .admin()
        .get_teacher(authed(pb::GetTeacherRequest { trn: t.trn.clone() }, admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(record.last_name, "Kelly");
    assert_eq!(record.previous_names[0].last_name, "Murphy");
    sign_in(h, &t.trn, "Kelly")
        .await
        .expect("the new surname signs in");
    sign_in(h, &t.trn, "Murphy")
        .await
        .expect("the previous surname still signs in");
    let twice = h
        .admin()
        .review_change_request(authed(
            review(&name.id, pb::ReviewDecision::Reject, "late"),
            admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let unknown = h
        .admin()
        .review_change_request(authed(
            review("999999", pb::ReviewDecision::Approve, ""),
            admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    // A rejection keeps its reason for the teacher, and changes nothing.
    h.admin()
        .review_change_request(authed(
            review(
                &dob.id,
                pb::ReviewDecision::Reject,
                "The birth certificate is unreadable.",
            ),
            admin,
        ))
        .await
        .unwrap();
    let mine = h
        .portal()
        .list_my_change_requests(authed(pb::ListMyChangeRequestsRequest {}, &t.token))
        .await
        .unwrap()
        .into_inner()
        .change_requests;
    assert_eq!(mine[0].status, pb::ChangeRequestStatus::Rejected as i32);
    assert_eq!(
        mine[0].reject_reason,
        "The birth certificate is unreadable."
    );
    let record = h
        .admin()
        .get_teacher(authed(pb::GetTeacherRequest { trn: t.trn.clone() }, admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(record.date_of_birth, DOB);
    // With that one decided, a new name request may be made.
    h.portal()
        .request_name_change(authed(name_change("Walsh", "a.pdf", PDF), &t.token))
        .await
        .unwrap();
}

fn employment() -> pb::Employment {
    pb::Employment {
        establishment_name: "Leeds Grammar Academy".into(),
        urn: "123456".into(),
        local_authority_code: "383".into(),
        establishment_number: "4001".into(),
        role: "Teacher of mathematics".into(),
        employment_type: pb::EmploymentType::FullTime.into(),
        start_date: "2019-09-01".into(),
        ..Default::default()
    }
}

async fn employments(h: &Harness, t: &Teacher, other: &Teacher, admin: &str) {
    let mut portal = h.portal();
    let create = |e: pb::Employment, token: &str| {
        authed(
            pb::CreateMyEmploymentRequest {
                employment: Some(e),
            },
            token,
        )
    };
    let created = portal
        .create_my_employment(create(employment(), &t.token))
        .await
        .unwrap()
        .into_inner();
    assert!(!created.id.is_empty());
    assert_eq!(created.urn, "123456");
    let bad = portal
        .create_my_employment(create(
            pb::Employment {
                establishment_name: String::new(),
                urn: "12345".into(),
                establishment_number: String::new(),
                employment_type: 0,
                start_date: "2099-01-01".into(),
                ..employment()
            },
            &t.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&bad),
        [
            "employment.establishment_name",
            "employment.urn",
            "employment.establishment_number",
            "employment.employment_type",
            "employment.start_date",
        ]
    );
    let backwards = portal
        .create_my_employment(create(
            pb::Employment {
                end_date: "2019-08-31".into(),
                ..employment()
            },
            &t.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&backwards), ["employment.end_date"]);

    let update = |e: pb::Employment, paths: &[&str], token: &str| {
        authed(
            pb::UpdateMyEmploymentRequest {
                employment: Some(e),
                update_mask: mask(paths),
            },
            token,
        )
    };
    let updated = portal
        .update_my_employment(update(
            pb::Employment {
                id: created.id.clone(),
                role: "Head of mathematics".into(),
                establishment_name: "ignored".into(),
                end_date: "2024-07-31".into(),
                ..Default::default()
            },
            &["role", "end_date"],
            &t.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (updated.role.as_str(), updated.establishment_name.as_str()),
        ("Head of mathematics", "Leeds Grammar Academy")
    );
    assert_eq!(updated.end_date, "2024-07-31");
    let across = portal
        .update_my_employment(update(
            pb::Employment {
                id: created.id.clone(),
                start_date: "2025-01-01".into(),
                ..Default::default()
            },
            &["start_date"],
            &t.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&across),
        ["employment.end_date"],
        "a change is checked with the rest"
    );
    let unknown_path = portal
        .update_my_employment(update(
            pb::Employment {
                id: created.id.clone(),
                ..Default::default()
            },
            &["salary"],
            &t.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&unknown_path), ["update_mask"]);

    // Another teacher cannot see or touch it: the id is simply not found.
    let theirs = portal
        .update_my_employment(update(
            pb::Employment {
                id: created.id.clone(),
                role: "x".into(),
                ..Default::default()
            },
            &["role"],
            &other.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), Code::NotFound);
    let delete =
        |id: &str, token: &str| authed(pb::DeleteMyEmploymentRequest { id: id.into() }, token);
    assert_eq!(
        portal
            .delete_my_employment(delete(&created.id, &other.token))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        portal
            .delete_my_employment(delete("not-a-number", &t.token))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let others = portal
        .list_my_employments(authed(pb::ListMyEmploymentsRequest {}, &other.token))
        .await
        .unwrap()
        .into_inner();
    assert!(others.employments.is_empty());

    // Internal readers list a teacher's employments; teachers cannot use that API.
    let listed = h
        .admin()
        .list_employments(authed(
            pb::ListEmploymentsRequest { trn: t.trn.clone() },
            admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.employments, [updated]);
    let refused = h
        .admin()
        .list_employments(authed(
            pb::ListEmploymentsRequest { trn: t.trn.clone() },
            &t.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    portal
        .delete_my_employment(delete(&created.id, &t.token))
        .await
        .unwrap();
    let mine = portal
        .list_my_employments(authed(pb::ListMyEmploymentsRequest {}, &t.token))
        .await
        .unwrap()
        .into_inner();
    assert!(mine.employments.is_empty());
}

async fn all_changes(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let t = teacher(h, &admin).await;
    let other = teacher(h, &admin).await;
    contact_details(h, &t, &admin).await;
    change_requests(h, &t, &admin).await;
    employments(h, &t, &other, &admin).await;
}

#[tokio::test]
async fn a_teachers_own_changes_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    all_changes(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_teachers_own_changes_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    all_changes(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn evidence_is_gone_once_its_retention_ends() {
    let h = start(Stores::Embedded, |config| {
        config.record.evidence_retention_seconds = 1
    })
    .await
    .unwrap();
    let admin = h.sign_in_admin().await;
    let t = teacher(&h, &admin).await;
    let request = h
        .portal()
        .request_name_change(authed(name_change("Kelly", "deed.pdf", PDF), &t.token))
        .await
        .unwrap()
        .into_inner();
    let read = || {
        authed(
            pb::GetChangeRequestEvidenceRequest {
                id: request.id.clone(),
            },
            &admin,
        )
    };
    h.admin()
        .get_change_request_evidence(read())
        .await
        .expect("kept while open");
    h.admin()
        .review_change_request(authed(
            review(&request.id, pb::ReviewDecision::Approve, ""),
            &admin,
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let gone = h
        .admin()
        .get_change_request_evidence(read())
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    h.shutdown().await;
}
