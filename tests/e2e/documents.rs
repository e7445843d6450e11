//! Certificates and letters through the public API: what a record entitles its teacher to, the
//! PDFs themselves (checked with qpdf and pdftotext), and verification by an employer against
//! the exact bytes downloaded.

use crate::support;
use std::path::Path;
use std::process::Command;

use crate::support::{Harness, Stores, authed, start};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::employer_access_client::EmployerAccessClient;
use sha2::{Digest as _, Sha256};
use tonic::Code;

use pb::DocumentKind as K;

fn qpdf_check(path: &Path) {
    if let Some(qpdf) = support::pdf::tool("qpdf") {
        let out = Command::new(qpdf)
            .arg("--check")
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

struct Teacher {
    trn: String,
    token: String,
}

async fn teacher(h: &Harness, admin: &str, first: &str, middle: &str, last: &str) -> Teacher {
    let trn = h
        .create_teacher(
            admin,
            pb::CreateTeacherRequest {
                first_name: first.into(),
                middle_name: middle.into(),
                last_name: last.into(),
                date_of_birth: "1985-03-14".into(),
                ..Default::default()
            },
        )
        .await
        .trn;
    let token = h
        .auth()
        .sign_in_teacher(pb::SignInTeacherRequest {
            trn: trn.clone(),
            surname: last.into(),
            forename: first.into(),
            date_of_birth: "1985-03-14".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    Teacher { trn, token }
}

fn status(
    kind: pb::ProfessionalStatusType,
    route: pb::Route,
    awarded: &str,
    exempt: bool,
) -> pb::ProfessionalStatus {
    pb::ProfessionalStatus {
        r#type: kind.into(),
        route: route.into(),
        status: pb::RouteStatus::Holds.into(),
        awarded_date: awarded.into(),
        exempt_from_induction: Some(exempt),
        training: None,
    }
}

async fn add_status(h: &Harness, admin: &str, trn: &str, s: pb::ProfessionalStatus) {
    h.admin()
        .add_professional_status(authed(
            pb::AddProfessionalStatusRequest {
                trn: trn.into(),
                professional_status: Some(s),
            },
            admin,
        ))
        .await
        .unwrap();
}

async fn list(h: &Harness, t: &Teacher) -> Vec<pb::AvailableDocument> {
    h.portal()
        .list_my_documents(authed(pb::ListMyDocumentsRequest {}, &t.token))
        .await
        .unwrap()
        .into_inner()
        .documents
}

async fn download(
    h: &Harness,
    t: &Teacher,
    kind: K,
    qualification_id: &str,
) -> Result<pb::Document, tonic::Status> {
    h.portal()
        .download_document(authed(
            pb::DownloadDocumentRequest {
                kind: kind.into(),
                qualification_id: qualification_id.into(),
            },
            &t.token,
        ))
        .await
        .map(|r| r.into_inner())
}

async fn documents(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let employer = h
        .admin()
        .create_client(authed(
            pb::CreateClientRequest {
                client_id: "school-trust".into(),
                display_name: "A School Trust".into(),
                roles: vec!["employer:check".into()],
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let employer_token = h
        .auth()
        .sign_in_client(pb::SignInClientRequest {
            client_id: employer.client_id,
            client_secret: employer.client_secret,
        })
        .await
        .unwrap()
        .into_inner()
        .token;

    // Everything: QTS, induction passed, EYTS, two NPQs and an MQ.
    let zoe = teacher(h, &admin, "Zoë", "Şahin", "Nguyễn").await;
    add_status(
        h,
        &admin,
        &zoe.trn,
        status(
            pb::ProfessionalStatusType::Qts,
            pb::Route::HigherEducation,
            "2012-06-30",
            false,
        ),
    )
    .await;
    add_status(
        h,
        &admin,
        &zoe.trn,
        status(
            pb::ProfessionalStatusType::Eyts,
            pb::Route::HigherEducation,
            "2018-07-20",
            false,
        ),
    )
    .await;
    h.admin()
        .set_induction(authed(
            pb::SetInductionRequest {
                trn: zoe.trn.clone(),
                induction: Some(pb::Induction {
                    status: pb::InductionStatus::Passed.into(),
                    start_date: "2012-09-03".into(),
                    completed_date: "2013-07-19".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap();
    let mut npq_ids = Vec::new();
    for (kind, date) in [
        (pb::NpqType::Npqh, "2023-02-10"),
        (pb::NpqType::Npqlbc, "2024-03-01"),
    ] {
        let record = h
            .admin()
            .add_qualification(authed(
                pb::AddQualificationRequest {
                    trn: zoe.trn.clone(),
                    qualification: Some(pb::add_qualification_request::Qualification::Npq(
                        pb::NpqQualification {
                            r#type: kind.into(),
                            awarded_date: date.into(),
                            ..Default::default()
                        },
                    )),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        npq_ids.push(record.npq_qualifications.last().unwrap().id.clone());
    }

    let listed = list(h, &zoe).await;
    let kinds: Vec<i32> = listed.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [
            K::QtsCertificate,
            K::InductionCertificate,
            K::EytsCertificate,
            K::NpqCertificate,
            K::NpqCertificate,
            K::QualificationsLetter
        ]
        .map(|k| k as i32)
    );
    assert!(listed.iter().all(|d| !d.title.is_empty()));

    let dir = std::env::temp_dir().join(format!("portal-docs-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let expected_dates = [
        vec!["30 June 2012"],
        vec!["3 September 2012", "19 July 2013"],
        vec!["20 July 2018"],
        vec!["10 February 2023"],
        vec!["1 March 2024"],
        vec![
            "30 June 2012",
            "20 July 2018",
            "19 July 2013",
            "10 February 2023",
            "1 March 2024",
        ],
    ];
    for (available, dates) in listed.iter().zip(expected_dates) {
        let kind = K::try_from(available.kind).unwrap();
        let document = download(h, &zoe, kind, &available.qualification_id)
            .await
            .unwrap();
        assert_eq!(document.content_type, "application/pdf");
        assert!(document.file_name.ends_with(&format!("{}.pdf", zoe.trn)));
        let path = dir.join(&document.file_name);
        std::fs::write(&path, &document.content).unwrap();
        qpdf_check(&path);
        if let Some(text) = support::pdf::text(&path, None) {
            for needle in [
                &"Zoë Şahin Nguyễn".to_owned(),
                &zoe.trn,
                &document.verification_code,
            ] {
                assert!(
                    text.contains(needle.as_str()),
                    "{kind:?} lacks {needle}: {text}"
                );
            }
            for date in dates {
                assert!(text.contains(date), "{kind:?} lacks {date}");
            }
        }
        // An employer verifies the code against the exact bytes.
        let verified = EmployerAccessClient::new(h.gateway.clone())
            .verify_document(authed(
                pb::VerifyDocumentRequest {
                    verification_code: document.verification_code.to_lowercase().replace('-', " "),
                },
                &employer_token,
            ))
            .await
            .unwrap()
            .into_inner();
        let sha256: String = Sha256::digest(&document.content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(verified.valid);
        assert_eq!(verified.sha256, sha256);
        assert_eq!(verified.kind, available.kind);
        assert_eq!(verified.trn, zoe.trn);
        assert_eq!(verified.holder_name, "Zoë Şahin Nguyễn");
        assert_eq!(verified.issue_time, document.issue_time);
        let code = document.verification_code.replace('-', "");
        assert_eq!(code.len(), 16, "80 bits in base 32");
    }
    let _ = std::fs::remove_dir_all(&dir);

    // Only what the list offers: no NPQ by another id, no kind left unspecified.
    let other = teacher(h, &admin, "Jan", "", "Łukasiewicz").await;
    assert_eq!(
        list(h, &other)
            .await
            .iter()
            .map(|d| d.kind)
            .collect::<Vec<_>>(),
        [K::QualificationsLetter as i32]
    );
    for (kind, id) in [
        (K::QtsCertificate, ""),
        (K::InductionCertificate, ""),
        (K::EytsCertificate, ""),
        (K::NpqCertificate, npq_ids[0].as_str()),
    ] {
        let refused = download(h, &other, kind, id).await.unwrap_err();
        assert_eq!(refused.code(), Code::FailedPrecondition, "{kind:?}");
    }
    let missing = download(h, &zoe, K::NpqCertificate, "999999")
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::FailedPrecondition);
    let unspecified = download(h, &zoe, K::Unspecified, "").await.unwrap_err();
    assert_eq!(support::bad_fields(&unspecified), ["kind"]);

    // QTS wording follows induction: exempt here.
    add_status(
        h,
        &admin,
        &other.trn,
        status(
            pb::ProfessionalStatusType::Qts,
            pb::Route::OverseasTrained,
            "2000-01-14",
            true,
        ),
    )
    .await;
    let qts = download(h, &other, K::QtsCertificate, "").await.unwrap();
    let path = std::env::temp_dir().join(format!("portal-doc-{:016x}.pdf", rand::random::<u64>()));
    std::fs::write(&path, &qts.content).unwrap();
    if let Some(text) = support::pdf::text(&path, None) {
        assert!(text.contains("Jan Łukasiewicz"));
        assert!(text.contains("exempt from statutory induction"), "{text}");
        assert!(!text.contains("must also complete"));
    }
    let _ = std::fs::remove_file(&path);

    // QTS recognised from Wales gives no England certificate.
    let welsh = teacher(h, &admin, "Ayşe", "", "O'Súilleabháin").await;
    add_status(
        h,
        &admin,
        &welsh.trn,
        status(
            pb::ProfessionalStatusType::Qts,
            pb::Route::WelshRecognition,
            "2015-07-01",
            false,
        ),
    )
    .await;
    assert_eq!(list(h, &welsh).await.len(), 1);
    assert_eq!(
        download(h, &welsh, K::QtsCertificate, "")
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );

    // Verification: unknown codes are not valid, malformed ones name the field, and only
    // employers may ask.
    let mut employer_api = EmployerAccessClient::new(h.gateway.clone());
    let unknown = employer_api
        .verify_document(authed(
            pb::VerifyDocumentRequest {
                verification_code: "0000-0000-0000-0000".into(),
            },
            &employer_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!unknown.valid && unknown.trn.is_empty() && unknown.holder_name.is_empty());
    let malformed = employer_api
        .verify_document(authed(
            pb::VerifyDocumentRequest {
                verification_code: "nope".into(),
            },
            &employer_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(support::bad_fields(&malformed), ["verification_code"]);
    let teacher_asks = employer_api
        .verify_document(authed(
            pb::VerifyDocumentRequest {
                verification_code: "0000-0000-0000-0000".into(),
            },
            &zoe.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(teacher_asks.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn documents_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    documents(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn documents_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    documents(&h).await;
    h.shutdown().await;
}
