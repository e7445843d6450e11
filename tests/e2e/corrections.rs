//! The record as DfE keeps it correct: an alert entered wrongly is corrected, reopened or
//! removed (gone from every view, kept in the audit with its reason); a record is closed on a
//! teacher's death (sessions end, sign-in and employer checks find nothing); names match with
//! hyphens or spaces and by a previous first name. On embedded stores and PostgreSQL + Redis.

use crate::support::{Harness, Stores, authed, bad_fields, sign_in_request, start};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::employer_access_client::EmployerAccessClient;
use prost_types::FieldMask;
use tonic::Code;

const DOB: &str = "1981-07-09";

async fn teacher(h: &Harness, admin: &str, first: &str, last: &str) -> pb::TeacherRecord {
    h.create_teacher(
        admin,
        pb::CreateTeacherRequest {
            first_name: first.into(),
            last_name: last.into(),
            date_of_birth: DOB.into(),
            ..Default::default()
        },
    )
    .await
}

async fn employer(h: &Harness, admin: &str) -> String {
    h.signed_in_client(admin, "corrections-employer", &["employer:check"])
        .await
}

async fn check(h: &Harness, employer: &str, trn: &str) -> Result<pb::TeacherCheck, tonic::Status> {
    EmployerAccessClient::new(h.gateway.clone())
        .check_teacher(authed(
            pb::CheckTeacherRequest {
                trn: trn.into(),
                date_of_birth: DOB.into(),
            },
            employer,
        ))
        .await
        .map(tonic::Response::into_inner)
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

async fn update_alert(
    h: &Harness,
    admin: &str,
    trn: &str,
    alert: pb::Alert,
    paths: &[&str],
) -> Result<pb::TeacherRecord, tonic::Status> {
    h.admin()
        .update_alert(authed(
            pb::UpdateAlertRequest {
                trn: trn.into(),
                alert: Some(alert),
                update_mask: mask(paths),
            },
            admin,
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn alerts(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let employer = employer(h, &admin).await;
    let record = teacher(h, &admin, "Alys", "Prydderch").await;
    let trn = record.trn.clone();
    let added = h
        .admin()
        .add_alert(authed(
            pb::AddAlertRequest {
                trn: trn.clone(),
                alert: Some(pb::Alert {
                    code: "T1".into(),
                    details: "Panel decision 2021/44.".into(),
                    start_date: "2021-03-01".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let id = added.alerts[0].id.clone();
    assert!(check(h, &employer, &trn).await.unwrap().restricted);

    // Details corrected; the dates, not named, stay.
    let corrected = update_alert(
        h,
        &admin,
        &trn,
        pb::Alert {
            id: id.clone(),
            details: "Panel decision 2021/45.".into(),
            start_date: "1999-01-01".into(),
            ..Default::default()
        },
        &["details"],
    )
    .await
    .unwrap();
    assert_eq!(corrected.alerts[0].details, "Panel decision 2021/45.");
    assert_eq!(corrected.alerts[0].start_date, "2021-03-01");
    // Closed, then reopened by clearing the end date.
    let with_end = |end: &str| pb::Alert {
        id: id.clone(),
        end_date: end.into(),
        ..Default::default()
    };
    let closed = update_alert(h, &admin, &trn, with_end("2022-03-01"), &["end_date"])
        .await
        .unwrap();
    assert_eq!(closed.alerts[0].end_date, "2022-03-01");
    assert!(!check(h, &employer, &trn).await.unwrap().restricted);
    let reopened = update_alert(h, &admin, &trn, with_end(""), &["end_date"])
        .await
        .unwrap();
    assert_eq!(reopened.alerts[0].end_date, "");
    assert!(check(h, &employer, &trn).await.unwrap().restricted);
    // An end before the start, an unknown alert, a field that cannot change.
    let early = update_alert(h, &admin, &trn, with_end("2020-01-01"), &["end_date"])
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&early), ["alert.end_date"]);
    let unknown = update_alert(
        h,
        &admin,
        &trn,
        pb::Alert {
            id: "999999".into(),
            details: "x".into(),
            ..Default::default()
        },
        &["details"],
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let code = update_alert(h, &admin, &trn, with_end(""), &["code"])
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&code), ["update_mask"]);

    // Removed as entered in error: a reason is required; then gone from every view.
    let delete = |reason: &str| pb::DeleteAlertRequest {
        trn: trn.clone(),
        alert_id: id.clone(),
        reason: reason.into(),
    };
    let no_reason = h
        .admin()
        .delete_alert(authed(delete(" "), &admin))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&no_reason), ["reason"]);
    let removed = h
        .admin()
        .delete_alert(authed(delete("Entered on the wrong record."), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(removed.alerts.is_empty() && !removed.restricted);
    let seen = check(h, &employer, &trn).await.unwrap();
    assert!(seen.restrictions.is_empty() && !seen.restricted);
    let token = h.sign_in_teacher(&record).await.token;
    let own = h
        .portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert!(own.alerts.is_empty());
    let again = h
        .admin()
        .delete_alert(authed(delete("Twice."), &admin))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
    let audit = h.audit_events(&admin, &trn).await;
    let removal = audit
        .iter()
        .find(|e| e.action == "teacher.delete_alert")
        .expect("the removal is audited");
    assert!(removal.details.contains("T1") && removal.details.contains("wrong record"));
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "teacher.update_alert")
            .count(),
        3
    );
}

#[tokio::test]
async fn alerts_are_corrected_reopened_and_removed_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    alerts(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn alerts_are_corrected_reopened_and_removed_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    alerts(&h).await;
    h.shutdown().await;
}

async fn deceased(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let employer = employer(h, &admin).await;
    let record = teacher(h, &admin, "Gwilym", "Rhys").await;
    let trn = record.trn.clone();
    let session = h.sign_in_teacher(&record).await.token;
    let set = |date: &str| pb::SetDeceasedRequest {
        trn: trn.clone(),
        date_of_death: date.into(),
    };
    for (date, why) in [
        ("1970-01-01", "before birth"),
        ("2999-01-01", "future"),
        ("", "none"),
    ] {
        let status = h
            .admin()
            .set_deceased(authed(set(date), &admin))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&status), ["date_of_death"], "{why}");
    }
    // Nothing changed by the refusals.
    h.portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &session))
        .await
        .expect("still open");
    let closed = h
        .admin()
        .set_deceased(authed(set("2026-02-03"), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.date_of_death, "2026-02-03");
    assert_eq!(closed.status(), pb::PersonStatus::Deactivated);
    let ended = h
        .portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &session))
        .await
        .unwrap_err();
    assert_eq!(ended.code(), Code::Unauthenticated, "the session ended");
    let refused = h
        .auth()
        .sign_in_teacher(sign_in_request(&record))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let unknown = check(h, &employer, "9999999").await.unwrap_err();
    let not_in_use = check(h, &employer, &trn).await.unwrap_err();
    assert_eq!(not_in_use.code(), Code::NotFound);
    assert_eq!(not_in_use.message(), unknown.message());
    // Repeating the call changes nothing more.
    h.admin()
        .set_deceased(authed(set("2026-02-03"), &admin))
        .await
        .expect("idempotent");
}

#[tokio::test]
async fn a_record_closed_on_a_death_ends_sessions_and_is_found_by_no_one_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    deceased(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_record_closed_on_a_death_ends_sessions_and_is_found_by_no_one_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    deceased(&h).await;
    h.shutdown().await;
}

async fn kinder(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let employer = employer(h, &admin).await;
    let record = teacher(h, &admin, "Mary-Jane", "Smith Jones").await;
    let sign_in = |forename: &str, surname: &str| pb::SignInTeacherRequest {
        trn: record.trn.clone(),
        surname: surname.into(),
        forename: forename.into(),
        date_of_birth: DOB.into(),
        ..Default::default()
    };
    for (forename, surname) in [
        ("Mary Jane", "Smith-Jones"),
        ("mary  jane", "smith - jones"),
    ] {
        h.auth()
            .sign_in_teacher(sign_in(forename, surname))
            .await
            .expect("hyphens and spaces alike");
    }
    // A new first name: the previous one still signs in, as a previous surname does.
    h.admin()
        .update_teacher(authed(
            pb::UpdateTeacherRequest {
                trn: record.trn.clone(),
                teacher: Some(pb::TeacherRecord {
                    first_name: "Maria".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["first_name"]),
            },
            &admin,
        ))
        .await
        .unwrap();
    for forename in ["Maria", "Mary Jane"] {
        h.auth()
            .sign_in_teacher(sign_in(forename, "Smith Jones"))
            .await
            .expect("current or previous first name");
    }
    let wrong = h
        .auth()
        .sign_in_teacher(sign_in("Marianne", "Smith Jones"))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let found = EmployerAccessClient::new(h.gateway.clone())
        .find_teachers(authed(
            pb::FindTeachersRequest {
                surname: "Smith-Jones".into(),
                date_of_birth: DOB.into(),
            },
            &employer,
        ))
        .await
        .unwrap()
        .into_inner()
        .teachers;
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn names_match_with_hyphens_or_spaces_and_by_a_previous_first_name_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    kinder(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn names_match_with_hyphens_or_spaces_and_by_a_previous_first_name_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    kinder(&h).await;
    h.shutdown().await;
}
