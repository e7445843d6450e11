//! Requests for a TRN find an existing record before making a new one: a definite match gives
//! its TRN and creates nothing, a possible one waits for review, none makes a record; the same
//! request again gives the same answer and never a second record. On embedded stores and
//! PostgreSQL + Redis.

use crate::support::{Harness, Stores, authed, bad_fields, start};
use dqt_proto::dqt::portal::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt as _;

const DOB: &str = "1990-02-03";

fn ask(id: &str, first: &str, last: &str, dob: &str) -> pb::CreateTrnRequestRequest {
    pb::CreateTrnRequestRequest {
        request_id: id.into(),
        first_name: first.into(),
        last_name: last.into(),
        date_of_birth: dob.into(),
        ..Default::default()
    }
}

async fn create(
    h: &Harness,
    admin: &str,
    request: pb::CreateTrnRequestRequest,
) -> Result<pb::TrnRequest, tonic::Status> {
    h.admin()
        .create_trn_request(authed(request, admin))
        .await
        .map(tonic::Response::into_inner)
}

async fn resolve(
    h: &Harness,
    admin: &str,
    id: &str,
    resolution: pb::resolve_trn_request_request::Resolution,
) -> Result<pb::TrnRequest, tonic::Status> {
    h.admin()
        .resolve_trn_request(authed(
            pb::ResolveTrnRequestRequest {
                request_id: id.into(),
                resolution: Some(resolution),
            },
            admin,
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn list(h: &Harness, admin: &str, status: pb::TrnRequestStatus) -> Vec<String> {
    let mut ids = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = h
            .admin()
            .list_trn_requests(authed(
                pb::ListTrnRequestsRequest {
                    status: status.into(),
                    page_size: 2,
                    page_token,
                },
                admin,
            ))
            .await
            .unwrap()
            .into_inner();
        ids.extend(page.trn_requests.into_iter().map(|r| r.request_id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        page_token = page.next_page_token;
    }
}

async fn requests(h: &Harness) {
    use pb::resolve_trn_request_request::Resolution;
    let admin = h.sign_in_admin().await;
    let existing = h
        .create_teacher(
            &admin,
            pb::CreateTeacherRequest {
                first_name: "Mary-Jane".into(),
                last_name: "Owusu".into(),
                date_of_birth: DOB.into(),
                national_insurance_number: "AB123456C".into(),
                contact_details: Some(pb::ContactDetails {
                    email: "mj@example.org".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await;
    let completed = |r: &pb::TrnRequest| {
        assert_eq!(r.status(), pb::TrnRequestStatus::Completed);
        r.trn.clone()
    };

    // Definite: the date of birth and NINO; then names (hyphen or space) and email.
    let by_nino = create(
        h,
        &admin,
        pb::CreateTrnRequestRequest {
            national_insurance_number: "ab 12 34 56 c".into(),
            ..ask("by-nino", "Maria", "Someone", DOB)
        },
    )
    .await
    .unwrap();
    assert_eq!(completed(&by_nino), existing.trn);
    let by_names = create(
        h,
        &admin,
        pb::CreateTrnRequestRequest {
            email: "MJ@example.org".into(),
            ..ask("by-names", "Mary Jane", "Owusu", DOB)
        },
    )
    .await
    .unwrap();
    assert_eq!(completed(&by_names), existing.trn);

    // Possible: the date of birth and the first name only.
    let possible = create(h, &admin, ask("possible", "Mary-Jane", "Different", DOB))
        .await
        .unwrap();
    assert_eq!(possible.status(), pb::TrnRequestStatus::PendingReview);
    assert_eq!(possible.trn, "");
    assert_eq!(
        possible.potential_duplicates,
        std::slice::from_ref(&existing.trn)
    );

    // None: a new record with a new TRN.
    let new = create(
        h,
        &admin,
        ask("new-person", "Kwame", "Mensah", "1985-01-01"),
    )
    .await
    .unwrap();
    let new_trn = completed(&new);
    assert_ne!(new_trn, existing.trn);
    let made = h
        .admin()
        .get_teacher(authed(
            pb::GetTeacherRequest {
                trn: new_trn.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (made.first_name.as_str(), made.last_name.as_str()),
        ("Kwame", "Mensah")
    );

    // The same request again, however spaced: the same answer, no second record.
    let again = create(
        h,
        &admin,
        ask("new-person", " kwame ", "MENSAH", "1985-01-01"),
    )
    .await
    .unwrap();
    assert_eq!(again.trn, new_trn);
    let next = create(h, &admin, ask("after", "Ama", "Boateng", "1986-06-06"))
        .await
        .unwrap();
    assert_eq!(
        next.trn.parse::<u32>().unwrap(),
        new_trn.parse::<u32>().unwrap() + 1,
        "the repeat allocated no TRN"
    );
    // Another request under the same id.
    let clash = create(
        h,
        &admin,
        ask("new-person", "Kwame", "Mensah", "1985-01-02"),
    )
    .await
    .unwrap_err();
    assert_eq!(clash.code(), Code::AlreadyExists);
    assert_eq!(
        clash.get_details_error_info().unwrap().reason,
        "REQUEST_EXISTS"
    );

    // Read, listed by status, page by page.
    let read = h
        .admin()
        .get_trn_request(authed(
            pb::GetTrnRequestRequest {
                request_id: "possible".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, possible);
    assert_eq!(
        list(h, &admin, pb::TrnRequestStatus::PendingReview).await,
        ["possible"]
    );
    assert_eq!(
        list(h, &admin, pb::TrnRequestStatus::Completed).await,
        ["by-nino", "by-names", "new-person", "after"]
    );

    // Review: with the existing record, then never again; or with a new record.
    let resolved = resolve(h, &admin, "possible", Resolution::Trn(existing.trn.clone()))
        .await
        .unwrap();
    assert_eq!(completed(&resolved), existing.trn);
    let twice = resolve(h, &admin, "possible", Resolution::CreateNew(true))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    create(
        h,
        &admin,
        ask("possible-two", "Mary-Jane", "Elsewhere", DOB),
    )
    .await
    .unwrap();
    let unknown = resolve(h, &admin, "possible-two", Resolution::Trn("9999999".into()))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let fresh = resolve(h, &admin, "possible-two", Resolution::CreateNew(true))
        .await
        .unwrap();
    let fresh_trn = completed(&fresh);
    assert_ne!(fresh_trn, existing.trn);
    h.admin()
        .get_teacher(authed(pb::GetTeacherRequest { trn: fresh_trn }, &admin))
        .await
        .expect("the reviewer's new record exists");

    // Bad input names each field.
    let bad = create(
        h,
        &admin,
        pb::CreateTrnRequestRequest {
            email: "not an email".into(),
            ..ask("", "Zo\u{202E}e", "", "")
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        bad_fields(&bad),
        [
            "request_id",
            "first_name",
            "last_name",
            "date_of_birth",
            "email"
        ]
    );
    let audit = h.audit_events(&admin, &existing.trn).await;
    assert!(audit.iter().any(|e| e.action == "trn_request.create"));
    assert!(audit.iter().any(|e| e.action == "trn_request.resolve"));
}

#[tokio::test]
async fn trn_requests_find_existing_records_first_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    requests(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn trn_requests_find_existing_records_first_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    requests(&h).await;
    h.shutdown().await;
}
