//! Teacher sign-in under attack: captchas (step-up and always), failure counts per TRN and per
//! source, lockout even with correct details, a storm of concurrent guesses, trusted front ends,
//! revocation of a teacher's sessions; on embedded stores and on PostgreSQL + Redis.

use std::time::Duration;

use crate::support::{Harness, Stores, authed, start};
use dqt_proto::dqt::portal::v1 as pb;
use portal::Config;
use portal_identity::throttle::CaptchaMode;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt as _;

const DOB: &str = "1990-04-01";

fn details(trn: &str, surname: &str) -> pb::SignInTeacherRequest {
    pb::SignInTeacherRequest {
        trn: trn.into(),
        surname: surname.into(),
        forename: "Niamh".into(),
        date_of_birth: DOB.into(),
        ..Default::default()
    }
}

async fn new_teacher(h: &Harness, admin: &str) -> String {
    h.create_teacher(
        admin,
        pb::CreateTeacherRequest {
            first_name: "Niamh".into(),
            last_name: "Ní Bhriain".into(),
            date_of_birth: DOB.into(),
            ..Default::default()
        },
    )
    .await
    .trn
}

async fn sign_in(h: &Harness, request: pb::SignInTeacherRequest) -> Result<String, Status> {
    h.auth()
        .sign_in_teacher(request)
        .await
        .map(|r| r.into_inner().token)
}

/// A captcha and its answer, read from the store as a person would read the picture.
async fn solved_captcha(h: &Harness) -> (String, String) {
    let captcha = h
        .auth()
        .create_captcha(pb::CreateCaptchaRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(captcha.png.starts_with(b"\x89PNG"));
    let expires = captcha.expire_time.unwrap().seconds - chrono_now();
    assert!(
        (290..=300).contains(&expires),
        "five minutes, not {expires} s"
    );
    let store = h.stack.as_ref().unwrap().sessions().store();
    let key = format!("dqt:captcha:{}", captcha.captcha_id);
    let answer = store.take(&key).await.unwrap().expect("answer stored");
    store
        .put(&key, answer.clone(), Duration::from_secs(300))
        .await
        .unwrap();
    (captcha.captcha_id, String::from_utf8(answer).unwrap())
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn with_captcha(
    mut request: pb::SignInTeacherRequest,
    (id, answer): &(String, String),
) -> pb::SignInTeacherRequest {
    request.captcha_id = id.clone();
    request.captcha_answer = answer.to_uppercase();
    request
}

fn assert_captcha_required(status: &Status) {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo detail");
    assert_eq!(info.reason, "CAPTCHA_REQUIRED");
}

fn assert_locked(status: &Status, at_most: Duration) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let retry = status
        .get_details_retry_info()
        .expect("RetryInfo detail")
        .retry_delay
        .expect("a delay");
    assert!(!retry.is_zero() && retry <= at_most, "{retry:?}");
}

/// Three failures ask for a captcha; five lock the TRN, even against the right details.
async fn step_up_then_lockout(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let trn = new_teacher(h, &admin).await;
    for _ in 0..3 {
        let status = sign_in(h, details(&trn, "Wrong")).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    // The fourth attempt needs a captcha, right details or wrong.
    assert_captcha_required(&sign_in(h, details(&trn, "Ní Bhriain")).await.unwrap_err());
    let wrong_answer = (solved_captcha(h).await.0, "?????".to_owned());
    assert_captcha_required(
        &sign_in(h, with_captcha(details(&trn, "Ní Bhriain"), &wrong_answer))
            .await
            .unwrap_err(),
    );
    // A solved captcha lets the attempt through, once.
    let captcha = solved_captcha(h).await;
    let status = sign_in(h, with_captcha(details(&trn, "Wrong"), &captcha))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_captcha_required(
        &sign_in(h, with_captcha(details(&trn, "Wrong"), &captcha))
            .await
            .unwrap_err(),
    );
    let status = sign_in(
        h,
        with_captcha(details(&trn, "Wrong"), &solved_captcha(h).await),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "the fifth failure");
    // Locked now: the right details and a solved captcha do not help.
    let locked = sign_in(
        h,
        with_captcha(details(&trn, "ní bhriain"), &solved_captcha(h).await),
    )
    .await
    .unwrap_err();
    assert_locked(&locked, Duration::from_secs(900));
    // Another TRN from this source needs a captcha: the source has failed too.
    let other = new_teacher(h, &admin).await;
    assert_captcha_required(&sign_in(h, details(&other, "Ní Bhriain")).await.unwrap_err());
    sign_in(
        h,
        with_captcha(details(&other, "Ní Bhriain"), &solved_captcha(h).await),
    )
    .await
    .expect("the other teacher signs in");
}

#[tokio::test]
async fn step_up_captcha_then_lockout_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    step_up_then_lockout(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn step_up_captcha_then_lockout_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    step_up_then_lockout(&h).await;
    h.shutdown().await;
}

/// Many guesses at once cannot outrun the limit: at most five are tried.
async fn storm(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let trn = new_teacher(h, &admin).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..60_u8 {
        let mut client = h.auth();
        // Names hold letters only: the guess's number spelt in two letters.
        let guess = [b'a' + i / 26, b'a' + i % 26].map(char::from);
        let request = details(&trn, &format!("Guess{}{}", guess[0], guess[1]));
        tasks.spawn(async move { client.sign_in_teacher(request).await.unwrap_err().code() });
    }
    let codes = tasks.join_all().await;
    let tried = codes
        .iter()
        .filter(|c| **c == Code::Unauthenticated)
        .count();
    let refused = codes
        .iter()
        .filter(|c| **c == Code::ResourceExhausted)
        .count();
    assert!(tried <= 5, "{tried} guesses were tried");
    assert_eq!(tried + refused, 60, "{codes:?}");
    let status = sign_in(h, details(&trn, "Ní Bhriain")).await.unwrap_err();
    assert_locked(&status, Duration::from_secs(900));
}

fn storm_config(config: &mut Config) {
    config.identity.sign_in.captcha = CaptchaMode::Off;
    config.identity.sign_in.source_lock_after_failures = 1000;
}

#[tokio::test]
async fn a_sign_in_storm_against_one_trn_is_locked_on_embedded_stores() {
    let h = start(Stores::Embedded, storm_config).await.unwrap();
    storm(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_sign_in_storm_against_one_trn_is_locked_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, storm_config).await else {
        return;
    };
    storm(&h).await;
    h.shutdown().await;
}

fn from(
    request: pb::SignInTeacherRequest,
    forwarded_for: &'static str,
) -> Request<pb::SignInTeacherRequest> {
    let mut request = Request::new(request);
    request
        .metadata_mut()
        .insert("x-forwarded-for", MetadataValue::from_static(forwarded_for));
    request
}

#[tokio::test]
async fn a_source_is_locked_after_its_limit_and_trusted_front_ends_name_the_source() {
    let h = start(Stores::Embedded, |config| {
        config.identity.sign_in.captcha = CaptchaMode::Off;
        config.identity.sign_in.source_lock_after_failures = 4;
        config.gateway.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
    .unwrap();
    let admin = h.sign_in_admin().await;
    let trns = [
        new_teacher(&h, &admin).await,
        new_teacher(&h, &admin).await,
        new_teacher(&h, &admin).await,
    ];
    // Failures spread over TRNs, all from one client behind the front end.
    for trn in trns.iter().chain(&trns[..1]) {
        let status = h
            .auth()
            .sign_in_teacher(from(details(trn, "Wrong"), "198.51.100.20"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    let locked = h
        .auth()
        .sign_in_teacher(from(details(&trns[2], "Ní Bhriain"), "198.51.100.20"))
        .await
        .unwrap_err();
    assert_locked(&locked, Duration::from_secs(900));
    // Another client behind the same front end is not affected.
    h.auth()
        .sign_in_teacher(from(details(&trns[2], "Ní Bhriain"), "203.0.113.77"))
        .await
        .expect("another source signs in");
    // A forged x-forwarded-for from an untrusted peer is not believed: the peer is the source.
    // (The test's own address, 127.0.0.1, is trusted above; a direct call without the header
    // is that address.)
    h.auth()
        .sign_in_teacher(details(&trns[1], "Ní Bhriain"))
        .await
        .expect("the front end itself is another source");
    h.shutdown().await;
}

#[tokio::test]
async fn always_mode_asks_every_sign_in_for_a_captcha() {
    let h = start(Stores::Embedded, |config| {
        config.identity.sign_in.captcha = CaptchaMode::Always
    })
    .await
    .unwrap();
    let admin = h.sign_in_admin().await;
    let trn = new_teacher(&h, &admin).await;
    assert_captcha_required(&sign_in(&h, details(&trn, "Ní Bhriain")).await.unwrap_err());
    sign_in(
        &h,
        with_captcha(details(&trn, "Ní Bhriain"), &solved_captcha(&h).await),
    )
    .await
    .expect("signs in with a solved captcha");
    h.shutdown().await;
}

#[tokio::test]
async fn locks_and_counts_end_with_their_window() {
    let h = start(Stores::Embedded, |config| {
        config.identity.sign_in.captcha = CaptchaMode::Off;
        config.identity.sign_in.trn_lock_after_failures = 2;
        config.identity.sign_in.window_seconds = 1;
        config.identity.sign_in.lock_seconds = 1;
    })
    .await
    .unwrap();
    let admin = h.sign_in_admin().await;
    let trn = new_teacher(&h, &admin).await;
    for _ in 0..2 {
        sign_in(&h, details(&trn, "Wrong")).await.unwrap_err();
    }
    let locked = sign_in(&h, details(&trn, "Ní Bhriain")).await.unwrap_err();
    assert_locked(&locked, Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    sign_in(&h, details(&trn, "Ní Bhriain"))
        .await
        .expect("the lock has ended");
    h.shutdown().await;
}

async fn revocation(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let trn = new_teacher(h, &admin).await;
    let phone = sign_in(h, details(&trn, "Ní Bhriain")).await.unwrap();
    let laptop = sign_in(h, details(&trn, "Ní Bhriain")).await.unwrap();
    let other_trn = new_teacher(h, &admin).await;
    let other = sign_in(h, details(&other_trn, "Ní Bhriain")).await.unwrap();
    let revoke = |trn: &str, token: &str| {
        authed(pb::RevokeTeacherSessionsRequest { trn: trn.into() }, token)
    };
    // A teacher cannot revoke, not even their own sessions through this API.
    let denied = h
        .admin()
        .revoke_teacher_sessions(revoke(&trn, &phone))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let revoked = h
        .admin()
        .revoke_teacher_sessions(revoke(&trn, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked_count, 2);
    for token in [&phone, &laptop] {
        let status = h
            .portal()
            .get_my_record(authed(pb::GetMyRecordRequest {}, token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    h.portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &other))
        .await
        .expect("another teacher's session lives on");
    let again = h
        .admin()
        .revoke_teacher_sessions(revoke(&trn, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.revoked_count, 0);
}

#[tokio::test]
async fn revoking_ends_every_session_of_a_teacher_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    revocation(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn revoking_ends_every_session_of_a_teacher_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    revocation(&h).await;
    h.shutdown().await;
}
