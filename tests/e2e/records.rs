//! The teacher record through the public API: Administration writes and their rules, what the
//! teacher and internal readers see, the audit of every write and non-teacher read, and TRN
//! allocation under concurrent creates; on embedded stores and on PostgreSQL + Redis.

use std::collections::BTreeSet;

use crate::support::{Harness, Stores, authed, bad_fields, start};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::record::v1::record_service_client::RecordServiceClient;
use portal_common::component::names;
use portal_common::deadline::DEFAULT_DEADLINE;
use portal_common::{Caller, Principal};
use prost_types::FieldMask;
use tonic::Code;
use tonic::metadata::MetadataValue;

const DOB: &str = "1985-03-14";

fn new_teacher() -> pb::CreateTeacherRequest {
    pb::CreateTeacherRequest {
        first_name: "Zoë".into(),
        last_name: "Murphy".into(),
        date_of_birth: DOB.into(),
        national_insurance_number: "AB123456C".into(),
        ..Default::default()
    }
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

fn qts_held() -> pb::ProfessionalStatus {
    pb::ProfessionalStatus {
        r#type: pb::ProfessionalStatusType::Qts.into(),
        route: pb::Route::HigherEducation.into(),
        status: pb::RouteStatus::Holds.into(),
        awarded_date: "2012-06-30".into(),
        exempt_from_induction: Some(false),
        training: None,
    }
}

fn passed_induction() -> pb::Induction {
    pb::Induction {
        status: pb::InductionStatus::Passed.into(),
        start_date: "2012-09-03".into(),
        completed_date: "2013-07-19".into(),
        periods: vec![pb::InductionPeriod {
            appropriate_body: "Leeds City Council".into(),
            start_date: "2012-09-03".into(),
            end_date: "2013-07-19".into(),
            terms: 3,
        }],
        ..Default::default()
    }
}

fn alert(code: &str, start: &str) -> pb::Alert {
    pb::Alert {
        code: code.into(),
        details: "Case reference and notes".into(),
        start_date: start.into(),
        ..Default::default()
    }
}

async fn sign_in_teacher(h: &Harness, trn: &str, surname: &str) -> Result<String, tonic::Status> {
    h.auth()
        .sign_in_teacher(pb::SignInTeacherRequest {
            trn: trn.into(),
            surname: surname.into(),
            forename: "Zoë".into(),
            date_of_birth: DOB.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().token)
}

fn codes(alerts: &[pb::Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.code.as_str()).collect()
}

/// Administration writes build up a whole record; each returns the record as it now stands.
async fn maintain_a_record(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let created = h.create_teacher(&admin, new_teacher()).await;
    let trn = created.trn.clone();
    assert_eq!(
        created.induction.unwrap().status,
        pb::InductionStatus::None as i32
    );
    assert_eq!(created.status, pb::PersonStatus::Active as i32);

    // A first QTS makes induction required.
    let record = h
        .admin()
        .add_professional_status(authed(
            pb::AddProfessionalStatusRequest {
                trn: trn.clone(),
                professional_status: Some(qts_held()),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(record.qts_date, "2012-06-30");
    assert_eq!(record.professional_statuses, [qts_held()]);
    assert_eq!(
        record.induction.unwrap().status,
        pb::InductionStatus::RequiredToComplete as i32
    );
    let again = h
        .admin()
        .add_professional_status(authed(
            pb::AddProfessionalStatusRequest {
                trn: trn.clone(),
                professional_status: Some(qts_held()),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    let record = h
        .admin()
        .set_induction(authed(
            pb::SetInductionRequest {
                trn: trn.clone(),
                induction: Some(passed_induction()),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(record.induction, Some(passed_induction()));

    let npq = pb::NpqQualification {
        r#type: pb::NpqType::Npqh.into(),
        awarded_date: "2023-02-10".into(),
        ..Default::default()
    };
    let add_npq = || {
        authed(
            pb::AddQualificationRequest {
                trn: trn.clone(),
                qualification: Some(pb::add_qualification_request::Qualification::Npq(
                    npq.clone(),
                )),
            },
            &admin,
        )
    };
    let record = h
        .admin()
        .add_qualification(add_npq())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(record.npq_qualifications.len(), 1);
    assert!(!record.npq_qualifications[0].id.is_empty());
    assert_eq!(record.npq_qualifications[0].awarded_date, "2023-02-10");
    let twice = h.admin().add_qualification(add_npq()).await.unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let mq = pb::MandatoryQualification {
        specialism: pb::MqSpecialism::Visual.into(),
        status: pb::MqStatus::Passed.into(),
        provider: "University of Birmingham".into(),
        start_date: "2015-09-01".into(),
        end_date: "2017-07-01".into(),
        ..Default::default()
    };
    let record = h
        .admin()
        .add_qualification(authed(
            pb::AddQualificationRequest {
                trn: trn.clone(),
                qualification: Some(pb::add_qualification_request::Qualification::Mandatory(mq)),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        record.mandatory_qualifications[0].provider,
        "University of Birmingham"
    );

    // Alerts: a prohibition, a decision not to prohibit, and an internal flag.
    for a in [
        alert("T1", "2020-01-01"),
        alert("T6", "2021-01-01"),
        alert("G1", "2022-01-01"),
    ] {
        h.admin()
            .add_alert(authed(
                pb::AddAlertRequest {
                    trn: trn.clone(),
                    alert: Some(a),
                },
                &admin,
            ))
            .await
            .unwrap();
    }
    let internal = h
        .admin()
        .get_teacher(authed(pb::GetTeacherRequest { trn: trn.clone() }, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(codes(&internal.alerts), ["T1", "T6", "G1"]);
    assert!(
        internal
            .alerts
            .iter()
            .all(|a| a.details == "Case reference and notes")
    );
    assert!(
        internal
            .alerts
            .iter()
            .all(|a| !a.title.is_empty() && !a.description.is_empty())
    );
    assert!(internal.restricted);

    // The teacher sees no internal alert and no details.
    let token = sign_in_teacher(h, &trn, "Murphy").await.unwrap();
    let own = h
        .portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(codes(&own.alerts), ["T1", "T6"]);
    assert!(own.alerts.iter().all(|a| a.details.is_empty()));
    assert!(own.restricted);
    assert_eq!(own.status, pb::PersonStatus::Unspecified as i32);
    assert_eq!(own.induction, Some(passed_induction()));

    // Closing the prohibition lifts the restriction: T6 and internal alerts do not restrict.
    let t1 = internal.alerts[0].id.clone();
    let close = |alert_id: &str, end_date: &str| {
        authed(
            pb::CloseAlertRequest {
                trn: trn.clone(),
                alert_id: alert_id.into(),
                end_date: end_date.into(),
            },
            &admin,
        )
    };
    let early = h
        .admin()
        .close_alert(close(&t1, "2019-12-31"))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&early), ["end_date"]);
    let record = h
        .admin()
        .close_alert(close(&t1, "2024-05-01"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(record.alerts[0].end_date, "2024-05-01");
    assert!(!record.restricted);
    let closed = h
        .admin()
        .close_alert(close(&t1, "2024-05-01"))
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::FailedPrecondition);
    let unknown = h
        .admin()
        .close_alert(close("999999", "2024-05-01"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    // A change of surname keeps the old one: the teacher signs in with either.
    let record = h
        .admin()
        .update_teacher(authed(
            pb::UpdateTeacherRequest {
                trn: trn.clone(),
                teacher: Some(pb::TeacherRecord {
                    last_name: "O’Súilleabháin".into(),
                    first_name: "Not masked".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["last_name"]),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (record.first_name.as_str(), record.last_name.as_str()),
        ("Zoë", "O’Súilleabháin")
    );
    assert_eq!(record.previous_names[0].last_name, "Murphy");
    sign_in_teacher(h, &trn, "o'súilleabháin").await.unwrap();
    sign_in_teacher(h, &trn, "MURPHY").await.unwrap();

    // Deactivated records never sign in.
    h.admin()
        .update_teacher(authed(
            pb::UpdateTeacherRequest {
                trn: trn.clone(),
                teacher: Some(pb::TeacherRecord {
                    status: pb::PersonStatus::Deactivated.into(),
                    ..Default::default()
                }),
                update_mask: mask(&["status"]),
            },
            &admin,
        ))
        .await
        .unwrap();
    let refused = sign_in_teacher(h, &trn, "Murphy").await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    audit_of(h, &admin, &trn).await;
}

/// Every write and every non-teacher read is in the audit, newest first, paged.
async fn audit_of(h: &Harness, admin: &str, trn: &str) {
    let mut read = authed(pb::GetTeacherRequest { trn: trn.into() }, admin);
    read.metadata_mut().insert(
        "x-on-behalf-of",
        MetadataValue::from_static("employer-user-17"),
    );
    read.metadata_mut().insert(
        "x-request-id",
        MetadataValue::from_static("audit-test-read"),
    );
    h.admin().get_teacher(read).await.unwrap();

    let list = |page_token: String, page_size: i32, trn: &str| {
        authed(
            pb::ListAuditEventsRequest {
                trn: trn.into(),
                page_size,
                page_token,
            },
            admin,
        )
    };
    let mut events = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = h
            .admin()
            .list_audit_events(list(token, 3, trn))
            .await
            .unwrap()
            .into_inner();
        assert!(page.events.len() <= 3);
        events.extend(page.events);
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "teacher.read",
            "teacher.update",
            "teacher.update",
            "teacher.close_alert",
            "teacher.read",
            "teacher.add_alert",
            "teacher.add_alert",
            "teacher.add_alert",
            "teacher.add_qualification",
            "teacher.add_qualification",
            "teacher.set_induction",
            "teacher.add_professional_status",
            "teacher.create",
        ],
        "newest first; refused writes and the teacher's own reads leave no event"
    );
    assert!(pages >= 5);
    assert!(
        events
            .iter()
            .all(|e| e.actor == "admin" && e.trn == trn && e.time.is_some())
    );
    assert_eq!(events[0].on_behalf_of, "employer-user-17");
    assert_eq!(events[0].request_id, "audit-test-read");
    let seconds = |e: &pb::AuditEvent| e.time.map(|t| (t.seconds, t.nanos));
    assert!(events.windows(2).all(|w| seconds(&w[0]) >= seconds(&w[1])));

    // A token only continues the listing it came from.
    let first = h
        .admin()
        .list_audit_events(list(String::new(), 1, trn))
        .await
        .unwrap()
        .into_inner();
    let misused = h
        .admin()
        .list_audit_events(list(first.next_page_token, 1, ""))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&misused), ["page_token"]);
    let negative = h
        .admin()
        .list_audit_events(list(String::new(), -1, trn))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&negative), ["page_size"]);
    // Reading the audit is audited too.
    let all = h
        .admin()
        .list_audit_events(list(String::new(), 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.events[0].action, "audit.list");
}

#[tokio::test]
async fn records_are_maintained_and_audited_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    maintain_a_record(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn records_are_maintained_and_audited_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    maintain_a_record(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn each_rule_names_the_bad_field() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    let admin = h.sign_in_admin().await;
    let trn = h.create_teacher(&admin, new_teacher()).await.trn;
    let mut a = h.admin();

    let induction = |induction: pb::Induction| {
        authed(
            pb::SetInductionRequest {
                trn: trn.clone(),
                induction: Some(induction),
            },
            &admin,
        )
    };
    // Induction in progress needs QTS, which this record does not hold yet.
    let no_qts = a
        .set_induction(induction(pb::Induction {
            status: pb::InductionStatus::InProgress.into(),
            start_date: "2024-09-02".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&no_qts), ["induction.status"]);
    let exempt = a
        .set_induction(induction(pb::Induction {
            status: pb::InductionStatus::Exempt.into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&exempt), ["induction.exemption_reasons"]);
    let dates = a
        .set_induction(induction(pb::Induction {
            start_date: "1999-05-06".into(),
            completed_date: String::new(),
            ..passed_induction()
        }))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&dates),
        ["induction.start_date", "induction.completed_date"]
    );
    let missing = a
        .set_induction(authed(
            pb::SetInductionRequest {
                trn: trn.clone(),
                induction: None,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&missing), ["induction"]);

    let status = a
        .add_professional_status(authed(
            pb::AddProfessionalStatusRequest {
                trn: trn.clone(),
                professional_status: Some(pb::ProfessionalStatus {
                    awarded_date: String::new(),
                    exempt_from_induction: None,
                    ..qts_held()
                }),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&status),
        [
            "professional_status.awarded_date",
            "professional_status.exempt_from_induction"
        ]
    );

    let npq = a
        .add_qualification(authed(
            pb::AddQualificationRequest {
                trn: trn.clone(),
                qualification: Some(pb::add_qualification_request::Qualification::Npq(
                    pb::NpqQualification {
                        r#type: pb::NpqType::Npqlbc.into(),
                        awarded_date: "2020-07-01".into(),
                        ..Default::default()
                    },
                )),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&npq), ["npq.awarded_date"]);

    let bad_alert = a
        .add_alert(authed(
            pb::AddAlertRequest {
                trn: trn.clone(),
                alert: Some(pb::Alert {
                    end_date: "2019-01-01".into(),
                    ..alert("Z9", "2099-01-01")
                }),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad_alert), ["alert.code", "alert.start_date"]);

    let update = a
        .update_teacher(authed(
            pb::UpdateTeacherRequest {
                trn: trn.clone(),
                teacher: Some(pb::TeacherRecord {
                    date_of_birth: "1899-12-31".into(),
                    national_insurance_number: "ZZ123456A".into(),
                    merged_into_trn: trn.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&[
                    "date_of_birth",
                    "national_insurance_number",
                    "favourite_colour",
                ]),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&update),
        [
            "teacher.date_of_birth",
            "teacher.national_insurance_number",
            "update_mask"
        ]
    );
    let self_merge = a
        .update_teacher(authed(
            pb::UpdateTeacherRequest {
                trn: trn.clone(),
                teacher: Some(pb::TeacherRecord {
                    merged_into_trn: trn.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["merged_into_trn"]),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&self_merge), ["teacher.merged_into_trn"]);

    // Nothing refused above was written.
    let record = a
        .get_teacher(authed(pb::GetTeacherRequest { trn: trn.clone() }, &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(record.professional_statuses.is_empty() && record.alerts.is_empty());
    assert_eq!(record.date_of_birth, DOB);

    // An unknown TRN is NOT_FOUND for every write; a malformed one names the field.
    let unknown = "9999999".to_string();
    let not_found = [
        a.get_teacher(authed(
            pb::GetTeacherRequest {
                trn: unknown.clone(),
            },
            &admin,
        ))
        .await
        .unwrap_err(),
        a.add_alert(authed(
            pb::AddAlertRequest {
                trn: unknown.clone(),
                alert: Some(alert("T1", "2020-01-01")),
            },
            &admin,
        ))
        .await
        .unwrap_err(),
        a.set_induction(authed(
            pb::SetInductionRequest {
                trn: unknown.clone(),
                induction: Some(pb::Induction {
                    status: pb::InductionStatus::None.into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap_err(),
        a.update_teacher(authed(
            pb::UpdateTeacherRequest {
                trn: unknown.clone(),
                teacher: Some(pb::TeacherRecord::default()),
                update_mask: mask(&["middle_name"]),
            },
            &admin,
        ))
        .await
        .unwrap_err(),
    ];
    for status in not_found {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }
    let malformed = a
        .get_teacher(authed(
            pb::GetTeacherRequest {
                trn: "12345".into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&malformed), ["trn"]);
    h.shutdown().await;
}

/// Creates through two record-service instances sharing one PostgreSQL database, many at a
/// time: every TRN is distinct and the range is used without gaps.
#[tokio::test]
async fn concurrent_creates_on_two_instances_get_distinct_trns() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    let stack = h.stack.as_ref().unwrap();
    let signer = stack.signer().clone();
    let second = portal::Stack::start(&h.config, &[names::RECORD], signer.clone())
        .await
        .expect("second record instance starts");
    let caller = Caller {
        principal: Principal::Client {
            client_id: "loader".into(),
            roles: vec![portal_common::Role::RecordsWrite],
        },
        request_id: "concurrent-creates".into(),
        on_behalf_of: None,
        session_id: None,
        source: None,
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let addr = if i % 2 == 0 {
            stack.addr(names::RECORD)
        } else {
            second.addr(names::RECORD)
        }
        .to_owned();
        let request = signer.request(new_teacher(), &caller, DEFAULT_DEADLINE);
        tasks.spawn(async move {
            let mut client = RecordServiceClient::connect(format!("http://{addr}"))
                .await
                .unwrap();
            client
                .create_teacher(request)
                .await
                .unwrap()
                .into_inner()
                .trn
        });
    }
    let trns: Vec<u32> = tasks
        .join_all()
        .await
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    let distinct: BTreeSet<u32> = trns.iter().copied().collect();
    assert_eq!(distinct.len(), 40, "no TRN given twice");
    let (first, last) = (distinct.first().unwrap(), distinct.last().unwrap());
    assert_eq!(last - first, 39, "no TRN skipped");
    assert_eq!(*first, h.config.record.trn_range_start);
    second.shutdown().await.unwrap();
    h.shutdown().await;
}
