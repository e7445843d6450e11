//! Finding a lost TRN (FindMyTrn): a single match in use without an open alert has its TRN
//! emailed to the address given (and the record's own address told when it is another); two
//! matches, an open alert or no match open a case for DfE staff, with the same answer to the
//! caller; staff list and resolve cases, and the person is emailed the outcome; resolved cases
//! are deleted after the retention period; limits and the captcha hold searches back. On both
//! stores, each with a real SMTP server.

use std::time::Duration;

use crate::support::{Harness, Stores, authed, bad_fields, start_only, start_with_smtp};
use dqt_proto::dqt::portal::v1 as pb;
use portal_identity::throttle::CaptchaMode;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

const FOUND: &str = "Your teacher reference number (TRN)";
const ELSEWHERE: &str = "Your TRN was sent to another email address";
const OPENED: &str = "We are looking for your TRN";
const NOT_FOUND: &str = "We could not find a TRN for you";

/// How long an email may take to arrive.
const MAIL: Duration = Duration::from_secs(20);

fn search(first: &str, last: &str, dob: &str, nino: &str, email: &str) -> pb::FindMyTrnRequest {
    pb::FindMyTrnRequest {
        first_name: first.into(),
        last_name: last.into(),
        date_of_birth: dob.into(),
        national_insurance_number: nino.into(),
        email: email.into(),
        ..Default::default()
    }
}

async fn find(
    h: &Harness,
    request: pb::FindMyTrnRequest,
) -> Result<tonic::Response<pb::FindMyTrnResponse>, Status> {
    h.auth().find_my_trn(request).await
}

async fn teacher(
    h: &Harness,
    admin: &str,
    (first, last, dob): (&str, &str, &str),
    nino: &str,
    email: &str,
) -> pb::TeacherRecord {
    h.create_teacher(
        admin,
        pb::CreateTeacherRequest {
            first_name: first.into(),
            last_name: last.into(),
            date_of_birth: dob.into(),
            national_insurance_number: nino.into(),
            contact_details: Some(pb::ContactDetails {
                email: email.into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
}

async fn cases(h: &Harness, admin: &str, status: pb::TrnCaseStatus) -> Vec<pb::TrnCase> {
    h.admin()
        .list_trn_cases(authed(
            pb::ListTrnCasesRequest {
                status: status.into(),
                ..Default::default()
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .cases
}

async fn resolve(
    h: &Harness,
    admin: &str,
    id: &str,
    resolution: pb::resolve_trn_case_request::Resolution,
) -> Result<pb::TrnCase, Status> {
    h.admin()
        .resolve_trn_case(authed(
            pb::ResolveTrnCaseRequest {
                id: id.into(),
                resolution: Some(resolution),
            },
            admin,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The subjects of the emails to `to`, once `count` have come, in the order they came.
async fn subjects(h: &Harness, to: &str, count: usize) -> Vec<String> {
    let mut received = h.mailbox().wait_for(to, count, MAIL).await;
    received.sort_by(|a, b| a.raw.cmp(&b.raw));
    received.into_iter().map(|e| e.subject).collect()
}

/// Waits until the listing of `status` holds `count` cases.
async fn wait_for_cases(
    h: &Harness,
    admin: &str,
    status: pb::TrnCaseStatus,
    count: usize,
) -> Vec<pb::TrnCase> {
    let started = std::time::Instant::now();
    loop {
        let listed = cases(h, admin, status).await;
        if listed.len() == count {
            return listed;
        }
        assert!(
            started.elapsed() < MAIL,
            "{} cases listed, not {count}",
            listed.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn case_for<'a>(listed: &'a [pb::TrnCase], first: &str) -> &'a pb::TrnCase {
    listed
        .iter()
        .find(|c| c.details.as_ref().is_some_and(|d| d.first_name == first))
        .expect("a case for the search")
}

/// What a caller can see of an answer: its message and the names of its metadata.
fn seen(answer: tonic::Response<pb::FindMyTrnResponse>) -> (pb::FindMyTrnResponse, Vec<String>) {
    let mut keys: Vec<String> = answer
        .metadata()
        .keys()
        .map(|k| match k {
            tonic::metadata::KeyRef::Ascii(k) => k.as_str().to_owned(),
            tonic::metadata::KeyRef::Binary(k) => k.as_str().to_owned(),
        })
        .filter(|k| k != "date")
        .collect();
    keys.sort();
    (answer.into_inner(), keys)
}

async fn lost_trns_are_found_or_handed_to_staff(h: Harness) {
    let admin = h.sign_in_admin().await;
    let anna = teacher(
        &h,
        &admin,
        ("Anna", "Jones", "1985-04-01"),
        "AB123456C",
        "anna.record@example.org",
    )
    .await;
    let dafydd = teacher(
        &h,
        &admin,
        ("Dafydd", "Lloyd", "1977-08-09"),
        "",
        "dafydd@example.org",
    )
    .await;
    // Two records that agree on name, date of birth and email: no single match.
    let bryn = teacher(
        &h,
        &admin,
        ("Bryn", "Owen", "1979-05-05"),
        "",
        "owens@example.org",
    )
    .await;
    let twin = teacher(
        &h,
        &admin,
        ("Bryn", "Owen", "1979-05-05"),
        "",
        "owens@example.org",
    )
    .await;
    // One match, but with an open alert.
    let cerys = teacher(
        &h,
        &admin,
        ("Cerys", "Hughes", "1982-03-03"),
        "",
        "cerys@example.org",
    )
    .await;
    h.admin()
        .add_alert(authed(
            pb::AddAlertRequest {
                trn: cerys.trn.clone(),
                alert: Some(pb::Alert {
                    code: "T2".into(),
                    start_date: "2023-05-06".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap();

    // Three facts of four: the name (spelt another way), date of birth and NINO; the email
    // given is not the record's.
    let answers = [
        find(
            &h,
            search(
                "anna",
                "JONES",
                "1985-04-01",
                "ab 12 34 56 c",
                "anna.new@example.org",
            ),
        )
        .await,
        // Name, date of birth and the email on the record.
        find(
            &h,
            search("Dafydd", "Lloyd", "1977-08-09", "", "Dafydd@Example.org"),
        )
        .await,
        find(
            &h,
            search("Bryn", "Owen", "1979-05-05", "", "owens@example.org"),
        )
        .await,
        find(
            &h,
            search("Cerys", "Hughes", "1982-03-03", "", "cerys@example.org"),
        )
        .await,
        find(
            &h,
            search("Nobody", "Known", "1990-10-10", "", "nobody@example.org"),
        )
        .await,
    ];
    let answers: Vec<_> = answers.into_iter().map(|a| seen(a.unwrap())).collect();
    assert!(
        answers.windows(2).all(|pair| pair[0] == pair[1]),
        "every search is answered alike: {answers:?}"
    );

    // The single match: its TRN to the address given, word of it to the record's address.
    let to_new = h.mailbox().wait_for("anna.new@example.org", 1, MAIL).await;
    assert_eq!(to_new[0].subject, FOUND);
    assert!(to_new[0].raw.contains(&anna.trn));
    let to_record = h
        .mailbox()
        .wait_for("anna.record@example.org", 1, MAIL)
        .await;
    assert_eq!(to_record[0].subject, ELSEWHERE);
    assert!(to_record[0].text().contains("sent to a***@example.org"));
    assert!(!to_record[0].raw.contains(&anna.trn));
    // The address given is the record's (in another case): one email, no word elsewhere.
    let to_dafydd = h.mailbox().wait_for("Dafydd@Example.org", 1, MAIL).await;
    assert_eq!(to_dafydd[0].subject, FOUND);
    assert!(to_dafydd[0].raw.contains(&dafydd.trn));

    // The others are cases, each acknowledged, none with a TRN.
    for to in [
        "owens@example.org",
        "cerys@example.org",
        "nobody@example.org",
    ] {
        assert_eq!(subjects(&h, to, 1).await, [OPENED], "{to}");
    }
    let open = wait_for_cases(&h, &admin, pb::TrnCaseStatus::Open, 3).await;
    let ambiguous = case_for(&open, "Bryn");
    let mut twins = vec![bryn.trn.clone(), twin.trn.clone()];
    twins.sort();
    assert_eq!(ambiguous.candidate_trns, twins);
    assert_eq!(ambiguous.status, i32::from(pb::TrnCaseStatus::Open));
    let details = ambiguous.details.as_ref().unwrap();
    assert_eq!(
        (
            details.last_name.as_str(),
            details.date_of_birth.as_str(),
            details.email.as_str()
        ),
        ("Owen", "1979-05-05", "owens@example.org")
    );
    assert_eq!(
        case_for(&open, "Cerys").candidate_trns,
        [cerys.trn.as_str()]
    );
    let nobody = case_for(&open, "Nobody");
    assert!(nobody.candidate_trns.is_empty());
    assert!(nobody.resolve_time.is_none() && nobody.trn.is_empty() && !nobody.no_match);
    assert_eq!(h.mailbox().all().len(), 6, "no other email was sent");

    // Staff resolve: a TRN is emailed; no match is said so.
    use pb::resolve_trn_case_request::Resolution;
    let resolved = resolve(&h, &admin, &ambiguous.id, Resolution::Trn(twin.trn.clone()))
        .await
        .unwrap();
    assert_eq!(resolved.status, i32::from(pb::TrnCaseStatus::Resolved));
    assert_eq!(resolved.trn, twin.trn);
    assert!(resolved.resolve_time.is_some());
    let no_match = resolve(&h, &admin, &nobody.id, Resolution::NoMatch(true))
        .await
        .unwrap();
    assert!(no_match.no_match && no_match.trn.is_empty());
    let to_owens = h.mailbox().wait_for("owens@example.org", 2, MAIL).await;
    let told = to_owens
        .iter()
        .find(|e| e.subject == FOUND)
        .expect("the TRN");
    assert!(told.raw.contains(&twin.trn));
    assert_eq!(subjects(&h, "nobody@example.org", 2).await.len(), 2);
    assert!(
        h.mailbox()
            .to("nobody@example.org")
            .iter()
            .any(|e| e.subject == NOT_FOUND)
    );

    // A resolved case stays resolved; unknown and malformed ids are told apart.
    let again = resolve(&h, &admin, &ambiguous.id, Resolution::NoMatch(true))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert_eq!(
        again.get_details_error_info().unwrap().reason,
        "RECORD_STATE"
    );
    let unknown = resolve(&h, &admin, &"0".repeat(32), Resolution::NoMatch(true))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let alerted = case_for(&open, "Cerys");
    let no_record = resolve(&h, &admin, &alerted.id, Resolution::Trn("9999998".into()))
        .await
        .unwrap_err();
    assert_eq!(no_record.code(), Code::NotFound, "{no_record:?}");
    let malformed = resolve(&h, &admin, "case-1", Resolution::NoMatch(false))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&malformed), ["id", "resolution"]);

    // Listed a page at a time, by status.
    let page = h
        .admin()
        .list_trn_cases(authed(
            pb::ListTrnCasesRequest {
                page_size: 2,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.cases.len(), 2);
    let rest = h
        .admin()
        .list_trn_cases(authed(
            pb::ListTrnCasesRequest {
                page_size: 2,
                page_token: page.next_page_token.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.cases.len(), 1);
    assert!(rest.next_page_token.is_empty());
    assert_eq!(cases(&h, &admin, pb::TrnCaseStatus::Open).await.len(), 1);

    // Audited: the TRN sent against its record, the resolution against the TRN given.
    let actions = |events: Vec<pb::AuditEvent>| -> Vec<String> {
        events.into_iter().map(|e| e.action).collect()
    };
    assert!(
        actions(h.audit_events(&admin, &anna.trn).await).contains(&"trn_search.answer".to_owned())
    );
    let resolved_events = h.audit_events(&admin, &twin.trn).await;
    let event = resolved_events
        .iter()
        .find(|e| e.action == "trn_case.resolve")
        .expect("the resolution audited");
    assert_eq!(event.details, format!("case {}", ambiguous.id));
    assert_eq!(event.actor, "admin");

    // Resolved cases go, with what the person gave, after the retention period (3 s here);
    // the open one stays.
    wait_for_cases(&h, &admin, pb::TrnCaseStatus::Resolved, 0).await;
    assert_eq!(cases(&h, &admin, pb::TrnCaseStatus::Open).await.len(), 1);
    let deleted = h.audit_events(&admin, &twin.trn).await;
    assert!(deleted.iter().any(|e| e.action == "trn_case.delete"));
    h.shutdown().await;
}

/// The main flow's portal: every search let through, resolved cases kept 3 s.
fn open_searches(config: &mut portal::Config) {
    config.identity.sign_in.captcha = CaptchaMode::Off;
    config.identity.sign_in.trn_searches_per_source = 100;
    config.record.evidence_retention_seconds = 3;
}

#[tokio::test]
async fn lost_trns_are_found_or_handed_to_staff_embedded() {
    let Some(h) = start_with_smtp(Stores::Embedded, open_searches).await else {
        return;
    };
    lost_trns_are_found_or_handed_to_staff(h).await;
}

#[tokio::test]
async fn lost_trns_are_found_or_handed_to_staff_postgres_smtp() {
    let Some(h) = start_with_smtp(Stores::PostgresRedis, open_searches).await else {
        return;
    };
    lost_trns_are_found_or_handed_to_staff(h).await;
}

fn assert_too_many(status: &Status) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        "TOO_MANY_TRN_SEARCHES"
    );
    let retry = status
        .get_details_retry_info()
        .unwrap()
        .retry_delay
        .unwrap();
    assert!(retry > Duration::ZERO && retry <= Duration::from_secs(3600));
}

/// A captcha's id and answer, read from the store as a person would read the picture.
async fn solved_captcha(h: &Harness) -> (String, String) {
    let captcha = h
        .auth()
        .create_captcha(pb::CreateCaptchaRequest {})
        .await
        .unwrap()
        .into_inner();
    let store = h.stack.as_ref().unwrap().sessions().store();
    let answer = store
        .get(&format!("dqt:captcha:{}", captcha.captcha_id))
        .await
        .unwrap()
        .expect("answer stored");
    (captcha.captcha_id, String::from_utf8(answer).unwrap())
}

async fn searches_are_limited(h: Harness) {
    let admin = h.sign_in_admin().await;
    let nobody = |n: usize, email: &str| {
        search(
            "Nobody",
            "Known",
            &format!("1990-10-{:02}", n + 1),
            "",
            email,
        )
    };
    // Bad input is named, and counts nothing.
    let bad = find(&h, search("", "Known", "1990-13-01", "QQ", "no-at-sign"))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&bad),
        [
            "first_name",
            "date_of_birth",
            "national_insurance_number",
            "email"
        ]
    );
    // Three from this source go through; the fourth needs a captcha, as sign-in's step-up.
    for n in 0..3 {
        find(&h, nobody(n, "same@example.org")).await.unwrap();
    }
    let status = find(&h, nobody(3, "other@example.org")).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        "CAPTCHA_REQUIRED"
    );
    let wrong = pb::FindMyTrnRequest {
        captcha_id: solved_captcha(&h).await.0,
        captcha_answer: "?????".into(),
        ..nobody(3, "other@example.org")
    };
    assert_eq!(
        find(&h, wrong).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    // Three for one email address are its limit, captcha or not.
    let (id, answer) = solved_captcha(&h).await;
    let status = find(
        &h,
        pb::FindMyTrnRequest {
            captcha_id: id,
            captcha_answer: answer,
            ..nobody(3, "SAME@example.org")
        },
    )
    .await
    .unwrap_err();
    assert_too_many(&status);
    // Another address goes on with a solved captcha, until the source's limit (5 here).
    for n in 3..5 {
        let (id, answer) = solved_captcha(&h).await;
        find(
            &h,
            pb::FindMyTrnRequest {
                captcha_id: id,
                captcha_answer: answer,
                ..nobody(n, &format!("other{n}@example.org"))
            },
        )
        .await
        .unwrap();
    }
    let (id, answer) = solved_captcha(&h).await;
    let status = find(
        &h,
        pb::FindMyTrnRequest {
            captcha_id: id,
            captcha_answer: answer,
            ..nobody(5, "fresh@example.org")
        },
    )
    .await
    .unwrap_err();
    assert_too_many(&status);
    // Exactly the five let through were kept, each a case acknowledged by email.
    wait_for_cases(&h, &admin, pb::TrnCaseStatus::Open, 5).await;
    h.mailbox().wait_for("same@example.org", 3, MAIL).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.mailbox().all().len(), 5);
    h.shutdown().await;
}

fn limited(config: &mut portal::Config) {
    config.identity.sign_in.trn_searches_per_source = 5;
}

#[tokio::test]
async fn searches_are_limited_per_source_and_email_with_a_captcha_after_three_embedded() {
    let Some(h) = start_with_smtp(Stores::Embedded, limited).await else {
        return;
    };
    searches_are_limited(h).await;
}

#[tokio::test]
async fn searches_are_limited_per_source_and_email_with_a_captcha_after_three_postgres_smtp() {
    let Some(h) = start_with_smtp(Stores::PostgresRedis, limited).await else {
        return;
    };
    searches_are_limited(h).await;
}

/// Searches kept while no email could be queued (the notification service not running) are
/// answered once it runs, after the whole portal restarts, and each email goes once.
#[tokio::test]
async fn searches_kept_while_the_notification_service_is_down_are_answered_once_it_is_up() {
    use portal_common::component::names;
    let everything = crate::support::default_config();
    let all: Vec<&str> = everything.components().iter().map(|c| c.name()).collect();
    let without: Vec<&str> = all
        .iter()
        .copied()
        .filter(|name| *name != names::NOTIFICATION)
        .collect();
    let Some(mut h) = start_only(&without, Stores::Embedded, open_searches).await else {
        return;
    };
    let admin = h.sign_in_admin().await;
    let record = teacher(
        &h,
        &admin,
        ("Eluned", "Parry", "1988-06-07"),
        "CE112233A",
        "",
    )
    .await;
    find(
        &h,
        search(
            "Eluned",
            "Parry",
            "1988-06-07",
            "CE112233A",
            "eluned@example.org",
        ),
    )
    .await
    .unwrap();
    find(
        &h,
        search("Nobody", "Known", "1990-10-10", "", "nobody@example.org"),
    )
    .await
    .unwrap();
    // The worker has tried both and could queue nothing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(h.mailbox().all().is_empty());

    let signer = h.stack.as_ref().unwrap().signer().clone();
    h.stack.take().unwrap().shutdown().await.unwrap();
    h.stack = Some(portal::Stack::start(&h.config, &all, signer).await.unwrap());
    let found = h.mailbox().wait_for("eluned@example.org", 1, MAIL).await;
    assert_eq!(found[0].subject, FOUND);
    assert!(found[0].raw.contains(&record.trn));
    assert_eq!(subjects(&h, "nobody@example.org", 1).await, [OPENED]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.mailbox().all().len(), 2, "each email once");
    h.shutdown().await;
}

/// A search the record service cannot keep is UNAVAILABLE and counts nothing: five in a row
/// for one address from one source never meet the captcha (after three) nor the address's
/// limit (three).
#[tokio::test]
async fn a_search_that_cannot_be_kept_is_unavailable_and_counts_nothing() {
    use portal_common::component::names;
    let everything = crate::support::default_config();
    let without: Vec<&str> = everything
        .components()
        .iter()
        .map(|c| c.name())
        .filter(|name| *name != names::RECORD)
        .collect();
    let Some(h) = start_only(&without, Stores::Embedded, |_| {}).await else {
        return;
    };
    for _ in 0..5 {
        let status = find(
            &h,
            search("Nobody", "Known", "1990-10-10", "", "same@example.org"),
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    h.shutdown().await;
}
