//! The change feed (Administration.WatchChanges) through the gateway: every change to a record
//! is an event carrying the record after it, in commit order; a consumer resuming from any
//! cursor misses nothing and sees nothing twice, also with two record-service instances
//! writing at once; old cursors are OUT_OF_RANGE once pruned; a stream ends when its session
//! does. On embedded stores and PostgreSQL + Redis.

use std::time::Duration;

use crate::support::{Harness, Stores, authed, bad_fields, start};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::record::v1::record_service_client::RecordServiceClient;
use pb::ChangeEventType as Type;
use portal_common::component::names;
use tonic::Code;
use tonic::codec::Streaming;

const DOB: &str = "1979-03-14";

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

/// Changes the field at `path` of the record of `trn` to its value in `record`.
async fn update(h: &Harness, admin: &str, trn: &str, record: pb::TeacherRecord, path: &str) {
    h.admin()
        .update_teacher(authed(
            pb::UpdateTeacherRequest {
                trn: trn.to_owned(),
                teacher: Some(record),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec![path.into()],
                }),
            },
            admin,
        ))
        .await
        .unwrap();
}

fn after(cursor: &str) -> pb::WatchChangesRequest {
    pb::WatchChangesRequest {
        after_cursor: cursor.into(),
        ..Default::default()
    }
}

async fn watch(
    h: &Harness,
    token: &str,
    request: pb::WatchChangesRequest,
) -> Result<Streaming<pb::ChangeEvent>, tonic::Status> {
    h.admin()
        .watch_changes(authed(request, token))
        .await
        .map(tonic::Response::into_inner)
}

/// The next `n` events of a stream, failing the test if they do not come within 10 s.
async fn take(stream: &mut Streaming<pb::ChangeEvent>, n: usize) -> Vec<pb::ChangeEvent> {
    let mut events = Vec::new();
    while events.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} events came", events.len()));
        events.push(next.expect("the stream goes on").expect("an event"));
    }
    events
}

/// Whether the stream stays quiet for a moment.
async fn quiet(stream: &mut Streaming<pb::ChangeEvent>) -> bool {
    tokio::time::timeout(Duration::from_millis(400), stream.message())
        .await
        .is_err()
}

fn kinds(events: &[pb::ChangeEvent]) -> Vec<Type> {
    events.iter().map(pb::ChangeEvent::r#type).collect()
}

fn cursors(events: &[pb::ChangeEvent]) -> Vec<&str> {
    events.iter().map(|e| e.cursor.as_str()).collect()
}

async fn changes_are_told(h: &Harness) {
    let admin = h.sign_in_admin().await;
    // A consumer that starts before anything happened: the live part of the feed.
    let mut live = watch(h, &admin, after("")).await.unwrap();
    let record = teacher(h, &admin, "Ffion", "Bevan").await;
    let trn = record.trn.clone();
    let other = teacher(h, &admin, "Gwilym", "Lloyd").await;
    let admin_client = || h.admin();
    admin_client()
        .update_teacher(authed(
            pb::UpdateTeacherRequest {
                trn: trn.clone(),
                teacher: Some(pb::TeacherRecord {
                    last_name: "Bevan Jones".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["last_name".into()],
                }),
            },
            &admin,
        ))
        .await
        .unwrap();
    let added = admin_client()
        .add_alert(authed(
            pb::AddAlertRequest {
                trn: trn.clone(),
                alert: Some(pb::Alert {
                    code: "T1".into(),
                    start_date: "2021-02-03".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    admin_client()
        .close_alert(authed(
            pb::CloseAlertRequest {
                trn: trn.clone(),
                alert_id: added.alerts[0].id.clone(),
                end_date: "2022-02-03".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    admin_client()
        .set_qtls_status(authed(
            pb::SetQtlsStatusRequest {
                trn: trn.clone(),
                qtls_status: pb::QtlsStatus::Active.into(),
                awarded_date: "2019-09-01".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    admin_client()
        .set_deceased(authed(
            pb::SetDeceasedRequest {
                trn: other.trn.clone(),
                date_of_death: "2024-01-02".into(),
            },
            &admin,
        ))
        .await
        .unwrap();

    let events = take(&mut live, 7).await;
    assert_eq!(
        kinds(&events),
        [
            Type::TeacherCreated,
            Type::TeacherCreated,
            Type::TeacherUpdated,
            Type::AlertAdded,
            Type::AlertClosed,
            Type::QtlsUpdated,
            Type::TeacherDeceased,
        ]
    );
    assert!(quiet(&mut live).await, "nothing more, nothing twice");
    let trns: Vec<&str> = events.iter().map(|e| e.trn.as_str()).collect();
    assert_eq!(trns, [&trn, &other.trn, &trn, &trn, &trn, &trn, &other.trn]);
    // Each carries the record as the change left it, in the internal view.
    let record_of = |i: usize| events[i].record.clone().unwrap();
    assert_eq!(record_of(0).last_name, "Bevan");
    assert_eq!(record_of(2).last_name, "Bevan Jones");
    assert_eq!(record_of(2).previous_names[0].last_name, "Bevan");
    assert_eq!(record_of(3).alerts.len(), 1);
    assert!(record_of(3).alerts[0].end_date.is_empty());
    assert_eq!(record_of(4).alerts[0].end_date, "2022-02-03");
    assert_eq!(record_of(5).qtls_status(), pb::QtlsStatus::Active);
    assert_eq!(record_of(6).date_of_death, "2024-01-02");
    assert!(events.iter().all(|e| e.time.is_some()));

    // From the start again, and from every cursor: exactly what followed it.
    let mut again = watch(h, &admin, after("")).await.unwrap();
    assert_eq!(cursors(&take(&mut again, 7).await), cursors(&events));
    for (i, event) in events.iter().enumerate() {
        let mut resumed = watch(h, &admin, after(&event.cursor)).await.unwrap();
        let rest = take(&mut resumed, events.len() - i - 1).await;
        assert_eq!(cursors(&rest), cursors(&events[i + 1..]), "after event {i}");
        assert!(quiet(&mut resumed).await, "after event {i}: nothing twice");
    }

    // Filters: by type, by record, both.
    let alerts_only = pb::WatchChangesRequest {
        event_types: vec![Type::AlertAdded.into(), Type::AlertClosed.into()],
        ..Default::default()
    };
    let mut filtered = watch(h, &admin, alerts_only).await.unwrap();
    assert_eq!(
        kinds(&take(&mut filtered, 2).await),
        [Type::AlertAdded, Type::AlertClosed]
    );
    assert!(quiet(&mut filtered).await);
    let of_other = pb::WatchChangesRequest {
        trns: vec![other.trn.clone()],
        ..Default::default()
    };
    let mut filtered = watch(h, &admin, of_other).await.unwrap();
    assert_eq!(
        kinds(&take(&mut filtered, 2).await),
        [Type::TeacherCreated, Type::TeacherDeceased]
    );
    // A filtered stream goes on live.
    admin_client()
        .add_alert(authed(
            pb::AddAlertRequest {
                trn: other.trn.clone(),
                alert: Some(pb::Alert {
                    code: "T2".into(),
                    start_date: "2021-02-03".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap();
    assert_eq!(kinds(&take(&mut filtered, 1).await), [Type::AlertAdded]);
    assert_eq!(kinds(&take(&mut live, 1).await), [Type::AlertAdded]);

    // The rest of the kinds: a TRN request answered with a new record, a qualification, a
    // deactivation and a merge, each carrying what it is about.
    let rest_only = pb::WatchChangesRequest {
        after_cursor: events.last().unwrap().cursor.clone(),
        event_types: vec![
            Type::TeacherCreated.into(),
            Type::TrnRequestCompleted.into(),
            Type::QualificationAdded.into(),
            Type::TeacherDeactivated.into(),
            Type::TeacherMerged.into(),
        ],
        ..Default::default()
    };
    let mut rest = watch(h, &admin, rest_only).await.unwrap();
    let answered = admin_client()
        .create_trn_request(authed(
            pb::CreateTrnRequestRequest {
                request_id: "feed-request-1".into(),
                first_name: "Mabli".into(),
                last_name: "Hughes".into(),
                date_of_birth: "1996-04-05".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    admin_client()
        .add_qualification(authed(
            pb::AddQualificationRequest {
                trn: answered.trn.clone(),
                qualification: Some(pb::add_qualification_request::Qualification::Npq(
                    pb::NpqQualification {
                        r#type: pb::NpqType::Npqh.into(),
                        awarded_date: "2023-02-10".into(),
                        ..Default::default()
                    },
                )),
            },
            &admin,
        ))
        .await
        .unwrap();
    let duplicate = teacher(h, &admin, "Mabli", "Hughes").await;
    let merged = pb::TeacherRecord {
        merged_into_trn: answered.trn.clone(),
        ..Default::default()
    };
    update(h, &admin, &duplicate.trn, merged, "merged_into_trn").await;
    let deactivated = pb::TeacherRecord {
        status: pb::PersonStatus::Deactivated.into(),
        ..Default::default()
    };
    update(h, &admin, &answered.trn, deactivated, "status").await;
    let told = take(&mut rest, 6).await;
    assert_eq!(
        kinds(&told),
        [
            Type::TeacherCreated,
            Type::TrnRequestCompleted,
            Type::QualificationAdded,
            Type::TeacherCreated,
            Type::TeacherMerged,
            Type::TeacherDeactivated,
        ]
    );
    assert_eq!(told[1].trn_request.clone().unwrap().trn, answered.trn);
    assert_eq!(told[2].record.clone().unwrap().npq_qualifications.len(), 1);
    assert_eq!(
        told[4].record.clone().unwrap().merged_into_trn,
        answered.trn
    );
    assert_eq!(
        told[5].record.clone().unwrap().status(),
        pb::PersonStatus::Deactivated
    );

    // Bad input names its field; a cursor never given is refused too.
    let bad = pb::WatchChangesRequest {
        after_cursor: "not a cursor".into(),
        event_types: vec![99],
        trns: vec!["12".into()],
    };
    let refused = watch(h, &admin, bad).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&refused),
        ["after_cursor", "event_types", "trns"]
    );
    let beyond = watch(h, &admin, after("AAAAAAAAA-c")).await.unwrap_err();
    assert_eq!(bad_fields(&beyond), ["after_cursor"]);

    // Only `changes:read` reads the feed.
    let reader = h
        .signed_in_client(&admin, "feed-no-role", &["records:read"])
        .await;
    let denied = watch(h, &reader, after("")).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    // Of the components, only the notification service reads it.
    let signer = h.stack.as_ref().unwrap().signer().clone();
    let mut record = RecordServiceClient::connect(format!("http://{}", h.addr(names::RECORD)))
        .await
        .unwrap();
    for (component, allowed) in [(names::DOCUMENT, false), (names::NOTIFICATION, true)] {
        let caller = portal_common::Caller {
            principal: portal_common::Principal::Service(component.into()),
            request_id: "feed-test".into(),
            on_behalf_of: None,
            session_id: None,
            source: None,
        };
        let answer = record
            .watch_changes(signer.asserted(after(""), &caller))
            .await;
        assert_eq!(answer.is_ok(), allowed, "{component}");
    }
}

#[tokio::test]
async fn every_change_is_told_in_order_and_a_consumer_resumes_exactly_embedded() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    changes_are_told(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn every_change_is_told_in_order_and_a_consumer_resumes_exactly_postgres() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    changes_are_told(&h).await;
    h.shutdown().await;
}

/// Writers on two record-service instances over one database, several at once on each, while a
/// consumer follows live: every change is told once, each record's in the order it was made,
/// and a consumer resuming from any cursor gets exactly the rest; also when changes commit out
/// of the order in which they took their ids.
#[tokio::test]
async fn two_instances_writing_at_once_lose_and_repeat_nothing() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    let admin = h.sign_in_admin().await;
    let signer = h.stack.as_ref().unwrap().signer().clone();
    let second = portal::Stack::start(&h.config, &[names::RECORD], signer.clone())
        .await
        .expect("a second record service starts");
    let direct = RecordServiceClient::connect(format!("http://{}", second.addr(names::RECORD)))
        .await
        .unwrap();
    let writer = portal_common::Caller {
        principal: portal_common::Principal::Client {
            client_id: "admin".into(),
            roles: vec![portal_common::Role::RecordsWrite],
        },
        request_id: "feed-test".into(),
        on_behalf_of: None,
        session_id: None,
        source: None,
    };
    const RECORDS: usize = 6;
    const CHANGES: usize = 8;
    let mut records = Vec::new();
    for i in 0..RECORDS {
        let name = ["Aled", "Bethan", "Cai", "Dilys", "Emyr", "Fflur"][i];
        records.push(teacher(&h, &admin, name, "Owen").await.trn);
    }
    let mut live = watch(&h, &admin, after("")).await.unwrap();
    let created = take(&mut live, RECORDS).await;
    // Each record is changed CHANGES times in turn, half the records through each instance,
    // all records at once. A round is repeated (up to five) until some change took its audit
    // row's id before another's yet committed after it: the case an outbox ordered by ids taken
    // at insert gets wrong.
    let letters = ["Ab", "Bc", "Cd", "De", "Ef", "Fg", "Gh", "Hi"];
    let mut all: Vec<pb::ChangeEvent> = created;
    let mut inverted = false;
    for round in ["", "a", "b", "c", "d"] {
        let names: Vec<String> = letters.iter().map(|l| format!("{l}{round}")).collect();
        let mut writers = tokio::task::JoinSet::new();
        for (i, trn) in records.iter().enumerate() {
            let (trn, admin, names) = (trn.clone(), admin.clone(), names.clone());
            let (mut direct, signer, writer) = (direct.clone(), signer.clone(), writer.clone());
            let mut gateway = h.admin();
            writers.spawn(async move {
                for name in names.iter().take(CHANGES) {
                    let request = pb::UpdateTeacherRequest {
                        trn: trn.clone(),
                        teacher: Some(pb::TeacherRecord {
                            middle_name: name.clone(),
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["middle_name".into()],
                        }),
                    };
                    if i % 2 == 0 {
                        gateway
                            .update_teacher(authed(request, &admin))
                            .await
                            .unwrap();
                    } else {
                        let deadline = portal_common::deadline::DEFAULT_DEADLINE;
                        let signed = signer.request(request, &writer, deadline);
                        direct.update_teacher(signed).await.unwrap();
                    }
                }
            });
        }
        writers.join_all().await;
        let events = take(&mut live, RECORDS * CHANGES).await;
        assert!(quiet(&mut live).await, "nothing twice");
        for trn in &records {
            let told: Vec<String> = events
                .iter()
                .filter(|e| &e.trn == trn)
                .map(|e| e.record.clone().unwrap().middle_name)
                .collect();
            assert_eq!(told, names, "each record's changes in order");
        }
        // The records in the order their audit rows took ids, against the feed's order.
        let audit = h
            .admin()
            .list_audit_events(authed(
                pb::ListAuditEventsRequest {
                    page_size: 500,
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .events;
        let by_id: Vec<String> = audit
            .into_iter()
            .rev()
            .filter(|e| e.action == "teacher.update" && records.contains(&e.trn))
            .map(|e| e.trn)
            .skip(all.len() - RECORDS)
            .collect();
        let by_commit: Vec<String> = events.iter().map(|e| e.trn.clone()).collect();
        inverted = by_id != by_commit;
        all.extend(events);
        if inverted {
            break;
        }
    }
    assert!(
        inverted,
        "no change committed out of the order of its ids in five rounds"
    );
    // Resuming anywhere gives exactly the rest, whichever instance wrote it.
    for i in [0, 7, 19, all.len() - 2] {
        let mut resumed = watch(&h, &admin, after(&all[i].cursor)).await.unwrap();
        let rest = take(&mut resumed, all.len() - i - 1).await;
        assert_eq!(cursors(&rest), cursors(&all[i + 1..]), "after event {i}");
    }
    second.shutdown().await.unwrap();
    h.shutdown().await;
}

/// Events past their retention are pruned; a cursor before them is OUT_OF_RANGE, and an empty
/// cursor starts at the oldest kept.
async fn old_cursors_are_out_of_range(stores: Stores) {
    let Some(h) = start(stores, |config| {
        config.record.change_retention_days = 2.0 / 86_400.0;
    })
    .await
    else {
        return;
    };
    let admin = h.sign_in_admin().await;
    let first = teacher(&h, &admin, "Heulwen", "Rees").await;
    teacher(&h, &admin, "Hywel", "Rees").await;
    let mut stream = watch(&h, &admin, after("")).await.unwrap();
    let old = take(&mut stream, 2).await;
    assert_eq!(old[0].trn, first.trn);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let second = teacher(&h, &admin, "Iolo", "Rees").await;
    // After the first, the second is gone: too old. After the second, nothing is missing.
    let refused = watch(&h, &admin, after(&old[0].cursor)).await.unwrap_err();
    assert_eq!(refused.code(), Code::OutOfRange);
    let mut resumed = watch(&h, &admin, after(&old[1].cursor)).await.unwrap();
    assert_eq!(take(&mut resumed, 1).await[0].trn, second.trn);
    let mut fresh = watch(&h, &admin, after("")).await.unwrap();
    assert_eq!(take(&mut fresh, 1).await[0].trn, second.trn);
    h.shutdown().await;
}

#[tokio::test]
async fn cursors_past_retention_are_out_of_range_embedded() {
    old_cursors_are_out_of_range(Stores::Embedded).await;
}

#[tokio::test]
async fn cursors_past_retention_are_out_of_range_postgres() {
    old_cursors_are_out_of_range(Stores::PostgresRedis).await;
}

/// A stream ends, UNAUTHENTICATED, soon after its session does: signed out, or its client's
/// sessions ended by a change to the client. Its own deadline ends it too.
async fn streams_end_with_their_session(stores: Stores) {
    let Some(h) = start(stores, |_| {}).await else {
        return;
    };
    let admin = h.sign_in_admin().await;
    let reader = h
        .signed_in_client(&admin, "feed-reader", &["changes:read"])
        .await;
    let mut stream = watch(&h, &reader, after("")).await.unwrap();
    teacher(&h, &admin, "Jac", "Morgan").await;
    take(&mut stream, 1).await;
    h.auth()
        .sign_out(authed(pb::SignOutRequest {}, &reader))
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(3), stream.message())
        .await
        .expect("the stream ends promptly")
        .unwrap_err();
    assert_eq!(ended.code(), Code::Unauthenticated);

    // Ended by a change to the client (a new secret, then a new name).
    let rotated = h
        .admin()
        .rotate_client_secret(authed(
            pb::RotateClientSecretRequest {
                client_id: "feed-reader".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let reader = h
        .auth()
        .sign_in_client(pb::SignInClientRequest {
            client_id: rotated.client_id.clone(),
            client_secret: rotated.client_secret,
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    let mut stream = watch(&h, &reader, after("")).await.unwrap();
    take(&mut stream, 1).await;
    h.admin()
        .update_client(authed(
            pb::UpdateClientRequest {
                client: Some(pb::Client {
                    client_id: rotated.client_id.clone(),
                    display_name: "Feed reader renamed".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
            },
            &admin,
        ))
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(3), stream.message())
        .await
        .expect("the stream ends promptly")
        .unwrap_err();
    assert_eq!(ended.code(), Code::Unauthenticated);

    // The caller's deadline ends a stream; without one it runs on past the 10 s that other
    // calls are given when they set none.
    let mut endless = watch(&h, &admin, after("")).await.unwrap();
    let mut request = authed(after(""), &admin);
    request.set_timeout(Duration::from_millis(1500));
    let mut stream = h.admin().watch_changes(request).await.unwrap().into_inner();
    take(&mut stream, 1).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the deadline ends it")
        .unwrap_err();
    assert_eq!(ended.code(), Code::DeadlineExceeded);
    take(&mut endless, 1).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    let later = teacher(&h, &admin, "Lowri", "Morgan").await;
    assert_eq!(take(&mut endless, 1).await[0].trn, later.trn);
    h.shutdown().await;
}

#[tokio::test]
async fn streams_end_with_their_session_embedded() {
    streams_end_with_their_session(Stores::Embedded).await;
}

#[tokio::test]
async fn streams_end_with_their_session_postgres() {
    streams_end_with_their_session(Stores::PostgresRedis).await;
}

/// A stream ends, UNAUTHENTICATED, when its session reaches its absolute lifetime, however
/// busy the stream is.
#[tokio::test]
async fn streams_end_when_their_session_expires() {
    let h = start(Stores::Embedded, |config| {
        config.shared.client_session_seconds = 3;
    })
    .await
    .unwrap();
    let admin = h.sign_in_admin().await;
    let mut stream = watch(&h, &admin, after("")).await.unwrap();
    let started = std::time::Instant::now();
    let ended = loop {
        // Changes keep coming while the session runs out.
        let writer = h.sign_in_admin().await;
        teacher(&h, &writer, "Nest", "Parry").await;
        match tokio::time::timeout(Duration::from_millis(500), stream.message()).await {
            Ok(Err(status)) => break status,
            Ok(Ok(Some(_))) | Err(_) => {}
            Ok(Ok(None)) => panic!("the stream ended without a status"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the stream outlived its session"
        );
    };
    assert_eq!(ended.code(), Code::Unauthenticated);
    assert!(started.elapsed() >= Duration::from_secs(2));
    h.shutdown().await;
}
