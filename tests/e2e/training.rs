//! The record as DfE holds it now: each route to a professional status carries its initial
//! teacher training, shown to the teacher, internal readers and employers and listed in the
//! qualifications letter; QTLS counts as QTS, and exempts from induction, only while SET
//! membership is active, and never overrides a failed induction. On embedded stores and
//! PostgreSQL + Redis.

use crate::support::{Harness, Stores, authed, bad_fields, start};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::employer_access_client::EmployerAccessClient;

const DOB: &str = "1979-11-23";

fn training() -> pb::InitialTeacherTraining {
    pb::InitialTeacherTraining {
        provider_name: "University of Leeds".into(),
        provider_ukprn: "10007795".into(),
        subjects: vec![
            pb::TrainingSubject {
                code: "100403".into(),
                name: "mathematics".into(),
            },
            pb::TrainingSubject {
                code: "100425".into(),
                name: "physics".into(),
            },
        ],
        age_range_from: Some(11),
        age_range_to: Some(16),
        start_date: "2011-09-01".into(),
        end_date: "2012-06-30".into(),
        degree_type: pb::DegreeType::PostgraduateCertificate.into(),
        country: "GB".into(),
    }
}

fn status(
    kind: pb::ProfessionalStatusType,
    route: pb::Route,
    awarded: &str,
    exempt: bool,
    training: Option<pb::InitialTeacherTraining>,
) -> pb::ProfessionalStatus {
    pb::ProfessionalStatus {
        r#type: kind.into(),
        route: route.into(),
        status: pb::RouteStatus::Holds.into(),
        awarded_date: awarded.into(),
        exempt_from_induction: Some(exempt),
        training,
    }
}

async fn add(
    h: &Harness,
    admin: &str,
    trn: &str,
    status: pb::ProfessionalStatus,
) -> Result<pb::TeacherRecord, tonic::Status> {
    h.admin()
        .add_professional_status(authed(
            pb::AddProfessionalStatusRequest {
                trn: trn.into(),
                professional_status: Some(status),
            },
            admin,
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn teacher(h: &Harness, admin: &str, first: &str) -> pb::TeacherRecord {
    h.create_teacher(
        admin,
        pb::CreateTeacherRequest {
            first_name: first.into(),
            last_name: "Thackeray".into(),
            date_of_birth: DOB.into(),
            ..Default::default()
        },
    )
    .await
}

async fn employer(h: &Harness, admin: &str) -> String {
    h.signed_in_client(admin, "training-employer", &["employer:check"])
        .await
}

async fn check(h: &Harness, employer: &str, trn: &str) -> pb::TeacherCheck {
    EmployerAccessClient::new(h.gateway.clone())
        .check_teacher(authed(
            pb::CheckTeacherRequest {
                trn: trn.into(),
                date_of_birth: DOB.into(),
            },
            employer,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn documents(h: &Harness, token: &str) -> Vec<pb::DocumentKind> {
    h.portal()
        .list_my_documents(authed(pb::ListMyDocumentsRequest {}, token))
        .await
        .unwrap()
        .into_inner()
        .documents
        .iter()
        .map(|d| pb::DocumentKind::try_from(d.kind).unwrap())
        .collect()
}

/// The text of a document the teacher downloads, when pdftotext is installed.
async fn document_text(h: &Harness, token: &str, kind: pb::DocumentKind) -> Option<String> {
    let document = h
        .portal()
        .download_document(authed(
            pb::DownloadDocumentRequest {
                kind: kind.into(),
                qualification_id: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    crate::support::pdf::text(
        &crate::support::pdf::TempPdf::new(&document.content).0,
        None,
    )
}

async fn initial_teacher_training(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let employer = employer(h, &admin).await;
    let record = teacher(h, &admin, "Anne").await;
    let qts = |training| {
        status(
            pb::ProfessionalStatusType::Qts,
            pb::Route::HigherEducation,
            "2012-06-30",
            false,
            Some(training),
        )
    };
    // Each bad part of the training is named; nothing is added.
    let bad = pb::InitialTeacherTraining {
        provider_name: " ".into(),
        provider_ukprn: "1000779".into(),
        subjects: vec![
            pb::TrainingSubject {
                code: "10040".into(),
                name: "maths".into(),
            };
            4
        ],
        age_range_from: Some(12),
        age_range_to: Some(11),
        end_date: "2010-01-01".into(),
        start_date: "2011-01-01".into(),
        country: "XX".into(),
        ..training()
    };
    let refused = add(h, &admin, &record.trn, qts(bad)).await.unwrap_err();
    let prefix = "professional_status.training.";
    let fields: Vec<String> = bad_fields(&refused)
        .into_iter()
        .map(|f| f.strip_prefix(prefix).unwrap_or(&f).to_owned())
        .collect();
    for field in [
        "provider_name",
        "provider_ukprn",
        "subjects",
        "subjects[0].code",
        "age_range_to",
        "end_date",
        "country",
    ] {
        assert!(fields.contains(&field.to_owned()), "{field} in {fields:?}");
    }
    let added = add(h, &admin, &record.trn, qts(training())).await.unwrap();
    assert_eq!(added.professional_statuses[0].training, Some(training()));
    let token = h.sign_in_teacher(&record).await.token;
    let own = h
        .portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.professional_statuses[0].training, Some(training()));
    let seen = check(h, &employer, &record.trn).await;
    assert_eq!(seen.professional_statuses.len(), 1);
    assert_eq!(seen.professional_statuses[0].training, Some(training()));
    assert_eq!(seen.professional_statuses[0].exempt_from_induction, None);
    if let Some(letter) = document_text(h, &token, pb::DocumentKind::QualificationsLetter).await {
        assert!(letter.contains("University of Leeds"), "{letter}");
        assert!(letter.contains("mathematics, physics"), "{letter}");
    }
}

#[tokio::test]
async fn initial_teacher_training_is_kept_and_shown_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    initial_teacher_training(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn initial_teacher_training_is_kept_and_shown_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    initial_teacher_training(&h).await;
    h.shutdown().await;
}

async fn set_qtls(
    h: &Harness,
    admin: &str,
    trn: &str,
    qtls: pb::QtlsStatus,
    awarded: &str,
) -> Result<pb::TeacherRecord, tonic::Status> {
    h.admin()
        .set_qtls_status(authed(
            pb::SetQtlsStatusRequest {
                trn: trn.into(),
                qtls_status: qtls.into(),
                awarded_date: awarded.into(),
            },
            admin,
        ))
        .await
        .map(tonic::Response::into_inner)
}

fn induction_status(record: &pb::TeacherRecord) -> pb::InductionStatus {
    record.induction.clone().unwrap_or_default().status()
}

async fn qtls(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let employer = employer(h, &admin).await;
    let record = teacher(h, &admin, "Beatrix").await;
    let trn = record.trn.clone();
    add(
        h,
        &admin,
        &trn,
        status(
            pb::ProfessionalStatusType::Qtls,
            pb::Route::QtlsSetMembership,
            "2015-01-01",
            true,
            None,
        ),
    )
    .await
    .unwrap();
    for (qtls, awarded, field) in [
        (pb::QtlsStatus::Active, "", "awarded_date"),
        (pb::QtlsStatus::None, "2015-01-01", "awarded_date"),
        (pb::QtlsStatus::Unspecified, "", "qtls_status"),
    ] {
        let status = set_qtls(h, &admin, &trn, qtls, awarded).await.unwrap_err();
        assert_eq!(bad_fields(&status), [field]);
    }
    let token = h.sign_in_teacher(&record).await.token;

    let active = set_qtls(h, &admin, &trn, pb::QtlsStatus::Active, "2015-01-01")
        .await
        .unwrap();
    assert_eq!(active.qtls_status(), pb::QtlsStatus::Active);
    assert_eq!(active.qts_date, "2015-01-01");
    assert_eq!(induction_status(&active), pb::InductionStatus::Exempt);
    assert_eq!(
        active.induction.unwrap().exemption_reasons,
        [i32::from(pb::InductionExemptionReason::Qtls)]
    );
    let seen = check(h, &employer, &trn).await;
    assert_eq!(
        (
            seen.qtls_status(),
            seen.qts_date.as_str(),
            seen.induction_status()
        ),
        (
            pb::QtlsStatus::Active,
            "2015-01-01",
            pb::InductionStatus::Exempt
        )
    );
    assert!(
        documents(h, &token)
            .await
            .contains(&pb::DocumentKind::QtsCertificate)
    );
    if let Some(certificate) = document_text(h, &token, pb::DocumentKind::QtsCertificate).await {
        assert!(
            certificate.contains("qualified teacher learning and skills"),
            "{certificate}"
        );
    }

    // SET membership lapsed: no QTS through QTLS, no exemption, no certificate.
    let expired = set_qtls(h, &admin, &trn, pb::QtlsStatus::Expired, "2015-01-01")
        .await
        .unwrap();
    assert_eq!(expired.qts_date, "");
    assert_eq!(induction_status(&expired), pb::InductionStatus::None);
    let seen = check(h, &employer, &trn).await;
    assert_eq!(
        (seen.qtls_status(), seen.qts_date.as_str()),
        (pb::QtlsStatus::Expired, "")
    );
    assert!(
        !documents(h, &token)
            .await
            .contains(&pb::DocumentKind::QtsCertificate)
    );

    // A failed induction is never overridden by an exemption through QTLS.
    let failed = teacher(h, &admin, "Cecily").await;
    add(
        h,
        &admin,
        &failed.trn,
        status(
            pb::ProfessionalStatusType::Qts,
            pb::Route::HigherEducation,
            "2010-07-01",
            false,
            None,
        ),
    )
    .await
    .unwrap();
    h.admin()
        .set_induction(authed(
            pb::SetInductionRequest {
                trn: failed.trn.clone(),
                induction: Some(pb::Induction {
                    status: pb::InductionStatus::Failed.into(),
                    start_date: "2010-09-01".into(),
                    completed_date: "2011-07-01".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap();
    let still_failed = set_qtls(h, &admin, &failed.trn, pb::QtlsStatus::Active, "2016-01-01")
        .await
        .unwrap();
    assert_eq!(induction_status(&still_failed), pb::InductionStatus::Failed);
    assert_eq!(
        still_failed.qts_date, "2010-07-01",
        "QTS by its own route first"
    );
}

#[tokio::test]
async fn qtls_counts_only_while_active_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    qtls(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn qtls_counts_only_while_active_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    qtls(&h).await;
    h.shutdown().await;
}
