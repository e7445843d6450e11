//! Emails to teachers driven by the change feed: a change request approved, or rejected with
//! its reason; QTS awarded; induction passed. To the email on the record, none without one,
//! each once, and none again after the portal restarts. On embedded stores (the outbox folder)
//! and PostgreSQL + Redis with a real SMTP server.

use std::time::Duration;

use crate::support::{Harness, Stores, authed, start, start_with_smtp};
use dqt_proto::dqt::portal::v1 as pb;

const EMAIL: &str = "news.teacher@example.org";
const PDF: &[u8] = b"%PDF-1.7\n% a scanned certificate\n";

/// The subjects of the news emails (every email but the verification code's).
const APPROVED: &str = "Your change to your teaching record has been approved";
const REJECTED: &str = "Your change to your teaching record has not been approved";
const AWARDED: &str = "A status has been added to your teaching record";
const PASSED: &str = "You have passed your induction";

async fn teacher(h: &Harness, admin: &str, first: &str, email: &str) -> pb::TeacherRecord {
    h.create_teacher(
        admin,
        pb::CreateTeacherRequest {
            first_name: first.into(),
            last_name: "Vaughan".into(),
            date_of_birth: "1990-02-03".into(),
            contact_details: Some(pb::ContactDetails {
                email: email.into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
}

fn review(id: &str, decision: pb::ReviewDecision, reason: &str) -> pb::ReviewChangeRequestRequest {
    pb::ReviewChangeRequestRequest {
        id: id.into(),
        decision: decision.into(),
        reject_reason: reason.into(),
    }
}

async fn award_qts(h: &Harness, admin: &str, trn: &str) {
    h.admin()
        .add_professional_status(authed(
            pb::AddProfessionalStatusRequest {
                trn: trn.into(),
                professional_status: Some(pb::ProfessionalStatus {
                    r#type: pb::ProfessionalStatusType::Qts.into(),
                    route: pb::Route::HigherEducation.into(),
                    status: pb::RouteStatus::Holds.into(),
                    awarded_date: "2024-07-01".into(),
                    exempt_from_induction: Some(false),
                    training: None,
                }),
            },
            admin,
        ))
        .await
        .unwrap();
}

/// The news emails to `to`, by subject, once `count` have come.
async fn news(h: &Harness, to: &str, count: usize) -> Vec<crate::support::mail::Email> {
    let is_news = |subject: &str| [APPROVED, REJECTED, AWARDED, PASSED].contains(&subject);
    let started = std::time::Instant::now();
    loop {
        let received: Vec<_> = h
            .mailbox()
            .to(to)
            .into_iter()
            .filter(|e| is_news(&e.subject))
            .collect();
        if received.len() >= count {
            return received;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} of {count} news emails came",
            received.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn teachers_are_told(mut h: Harness) {
    let admin = h.sign_in_admin().await;
    let record = teacher(&h, &admin, "Seren", EMAIL).await;
    let silent = teacher(&h, &admin, "Tomos", "").await;
    let token = h.verified_teacher(&record).await;

    let asked = h
        .portal()
        .request_name_change(authed(
            pb::RequestNameChangeRequest {
                first_name: "Seren".into(),
                last_name: "Vaughan Price".into(),
                evidence_file_name: "marriage.pdf".into(),
                evidence: PDF.to_vec(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    h.admin()
        .review_change_request(authed(
            review(&asked.id, pb::ReviewDecision::Approve, ""),
            &admin,
        ))
        .await
        .unwrap();
    let asked = h
        .portal()
        .request_date_of_birth_change(authed(
            pb::RequestDateOfBirthChangeRequest {
                date_of_birth: "1990-03-02".into(),
                evidence_file_name: "passport.pdf".into(),
                evidence: PDF.to_vec(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    h.admin()
        .review_change_request(authed(
            review(
                &asked.id,
                pb::ReviewDecision::Reject,
                "The passport page sent does not show the date of birth.",
            ),
            &admin,
        ))
        .await
        .unwrap();
    award_qts(&h, &admin, &record.trn).await;
    h.admin()
        .set_induction(authed(
            pb::SetInductionRequest {
                trn: record.trn.clone(),
                induction: Some(pb::Induction {
                    status: pb::InductionStatus::Passed.into(),
                    start_date: "2024-09-02".into(),
                    completed_date: "2025-07-18".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap();
    // A record without an email: the same news reaches nobody.
    award_qts(&h, &admin, &silent.trn).await;

    let told = news(&h, EMAIL, 4).await;
    let mut subjects: Vec<&str> = told.iter().map(|e| e.subject.as_str()).collect();
    subjects.sort_unstable();
    let mut expected = [APPROVED, REJECTED, AWARDED, PASSED];
    expected.sort_unstable();
    assert_eq!(subjects, expected);
    let rejected = told.iter().find(|e| e.subject == REJECTED).unwrap();
    assert!(rejected.raw.contains("date of birth"));
    assert!(
        rejected
            .raw
            .contains("The passport page sent does not show the date of birth.")
    );
    let awarded = told.iter().find(|e| e.subject == AWARDED).unwrap();
    assert!(awarded.raw.contains("qualified teacher status (QTS)"));
    assert!(awarded.raw.contains("1 July 2024"));
    let passed = told.iter().find(|e| e.subject == PASSED).unwrap();
    assert!(passed.raw.contains("18 July 2025"));

    // Restarted, the portal follows on from where it was: nothing is sent twice.
    let signer = h.stack.as_ref().unwrap().signer().clone();
    h.stack.take().unwrap().shutdown().await.unwrap();
    let names: Vec<&str> = h.config.components().iter().map(|c| c.name()).collect();
    h.stack = Some(
        portal::Stack::start(&h.config, &names, signer)
            .await
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(news(&h, EMAIL, 4).await.len(), 4, "nothing twice");
    let everyone = h.mailbox().all();
    assert!(
        everyone
            .iter()
            .filter(|e| e.subject == AWARDED)
            .all(|e| e.to == EMAIL),
        "no news without an email on the record"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn teachers_are_told_of_decisions_awards_and_induction_embedded() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    teachers_are_told(h).await;
}

#[tokio::test]
async fn teachers_are_told_of_decisions_awards_and_induction_postgres_smtp() {
    let Some(h) = start_with_smtp(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    teachers_are_told(h).await;
}
