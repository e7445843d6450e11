//! Names the register keeps and its documents print: a name typed decomposed ("Zoe" and
//! U+0308) signs in and is found like the composed one; invisible characters are refused in
//! names and contact details, and characters the certificates cannot print in names, each
//! naming its field; the longest name of the widest letters keeps every document on one page
//! with its verification code (checked with poppler's pdfinfo and pdftotext).

use std::process::Command;

use crate::support::{Harness, Stores, authed, bad_fields, start};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::employer_access_client::EmployerAccessClient;

const DOB: &str = "1984-05-06";

async fn zoe(h: &Harness, admin: &str) -> pb::TeacherRecord {
    h.create_teacher(
        admin,
        pb::CreateTeacherRequest {
            // Typed decomposed: kept composed.
            first_name: "Zoe\u{0308}".into(),
            last_name: "Bro\u{0302}ne".into(),
            date_of_birth: DOB.into(),
            ..Default::default()
        },
    )
    .await
}

async fn decomposed_and_composed(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let record = zoe(h, &admin).await;
    assert_eq!(record.first_name, "Zoë");
    assert_eq!(record.last_name, "Brône");
    for (forename, surname) in [("Zoë", "Brône"), ("Zoe\u{0308}", "Bro\u{0302}ne")] {
        h.auth()
            .sign_in_teacher(pb::SignInTeacherRequest {
                trn: record.trn.clone(),
                surname: surname.into(),
                forename: forename.into(),
                date_of_birth: DOB.into(),
                ..Default::default()
            })
            .await
            .expect("either form signs in");
    }
    let token = h
        .signed_in_client(&admin, "names-employer", &["employer:check"])
        .await;
    let found = EmployerAccessClient::new(h.gateway.clone())
        .find_teachers(authed(
            pb::FindTeachersRequest {
                surname: "BRO\u{0302}NE".into(),
                date_of_birth: DOB.into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .teachers;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].trn, record.trn);
}

#[tokio::test]
async fn a_decomposed_name_signs_in_and_is_found_like_the_composed_one_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    decomposed_and_composed(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_decomposed_name_signs_in_and_is_found_like_the_composed_one_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    decomposed_and_composed(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn invisible_and_unprintable_characters_are_refused_naming_the_field() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    let admin = h.sign_in_admin().await;
    let create = |first: &str, last: &str, contact: pb::ContactDetails| pb::CreateTeacherRequest {
        first_name: first.into(),
        last_name: last.into(),
        date_of_birth: DOB.into(),
        contact_details: Some(contact),
        ..Default::default()
    };
    let cases = [
        // A right-to-left override makes "Zoe" look like another name.
        (
            create("Zo\u{202E}e", "Smith", pb::ContactDetails::default()),
            vec!["first_name"],
        ),
        (
            create("Zoe", "Sm\u{200B}ith", pb::ContactDetails::default()),
            vec!["last_name"],
        ),
        (
            create("伟", "张", pb::ContactDetails::default()),
            vec!["first_name", "last_name"],
        ),
        (
            create(
                "Zoe",
                "Smith",
                pb::ContactDetails {
                    address_line1: "1 High\u{2066} Street".into(),
                    town: "Leeds\u{00AD}".into(),
                    ..Default::default()
                },
            ),
            vec!["contact_details.address_line1", "contact_details.town"],
        ),
    ];
    for (request, fields) in cases {
        let status = h
            .admin()
            .create_teacher(authed(request, &admin))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&status), fields);
        // The message never repeats the value.
        assert!(!status.message().contains('\u{202E}') && !status.message().contains('张'));
    }
    h.shutdown().await;
}

#[tokio::test]
async fn the_longest_name_of_the_widest_letters_keeps_every_document_on_one_page() {
    use crate::support::pdf;
    let (Some(pdfinfo), Some(_)) = (pdf::tool("pdfinfo"), pdf::tool("pdftotext")) else {
        return;
    };
    let h = start(Stores::Embedded, |config| {
        config.shared.verification = portal_common::VerificationMode::Off;
    })
    .await
    .unwrap();
    let admin = h.sign_in_admin().await;
    // The widest letter a name may hold in the bold face names are set in (the document
    // service's unit test finds it among every letter allowed), 100 of it in each part.
    let part = "Ǳ".repeat(100);
    let record = h
        .create_teacher(
            &admin,
            pb::CreateTeacherRequest {
                first_name: part.clone(),
                middle_name: part.clone(),
                last_name: part.clone(),
                date_of_birth: DOB.into(),
                ..Default::default()
            },
        )
        .await;
    let trn = record.trn.clone();
    for (kind, awarded) in [
        (pb::ProfessionalStatusType::Qts, "2012-06-30"),
        (pb::ProfessionalStatusType::Eyts, "2013-07-20"),
    ] {
        let status = pb::ProfessionalStatus {
            r#type: kind.into(),
            route: pb::Route::HigherEducation.into(),
            status: pb::RouteStatus::Holds.into(),
            awarded_date: awarded.into(),
            exempt_from_induction: Some(false),
            training: None,
        };
        h.admin()
            .add_professional_status(authed(
                pb::AddProfessionalStatusRequest {
                    trn: trn.clone(),
                    professional_status: Some(status),
                },
                &admin,
            ))
            .await
            .unwrap();
    }
    let induction = pb::Induction {
        status: pb::InductionStatus::Passed.into(),
        start_date: "2012-09-01".into(),
        completed_date: "2013-07-19".into(),
        ..Default::default()
    };
    h.admin()
        .set_induction(authed(
            pb::SetInductionRequest {
                trn: trn.clone(),
                induction: Some(induction),
            },
            &admin,
        ))
        .await
        .unwrap();
    let npq = pb::NpqQualification {
        r#type: pb::NpqType::Npqh.into(),
        awarded_date: "2023-02-10".into(),
        ..Default::default()
    };
    h.admin()
        .add_qualification(authed(
            pb::AddQualificationRequest {
                trn,
                qualification: Some(pb::add_qualification_request::Qualification::Npq(npq)),
            },
            &admin,
        ))
        .await
        .unwrap();

    let token = h.sign_in_teacher(&record).await.token;
    let documents = h
        .portal()
        .list_my_documents(authed(pb::ListMyDocumentsRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .documents;
    assert_eq!(
        documents.len(),
        5,
        "QTS, induction, EYTS, NPQ and the letter"
    );
    for available in documents {
        let document = h
            .portal()
            .download_document(authed(
                pb::DownloadDocumentRequest {
                    kind: available.kind,
                    qualification_id: available.qualification_id.clone(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        let file = pdf::TempPdf::new(&document.content);
        let info = Command::new(pdfinfo).arg(&file.0).output().unwrap();
        let info = String::from_utf8_lossy(&info.stdout);
        let pages = info
            .lines()
            .find_map(|line| line.strip_prefix("Pages:"))
            .map(str::trim);
        assert_eq!(pages, Some("1"), "{}", available.title);
        let text = pdf::text(&file.0, Some((1, 1))).unwrap_or_default();
        assert!(
            text.contains(&document.verification_code),
            "{}: the verification code is on page 1",
            available.title
        );
        assert!(text.contains(&part[..20]), "the name is printed");
    }
    h.shutdown().await;
}
