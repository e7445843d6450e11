//! The employer watch list: a client watches the teachers it employs (matched as a check is),
//! lists them, and follows the changes an employer may see to them (restrictions, QTS,
//! induction, a record no longer in use) and nothing else: not other teachers', not names, not
//! what happened before it watched. Each watch, listing and delivery is audited, and the teacher
//! sees the watch among the checks of their record. On embedded stores and PostgreSQL + Redis.

use std::time::Duration;

use crate::support::{Harness, Stores, authed, bad_fields, start};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::employer_access_client::EmployerAccessClient;
use tonic::Code;
use tonic::codec::Streaming;

const DOB: &str = "1984-11-20";
const EMAIL: &str = "watched.teacher@example.org";

fn employer(h: &Harness) -> EmployerAccessClient<tonic::transport::Channel> {
    EmployerAccessClient::new(h.gateway.clone())
}

async fn teacher(h: &Harness, admin: &str, first: &str) -> pb::TeacherRecord {
    h.create_teacher(
        admin,
        pb::CreateTeacherRequest {
            first_name: first.into(),
            last_name: "Pritchard".into(),
            date_of_birth: DOB.into(),
            contact_details: Some(pb::ContactDetails {
                email: EMAIL.into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
}

async fn watch(
    h: &Harness,
    token: &str,
    trn: &str,
    date_of_birth: &str,
) -> Result<pb::WatchedTeacher, tonic::Status> {
    employer(h)
        .watch_teacher(authed(
            pb::WatchTeacherRequest {
                trn: trn.into(),
                date_of_birth: date_of_birth.into(),
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn changes(h: &Harness, token: &str, after: &str) -> Streaming<pb::RestrictionChange> {
    employer(h)
        .watch_restriction_changes(authed(
            pb::WatchRestrictionChangesRequest {
                after_cursor: after.into(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn next(stream: &mut Streaming<pb::RestrictionChange>) -> pb::RestrictionChange {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a change comes")
        .unwrap()
        .expect("the stream goes on")
}

async fn quiet(stream: &mut Streaming<pb::RestrictionChange>) -> bool {
    tokio::time::timeout(Duration::from_millis(400), stream.message())
        .await
        .is_err()
}

async fn add_alert(h: &Harness, admin: &str, trn: &str, code: &str) -> pb::TeacherRecord {
    h.admin()
        .add_alert(authed(
            pb::AddAlertRequest {
                trn: trn.into(),
                alert: Some(pb::Alert {
                    code: code.into(),
                    start_date: "2023-05-06".into(),
                    ..Default::default()
                }),
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn watching(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let oakwood = h
        .signed_in_client(&admin, "watch-oakwood", &["employer:check"])
        .await;
    let other = h
        .signed_in_client(&admin, "watch-elmtree", &["employer:check"])
        .await;
    let watched = teacher(h, &admin, "Nia").await;
    let unwatched = teacher(h, &admin, "Osian").await;
    // Before the watch: never told.
    add_alert(h, &admin, &watched.trn, "T2").await;

    // Matched as a check: a wrong date of birth is the NOT_FOUND of an unknown TRN.
    let wrong = watch(h, &oakwood, &watched.trn, "1984-11-21")
        .await
        .unwrap_err();
    let unknown = watch(h, &oakwood, "9999999", DOB).await.unwrap_err();
    assert_eq!(
        (wrong.code(), unknown.code()),
        (Code::NotFound, Code::NotFound)
    );
    assert_eq!(wrong.message(), unknown.message());
    let bad = watch(h, &oakwood, "12", "yesterday").await.unwrap_err();
    assert_eq!(bad_fields(&bad), ["trn", "date_of_birth"]);

    let first = watch(h, &oakwood, &watched.trn, DOB).await.unwrap();
    assert_eq!(first.trn, watched.trn);
    let again = watch(h, &oakwood, &watched.trn, DOB).await.unwrap();
    assert_eq!(
        again.watch_time, first.watch_time,
        "watching twice is one watch"
    );

    let mut stream = changes(h, &oakwood, "").await;
    let mut elsewhere = changes(h, &other, "").await;
    assert!(quiet(&mut stream).await, "nothing from before the watch");

    // What an employer may see changes: told, with the check after it.
    let added = add_alert(h, &admin, &watched.trn, "T1").await;
    let told = next(&mut stream).await;
    assert_eq!(told.trn, watched.trn);
    let check = told.teacher.clone().unwrap();
    assert!(check.restricted);
    assert_eq!(check.restrictions.len(), 2);
    // Not told: a name, another teacher.
    h.admin()
        .update_teacher(authed(
            pb::UpdateTeacherRequest {
                trn: watched.trn.clone(),
                teacher: Some(pb::TeacherRecord {
                    middle_name: "Elin".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["middle_name".into()],
                }),
            },
            &admin,
        ))
        .await
        .unwrap();
    add_alert(h, &admin, &unwatched.trn, "T1").await;
    let t1 = added.alerts.iter().find(|a| a.code == "T1").unwrap();
    h.admin()
        .close_alert(authed(
            pb::CloseAlertRequest {
                trn: watched.trn.clone(),
                alert_id: t1.id.clone(),
                end_date: "2024-01-01".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let closed = next(&mut stream).await;
    assert_eq!(closed.teacher.unwrap().restrictions.len(), 1);
    // A record no longer in use: told, with no check to show.
    h.admin()
        .set_deceased(authed(
            pb::SetDeceasedRequest {
                trn: watched.trn.clone(),
                date_of_death: "2024-06-01".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let gone = next(&mut stream).await;
    assert_eq!(gone.trn, watched.trn);
    assert!(gone.teacher.is_none());
    assert!(quiet(&mut stream).await, "nothing else");
    assert!(quiet(&mut elsewhere).await, "another client watches nobody");

    // Resuming after the first change gives the other two.
    let mut resumed = changes(h, &oakwood, &told.cursor).await;
    assert_eq!(next(&mut resumed).await.cursor, closed.cursor);
    assert_eq!(next(&mut resumed).await.cursor, gone.cursor);

    // The list shows what a check shows now: a record no longer in use is left out.
    let living = teacher(h, &admin, "Rhys").await;
    watch(h, &oakwood, &living.trn, DOB).await.unwrap();
    let list = |token: String| async move {
        employer(h)
            .list_watched_teachers(authed(pb::ListWatchedTeachersRequest::default(), &token))
            .await
            .unwrap()
            .into_inner()
            .teachers
    };
    let listed = list(oakwood.clone()).await;
    assert_eq!(
        listed.iter().map(|t| t.trn.as_str()).collect::<Vec<_>>(),
        [living.trn.as_str()]
    );
    assert!(list(other.clone()).await.is_empty());
    // A page at a time, oldest watch first: the first holds the record no longer in use, so
    // shows nothing, and says where to go on.
    let page = |token: String| {
        let request = authed(
            pb::ListWatchedTeachersRequest {
                page_size: 1,
                page_token: token,
            },
            &oakwood,
        );
        async move { employer(h).list_watched_teachers(request).await }
    };
    let first_page = page(String::new()).await.unwrap().into_inner();
    assert!(first_page.teachers.is_empty());
    assert!(!first_page.next_page_token.is_empty());
    let second_page = page(first_page.next_page_token).await.unwrap().into_inner();
    assert_eq!(second_page.teachers[0].trn, living.trn);
    assert!(second_page.next_page_token.is_empty());
    let bad = page("not a token".into()).await.unwrap_err();
    assert_eq!(bad_fields(&bad), ["page_token"]);
    employer(h)
        .unwatch_teacher(authed(
            pb::UnwatchTeacherRequest {
                trn: living.trn.clone(),
            },
            &oakwood,
        ))
        .await
        .unwrap();
    assert!(list(oakwood.clone()).await.is_empty());
    let again = employer(h)
        .unwatch_teacher(authed(
            pb::UnwatchTeacherRequest {
                trn: living.trn.clone(),
            },
            &oakwood,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);

    // Every watch, delivery and listing is in the audit log.
    let actions: Vec<String> = h
        .audit_events(&admin, &watched.trn)
        .await
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("employer."))
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "employer.watch_delivery")
            .count(),
        5,
        "three delivered live, two on resuming: {actions:?}"
    );
    assert_eq!(actions.iter().filter(|a| *a == "employer.watch").count(), 2);
    let living_actions: Vec<String> = h
        .audit_events(&admin, &living.trn)
        .await
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("employer."))
        .collect();
    assert_eq!(
        living_actions,
        [
            "employer.unwatch",
            "employer.watch_list",
            "employer.watch_list",
            "employer.watch"
        ]
    );

    // The teacher sees the watch among the checks of their record.
    let token = h.verified_teacher(&living).await;
    let seen = h
        .portal()
        .list_my_record_checks(authed(pb::ListMyRecordChecksRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .checks;
    assert_eq!(
        seen.iter().map(|c| c.kind()).collect::<Vec<_>>(),
        [pb::RecordCheckKind::Watch]
    );
    assert_eq!(seen[0].organisation, "Client watch-oakwood");
}

#[tokio::test]
async fn an_employer_watches_its_teachers_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    watching(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn an_employer_watches_its_teachers_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    watching(&h).await;
    h.shutdown().await;
}
