//! Employer Secure Access through the public API: checks by TRN and date of birth, finding by
//! surname and date of birth, bulk checks of up to 500, exactly what an employer may see, the
//! audit of every check and the teacher's view of it, and per-client limits; on embedded
//! stores and on PostgreSQL + Redis.

use std::time::Duration;

use crate::support::{Harness, Stores, authed, bad_fields, start};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::employer_access_client::EmployerAccessClient;
use prost_types::FieldMask;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic_types::StatusExt as _;

const EMPLOYER_NAME: &str = "Oakwood Academy Trust";

struct Employer {
    token: String,
}

async fn employer(h: &Harness, admin: &str, id: &str) -> Employer {
    let created = h
        .admin()
        .create_client(authed(
            pb::CreateClientRequest {
                client_id: id.into(),
                display_name: EMPLOYER_NAME.into(),
                roles: vec!["employer:check".into()],
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let token = h
        .auth()
        .sign_in_client(pb::SignInClientRequest {
            client_id: created.client_id,
            client_secret: created.client_secret,
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    Employer { token }
}

fn on_behalf<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = authed(message, token);
    request.metadata_mut().insert(
        "x-on-behalf-of",
        MetadataValue::from_static("hr-officer-42"),
    );
    request
}

async fn create(h: &Harness, admin: &str, first: &str, last: &str, dob: &str) -> String {
    h.create_teacher(
        admin,
        pb::CreateTeacherRequest {
            first_name: first.into(),
            last_name: last.into(),
            date_of_birth: dob.into(),
            national_insurance_number: "JC741852D".into(),
            contact_details: Some(pb::ContactDetails {
                email: "private.person@example.org".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
    .trn
}

async fn add_alert(h: &Harness, admin: &str, trn: &str, code: &str, start: &str, end: &str) {
    h.admin()
        .add_alert(authed(
            pb::AddAlertRequest {
                trn: trn.into(),
                alert: Some(pb::Alert {
                    code: code.into(),
                    details: "Confidential case notes".into(),
                    start_date: start.into(),
                    end_date: end.into(),
                    ..Default::default()
                }),
            },
            admin,
        ))
        .await
        .unwrap();
}

fn check(trn: &str, dob: &str) -> pb::CheckTeacherRequest {
    pb::CheckTeacherRequest {
        trn: trn.into(),
        date_of_birth: dob.into(),
    }
}

async fn employer_access(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let employer = employer(h, &admin, "oakwood-trust").await;
    let mut api = EmployerAccessClient::new(h.gateway.clone());

    // A qualified teacher with a closed prohibition, a decision not to prohibit, an internal
    // flag, a NINO, contact details and an employment: the employer sees none of the private
    // parts and no restriction.
    let zoe = create(h, &admin, "Zoë", "O'Brien", "1985-03-14").await;
    h.admin()
        .add_professional_status(authed(
            pb::AddProfessionalStatusRequest {
                trn: zoe.clone(),
                professional_status: Some(pb::ProfessionalStatus {
                    r#type: pb::ProfessionalStatusType::Qts.into(),
                    route: pb::Route::HigherEducation.into(),
                    status: pb::RouteStatus::Holds.into(),
                    awarded_date: "2012-06-30".into(),
                    exempt_from_induction: Some(false),
                    training: None,
                }),
            },
            &admin,
        ))
        .await
        .unwrap();
    add_alert(h, &admin, &zoe, "T1", "2015-01-01", "2016-01-01").await;
    add_alert(h, &admin, &zoe, "T6", "2017-01-01", "").await;
    add_alert(h, &admin, &zoe, "G1", "2018-01-01", "").await;
    let zoe_token = h
        .auth()
        .sign_in_teacher(pb::SignInTeacherRequest {
            trn: zoe.clone(),
            surname: "O'Brien".into(),
            forename: "Zoë".into(),
            date_of_birth: "1985-03-14".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    // Entering employment and seeing who checked need a verified session.
    let zoe_token = h.verify(&zoe_token, "private.person@example.org").await;
    h.portal()
        .create_my_employment(authed(
            pb::CreateMyEmploymentRequest {
                employment: Some(pb::Employment {
                    establishment_name: "Secret Employer School".into(),
                    employment_type: pb::EmploymentType::FullTime.into(),
                    start_date: "2019-09-01".into(),
                    ..Default::default()
                }),
            },
            &zoe_token,
        ))
        .await
        .unwrap();

    let seen = api
        .check_teacher(on_behalf(check(&zoe, "1985-03-14"), &employer.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            seen.trn.as_str(),
            seen.first_name.as_str(),
            seen.last_name.as_str()
        ),
        (zoe.as_str(), "Zoë", "O'Brien")
    );
    assert_eq!(seen.qts_date, "2012-06-30");
    assert_eq!(
        seen.induction_status,
        pb::InductionStatus::RequiredToComplete as i32
    );
    assert!(!seen.restricted, "only T6 is open among public alerts");
    assert_eq!(
        seen.restrictions
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        ["T6"]
    );
    assert!(!seen.restrictions[0].description.is_empty());
    let bytes = prost::Message::encode_to_vec(&seen);
    let everything = String::from_utf8_lossy(&bytes);
    for forbidden in [
        "JC741852D",
        "private.person@example.org",
        "Confidential case notes",
        "Secret Employer School",
        "G1",
        "T1",
    ] {
        assert!(
            !everything.contains(forbidden),
            "the employer's view holds {forbidden}"
        );
    }

    // A wrong date of birth and an unknown TRN get the same answer.
    let wrong = api
        .check_teacher(authed(check(&zoe, "1985-03-15"), &employer.token))
        .await
        .unwrap_err();
    let unknown = api
        .check_teacher(authed(check("9999997", "1985-03-14"), &employer.token))
        .await
        .unwrap_err();
    assert_eq!(
        (wrong.code(), unknown.code()),
        (Code::NotFound, Code::NotFound)
    );
    assert_eq!(wrong.message(), unknown.message());
    let bad = api
        .check_teacher(authed(check("12", "14/03/1985"), &employer.token))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["trn", "date_of_birth"]);

    // Restrictions: an open prohibition, or a failed induction, restricts.
    let barred = create(h, &admin, "Jan", "Łukasiewicz", "1979-11-02").await;
    add_alert(h, &admin, &barred, "T2", "2024-02-01", "").await;
    let failed = create(h, &admin, "Ayşe", "Şahin", "1992-06-30").await;
    add_alert(h, &admin, &failed, "C2", "2023-07-01", "").await;
    for (trn, dob, code) in [(&barred, "1979-11-02", "T2"), (&failed, "1992-06-30", "C2")] {
        let seen = api
            .check_teacher(authed(check(trn, dob), &employer.token))
            .await
            .unwrap()
            .into_inner();
        assert!(seen.restricted, "{code}");
        assert_eq!(seen.restrictions[0].code, code);
        assert!(!seen.restrictions[0].title.is_empty());
    }

    // Twins by surname and date of birth, one found by a previous surname.
    let twin = create(h, &admin, "Minh", "Nguyễn", "1990-01-01").await;
    let other_twin = create(h, &admin, "Lan", "Nguyễn", "1990-01-01").await;
    h.admin()
        .update_teacher(authed(
            pb::UpdateTeacherRequest {
                trn: other_twin.clone(),
                teacher: Some(pb::TeacherRecord {
                    last_name: "Smith".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["last_name".into()],
                }),
            },
            &admin,
        ))
        .await
        .unwrap();
    let found = api
        .find_teachers(authed(
            pb::FindTeachersRequest {
                surname: " NGUYỄN ".into(),
                date_of_birth: "1990-01-01".into(),
            },
            &employer.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .teachers;
    let mut trns: Vec<&str> = found.iter().map(|t| t.trn.as_str()).collect();
    trns.sort();
    let mut expected = [twin.as_str(), other_twin.as_str()];
    expected.sort();
    assert_eq!(trns, expected);
    let smith = found.iter().find(|t| t.trn == other_twin).unwrap();
    assert_eq!(smith.previous_last_names, ["Nguyễn"]);
    let apostrophe = api
        .find_teachers(authed(
            pb::FindTeachersRequest {
                surname: "o’brien".into(),
                date_of_birth: "1985-03-14".into(),
            },
            &employer.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .teachers;
    assert_eq!(apostrophe.len(), 1);
    let nobody = api
        .find_teachers(authed(
            pb::FindTeachersRequest {
                surname: "Nobody".into(),
                date_of_birth: "1985-03-14".into(),
            },
            &employer.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(nobody.teachers.is_empty());

    // 500 queries at once: five that match (one with a TRN a spreadsheet shortened) and 495
    // that do not.
    let mut queries: Vec<pb::TeacherQuery> = [
        (&zoe, "1985-03-14"),
        (&barred, "1979-11-02"),
        (&failed, "1992-06-30"),
        (&twin, "1990-01-01"),
    ]
    .iter()
    .map(|(trn, dob)| pb::TeacherQuery {
        trn: (*trn).clone(),
        date_of_birth: (*dob).into(),
    })
    .collect();
    queries.push(pb::TeacherQuery {
        trn: format!(" {}-{} ", &other_twin[..3], &other_twin[3..]),
        date_of_birth: "1990-01-01".into(),
    });
    for i in 0..495 {
        queries.push(pb::TeacherQuery {
            trn: format!("{}", 9_000_000 + i),
            date_of_birth: "1980-01-01".into(),
        });
    }
    let bulk = api
        .check_teachers(on_behalf(
            pb::CheckTeachersRequest {
                queries: queries.clone(),
            },
            &employer.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(bulk.teachers.len(), 5);
    assert_eq!(bulk.not_found, queries[5..]);
    let mut too_many = queries.clone();
    too_many.push(queries[0].clone());
    let refused = api
        .check_teachers(authed(
            pb::CheckTeachersRequest { queries: too_many },
            &employer.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&refused), ["queries"]);
    let mut malformed = queries[..4].to_vec();
    malformed[3].date_of_birth = "1990-02-30".into();
    let refused = api
        .check_teachers(authed(
            pb::CheckTeachersRequest { queries: malformed },
            &employer.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&refused), ["queries[3].date_of_birth"]);

    // Teachers cannot check anyone.
    let denied = api
        .check_teacher(authed(check(&zoe, "1985-03-14"), &zoe_token))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Every check is audited with the client and the employer user; misses keep no TRN.
    let audit = h
        .admin()
        .list_audit_events(authed(
            pb::ListAuditEventsRequest {
                trn: zoe.clone(),
                page_size: 50,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    let checks: Vec<&pb::AuditEvent> = audit
        .iter()
        .filter(|e| e.action.starts_with("employer."))
        .collect();
    assert_eq!(
        checks.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["employer.bulk_check", "employer.find", "employer.check"]
    );
    assert!(checks.iter().all(|e| e.actor == "oakwood-trust"));
    assert_eq!(checks[0].on_behalf_of, "hr-officer-42");
    assert_eq!(checks[2].on_behalf_of, "hr-officer-42");
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = h
            .admin()
            .list_audit_events(authed(
                pb::ListAuditEventsRequest {
                    page_size: 500,
                    page_token,
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        all.extend(page.events);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let misses: Vec<&pb::AuditEvent> = all
        .iter()
        .filter(|e| e.action == "employer.no_match")
        .collect();
    assert!(misses.len() >= 495 + 3, "{}", misses.len());
    assert!(misses.iter().all(|e| e.trn.is_empty()));

    // The teacher sees who checked them, by organisation name.
    let seen_by = h
        .portal()
        .list_my_record_checks(authed(pb::ListMyRecordChecksRequest {}, &zoe_token))
        .await
        .unwrap()
        .into_inner()
        .checks;
    assert_eq!(
        seen_by.iter().map(|c| c.kind).collect::<Vec<_>>(),
        [
            pb::RecordCheckKind::BulkCheck,
            pb::RecordCheckKind::Find,
            pb::RecordCheckKind::Check
        ]
        .map(|k| k as i32)
    );
    assert!(
        seen_by
            .iter()
            .all(|c| c.organisation == EMPLOYER_NAME && c.check_time.is_some())
    );
}

/// The scenario makes over a thousand checks; the limits are another test's subject.
fn generous(config: &mut portal::Config) {
    config.gateway.employer_checks_per_minute = 100_000;
}

#[tokio::test]
async fn employer_access_on_embedded_stores() {
    let h = start(Stores::Embedded, generous).await.unwrap();
    employer_access(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn employer_access_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, generous).await else {
        return;
    };
    employer_access(&h).await;
    h.shutdown().await;
}

async fn limits(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let other = employer(h, &admin, "quiet-trust").await;
    let employer = employer(h, &admin, "busy-trust").await;
    let mut api = EmployerAccessClient::new(h.gateway.clone());
    // Bulk checks gzipped: the gateway unpacks them to count their queries.
    let mut packed = EmployerAccessClient::new(h.gateway.clone())
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    // Bad input counts nothing: too many queries, or a malformed one.
    let too_many: Vec<pb::TeacherQuery> = (0..501)
        .map(|i| pb::TeacherQuery {
            trn: format!("{}", 9_100_000 + i),
            date_of_birth: "1980-01-01".into(),
        })
        .collect();
    let refused = packed
        .check_teachers(authed(
            pb::CheckTeachersRequest { queries: too_many },
            &employer.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&refused), ["queries"]);
    let malformed = api
        .check_teacher(authed(check("12", "1980-01-01"), &employer.token))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&malformed), ["trn"]);
    let queries: Vec<pb::TeacherQuery> = (0..8)
        .map(|i| pb::TeacherQuery {
            trn: format!("{}", 9_100_000 + i),
            date_of_birth: "1980-01-01".into(),
        })
        .collect();
    packed
        .check_teachers(authed(
            pb::CheckTeachersRequest { queries },
            &employer.token,
        ))
        .await
        .unwrap();
    for _ in 0..2 {
        let status = api
            .check_teacher(authed(check("9999996", "1980-01-01"), &employer.token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "within the limit");
    }
    let limited = api
        .check_teacher(authed(check("9999996", "1980-01-01"), &employer.token))
        .await
        .unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted);
    let retry = limited
        .get_details_retry_info()
        .unwrap()
        .retry_delay
        .unwrap();
    assert!(
        !retry.is_zero() && retry <= Duration::from_secs(60),
        "{retry:?}"
    );
    // A call refused by the limit counts nothing: the count stays at the limit, so the client
    // is not kept out beyond the window.
    for _ in 0..3 {
        let status = api
            .check_teacher(authed(check("9999996", "1980-01-01"), &employer.token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted);
    }
    let counted = h
        .stack
        .as_ref()
        .unwrap()
        .sessions()
        .store()
        .counters(&[
            "dqt:employer-checks:busy-trust:minute".to_owned(),
            "dqt:employer-checks:busy-trust:day".to_owned(),
        ])
        .await
        .unwrap();
    assert_eq!(
        counted.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [10, 10],
        "8 + 2 checks counted, nothing else"
    );
    // The limit is per client.
    let status = api
        .check_teacher(authed(check("9999996", "1980-01-01"), &other.token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn each_client_is_limited_on_embedded_stores() {
    let h = start(Stores::Embedded, |config| {
        config.gateway.employer_checks_per_minute = 10
    })
    .await
    .unwrap();
    limits(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn each_client_is_limited_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |config| {
        config.gateway.employer_checks_per_minute = 10
    })
    .await
    else {
        return;
    };
    limits(&h).await;
    h.shutdown().await;
}

/// An employer user reference that the audit could not keep whole, or that holds control or
/// non-ASCII bytes, is refused naming `x-on-behalf-of`, never dropped from the audit in silence.
#[tokio::test]
async fn an_on_behalf_of_the_audit_cannot_keep_is_refused_naming_it() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    let admin = h.sign_in_admin().await;
    let employer = employer(&h, &admin, "header-trust").await;
    let trn = create(&h, &admin, "Ada", "Lovelace", "1985-12-10").await;
    let mut api = EmployerAccessClient::new(h.gateway.clone());
    let with = |value: MetadataValue<tonic::metadata::Ascii>| {
        let mut request = authed(check(&trn, "1985-12-10"), &employer.token);
        request.metadata_mut().insert("x-on-behalf-of", value);
        request
    };
    for bad in [
        MetadataValue::try_from("u".repeat(5000)).unwrap(),
        MetadataValue::try_from("u".repeat(129)).unwrap(),
        MetadataValue::try_from("hr\tofficer").unwrap(),
        MetadataValue::try_from(&b"hr-\xc3\xa9"[..]).unwrap(),
    ] {
        let status = api.check_teacher(with(bad)).await.unwrap_err();
        assert_eq!(bad_fields(&status), ["x-on-behalf-of"]);
    }
    let longest = "u".repeat(128);
    api.check_teacher(with(MetadataValue::try_from(longest.as_str()).unwrap()))
        .await
        .expect("128 visible characters are kept");
    let audit = h.audit_events(&admin, &trn).await;
    let checks: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "employer.check")
        .collect();
    assert_eq!(checks.len(), 1, "the refused calls checked nothing");
    assert_eq!(checks[0].on_behalf_of, longest);
    h.shutdown().await;
}
