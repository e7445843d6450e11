//! The gateway as a route table: calls forwarded as frames keep what the service said (rich
//! error details, the request id) and the per-API size limits (deadlines: `tests/faults.rs`,
//! where a hung record service answers a forwarded GetMyRecord DEADLINE_EXCEEDED in time); sessions are checked
//! from the gateway's memory, and Redis tells every gateway of each change at once (sign-out,
//! revocation), an entry never outliving its session, while use still slides the idle expiry.

use std::time::{Duration, Instant};

use crate::support::redis::RedisServer;
use crate::support::{Harness, Stores, authed, bad_fields, start};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::teacher_portal_client::TeacherPortalClient;
use portal::Config;
use portal::Stack;
use portal_common::component::names;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

fn teacher() -> pb::CreateTeacherRequest {
    pb::CreateTeacherRequest {
        first_name: "Gethin".into(),
        last_name: "Parry".into(),
        date_of_birth: "1983-09-09".into(),
        ..Default::default()
    }
}

async fn my_record(channel: &Channel, token: &str) -> Result<pb::TeacherRecord, tonic::Status> {
    TeacherPortalClient::new(channel.clone())
        .get_my_record(authed(pb::GetMyRecordRequest {}, token))
        .await
        .map(tonic::Response::into_inner)
}

/// A second gateway on the same Redis, in front of the harness's services.
async fn second_gateway(h: &Harness) -> (Stack, Channel) {
    let mut config: Config = h.config.clone();
    for component in config.components_mut() {
        *component.addr_mut() = match component.name() {
            names::GATEWAY => "127.0.0.1:0".to_owned(),
            other => h.addr(other),
        };
    }
    let signer = h.stack.as_ref().unwrap().signer().clone();
    let stack = Stack::start(&config, &[names::GATEWAY], signer)
        .await
        .expect("a second gateway starts");
    let channel = Endpoint::from_shared(format!("http://{}", stack.addr(names::GATEWAY)))
        .unwrap()
        .connect_lazy();
    (stack, channel)
}

/// Waits until `token` is refused through `channel`: the time it took.
async fn refused_within(channel: &Channel, token: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        match my_record(channel, token).await {
            Err(status) if status.code() == Code::Unauthenticated => return started.elapsed(),
            answer => assert!(
                started.elapsed() < limit,
                "still served after {limit:?}: {answer:?}"
            ),
        }
    }
}

#[tokio::test]
async fn a_sign_out_or_revocation_through_one_gateway_is_refused_by_another_at_once() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    let (other, b) = second_gateway(&h).await;
    let admin = h.sign_in_admin().await;
    let record = h.create_teacher(&admin, teacher()).await;

    // Sign-out through A, while B holds the session in memory.
    let token = h.sign_in_teacher(&record).await.token;
    my_record(&h.gateway, &token).await.unwrap();
    my_record(&b, &token).await.unwrap();
    h.auth()
        .sign_out(authed(pb::SignOutRequest {}, &token))
        .await
        .unwrap();
    let took = refused_within(&b, &token, Duration::from_millis(100)).await;
    eprintln!("sign-out seen by the other gateway after {took:?}");

    // Revocation of every session of the teacher, through A.
    let token = h.sign_in_teacher(&record).await.token;
    my_record(&b, &token).await.unwrap();
    h.admin()
        .revoke_teacher_sessions(authed(
            pb::RevokeTeacherSessionsRequest {
                trn: record.trn.clone(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let took = refused_within(&b, &token, Duration::from_millis(100)).await;
    eprintln!("revocation seen by the other gateway after {took:?}");
    other.shutdown().await.unwrap();
    h.shutdown().await;
}

/// Redis `INFO commandstats`: how many times `command` has run.
async fn calls_of(url: &str, command: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut connection)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test]
async fn sessions_are_checked_from_memory_never_past_their_end_and_use_still_slides_them() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let url = redis.url();
    let h = start(Stores::Embedded, |config| {
        config.shared.redis_url = Some(url.clone());
        config.shared.teacher_session_seconds = 4;
        config.shared.session_idle_seconds = 2;
        config.gateway.session_touch_seconds = 1;
    })
    .await
    .unwrap();
    let admin = h.sign_in_admin().await;
    let record = h.create_teacher(&admin, teacher()).await;

    // From memory: fifty calls, and Redis is asked once.
    let token = h.sign_in_teacher(&record).await.token;
    my_record(&h.gateway, &token).await.unwrap();
    let before = calls_of(&url, "get").await;
    for _ in 0..50 {
        my_record(&h.gateway, &token).await.unwrap();
    }
    let asked = calls_of(&url, "get").await - before;
    assert!(asked <= 1, "Redis was asked {asked} times for 50 calls");

    // Used every 300 ms, the session outlives its 2 s idle timeout: the gateway slides it in
    // Redis (at most once a second) though it answers from memory.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(3200) {
        my_record(&h.gateway, &token)
            .await
            .expect("in use, the session lives on");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Its absolute lifetime (4 s from sign-in) ends it, though the gateway holds it and Redis
    // still has it (its idle timeout has just slid).
    let refused = refused_within(&h.gateway, &token, Duration::from_secs(2)).await;
    let at = started.elapsed();
    assert!(
        at < Duration::from_millis(4500),
        "refused late: {at:?} ({refused:?})"
    );
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!(
        "{}dqt:session:{}",
        h.config.shared.redis_key_prefix,
        portal_common::sessions::session_id(&token)
    );
    let exists: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(exists, "refused by its end, not by Redis");

    // Unused, it ends at its idle timeout.
    let token = h.sign_in_teacher(&record).await.token;
    my_record(&h.gateway, &token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let idle = my_record(&h.gateway, &token).await.unwrap_err();
    assert_eq!(idle.code(), Code::Unauthenticated);
    h.shutdown().await;
}

#[tokio::test]
async fn forwarded_calls_keep_what_the_service_said_and_the_limits_of_their_api() {
    // Verification off: the teacher below calls a verified-level RPC with the seed's sign-in.
    let h = start(Stores::Embedded, |config| {
        config.shared.verification = portal_common::VerificationMode::Off;
    })
    .await
    .unwrap();
    let admin = h.sign_in_admin().await;
    let record = h.create_teacher(&admin, teacher()).await;

    // Rich error details, from the record service, through the gateway unread.
    let bad = h
        .admin()
        .add_professional_status(authed(
            pb::AddProfessionalStatusRequest {
                trn: record.trn.clone(),
                professional_status: Some(pb::ProfessionalStatus::default()),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert!(bad_fields(&bad).contains(&"professional_status.type".to_owned()));

    // The caller's request id comes back, on answers and refusals alike.
    let mut request = authed(
        pb::GetTeacherRequest {
            trn: record.trn.clone(),
        },
        &admin,
    );
    request
        .metadata_mut()
        .insert("x-request-id", "forwarded-42".parse().unwrap());
    let answer = h.admin().get_teacher(request).await.unwrap();
    assert_eq!(
        answer.metadata().get("x-request-id").unwrap(),
        "forwarded-42"
    );
    let mut request = authed(pb::GetTeacherRequest { trn: "1".into() }, &admin);
    request
        .metadata_mut()
        .insert("x-request-id", "forwarded-43".parse().unwrap());
    let refused = h.admin().get_teacher(request).await.unwrap_err();
    assert_eq!(
        refused.metadata().get("x-request-id").unwrap(),
        "forwarded-43"
    );

    // Each API's size limit holds for forwarded calls, refused from the frame's header.
    let big = pb::UpdateTeacherRequest {
        trn: record.trn.clone(),
        teacher: Some(pb::TeacherRecord {
            last_name: "x".repeat(80 * 1024),
            ..Default::default()
        }),
        update_mask: None,
    };
    let oversized = h
        .admin()
        .update_teacher(authed(big, &admin))
        .await
        .unwrap_err();
    assert_eq!(oversized.code(), Code::ResourceExhausted);

    // The same for a typed handler's message, and bytes that are not the message are the
    // caller's error, forwarded or typed, without the decoder's findings.
    let session = h.sign_in_teacher(&record).await.token;
    let typed = "/dqt.portal.v1.TeacherPortal/ListMyRecordChecks";
    // (prost encodes a `Vec<u8>` as google.protobuf.BytesValue: field 1, bytes.)
    let huge: Vec<u8> = vec![7; 5 * 1024 * 1024];
    let refused = raw_call(&h.gateway, typed, huge, Some(&session)).await;
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    // Field 1 as bytes that are not UTF-8: not a string, so not the request's `trn`.
    let garbled = || -> Vec<u8> { vec![0xff, 0xfe, 0xfd] };
    for (path, token) in [
        ("/dqt.portal.v1.Authentication/SignInTeacher", None),
        (
            "/dqt.portal.v1.Administration/GetTeacher",
            Some(admin.as_str()),
        ),
    ] {
        let refused = raw_call(&h.gateway, path, garbled(), token).await;
        assert_eq!(refused.code(), Code::InvalidArgument, "{path}: {refused:?}");
        assert!(!refused.message().contains("utf"), "{}", refused.message());
    }
    h.shutdown().await;
}

/// A unary call of `path` with any message, which the server must refuse.
async fn raw_call<M>(
    channel: &Channel,
    path: &'static str,
    message: M,
    token: Option<&str>,
) -> tonic::Status
where
    M: prost::Message + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let request = match token {
        Some(token) => authed(message, token),
        None => tonic::Request::new(message),
    };
    grpc.unary::<M, (), _>(
        request,
        tonic::codegen::http::uri::PathAndQuery::from_static(path),
        tonic_prost::ProstCodec::default(),
    )
    .await
    .unwrap_err()
}

/// gzip both ways, for forwarded calls (the service unpacks and packs) and typed ones (the
/// gateway does), and every answer says that gzip is accepted.
#[tokio::test]
async fn requests_and_answers_may_be_gzipped() {
    use dqt_proto::dqt::portal::v1::administration_client::AdministrationClient;
    use dqt_proto::dqt::portal::v1::authentication_client::AuthenticationClient;
    use tonic::codec::CompressionEncoding::Gzip;
    let h = start(Stores::Embedded, |config| {
        config.shared.verification = portal_common::VerificationMode::Off;
    })
    .await
    .unwrap();
    let admin = AdministrationClient::new(h.gateway.clone())
        .send_compressed(Gzip)
        .accept_compressed(Gzip);
    let auth = AuthenticationClient::new(h.gateway.clone())
        .send_compressed(Gzip)
        .accept_compressed(Gzip);
    let portal = TeacherPortalClient::new(h.gateway.clone())
        .send_compressed(Gzip)
        .accept_compressed(Gzip);
    let token = auth
        .clone()
        .sign_in_client(pb::SignInClientRequest {
            client_id: "admin".into(),
            client_secret: crate::support::ADMIN_SECRET.into(),
        })
        .await
        .expect("a gzipped sign-in")
        .into_inner()
        .token;
    let record = admin
        .clone()
        .create_teacher(authed(teacher(), &token))
        .await
        .expect("a gzipped create")
        .into_inner();
    let session = auth
        .clone()
        .sign_in_teacher(crate::support::sign_in_request(&record))
        .await
        .unwrap()
        .into_inner()
        .token;
    let forwarded = portal
        .clone()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &session))
        .await
        .expect("a gzipped forwarded call");
    let typed = portal
        .clone()
        .list_my_record_checks(authed(pb::ListMyRecordChecksRequest::default(), &session))
        .await
        .expect("a gzipped typed call");
    for (what, metadata) in [
        ("forwarded", forwarded.metadata()),
        ("typed", typed.metadata()),
    ] {
        assert_eq!(metadata.get("grpc-encoding").unwrap(), "gzip", "{what}");
        let accepted = metadata.get("grpc-accept-encoding").unwrap();
        assert!(accepted.to_str().unwrap().contains("gzip"), "{what}");
    }
    assert_eq!(forwarded.into_inner().trn, record.trn);
    // Uncompressed callers are told too.
    let plain = h
        .portal()
        .get_my_record(authed(pb::GetMyRecordRequest {}, &session))
        .await
        .unwrap();
    let accepted = plain.metadata().get("grpc-accept-encoding").unwrap();
    assert!(accepted.to_str().unwrap().contains("gzip"));
    assert!(plain.metadata().get("grpc-encoding").is_none());
    h.shutdown().await;
}

/// Every error carries an ErrorInfo whose domain is the portal's and whose reason is one of
/// the table in `errors.proto` (AIP-193): ours, tonic's own (an unknown method) and those
/// passed on from a service alike.
#[tokio::test]
async fn every_error_names_a_reason_from_the_table() {
    use dqt_proto::dqt::portal::v1::ErrorReason;
    use tonic_types::StatusExt as _;
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    let admin = h.sign_in_admin().await;
    let record = h.create_teacher(&admin, teacher()).await;
    let session = h.sign_in_teacher(&record).await.token;
    let mut refusals: Vec<(&str, tonic::Status)> = Vec::new();
    refusals.push((
        "UNKNOWN_METHOD",
        raw_call(
            &h.gateway,
            "/dqt.portal.v1.Administration/Nothing",
            (),
            None,
        )
        .await,
    ));
    refusals.push((
        "SESSION_REQUIRED",
        h.portal()
            .get_my_record(pb::GetMyRecordRequest {})
            .await
            .unwrap_err(),
    ));
    refusals.push((
        "SESSION_INVALID",
        my_record(&h.gateway, "no-such-token").await.unwrap_err(),
    ));
    let mut wrong = crate::support::sign_in_request(&record);
    wrong.forename = "Someone".into();
    refusals.push((
        "SIGN_IN_FAILED",
        h.auth().sign_in_teacher(wrong).await.unwrap_err(),
    ));
    refusals.push((
        "INVALID_FIELDS",
        h.admin()
            .get_teacher(authed(pb::GetTeacherRequest { trn: "12".into() }, &admin))
            .await
            .unwrap_err(),
    ));
    refusals.push((
        "NOT_FOUND",
        h.admin()
            .get_teacher(authed(
                pb::GetTeacherRequest {
                    trn: "9999999".into(),
                },
                &admin,
            ))
            .await
            .unwrap_err(),
    ));
    refusals.push((
        "NOT_ALLOWED",
        h.admin()
            .get_teacher(authed(
                pb::GetTeacherRequest {
                    trn: record.trn.clone(),
                },
                &session,
            ))
            .await
            .unwrap_err(),
    ));
    refusals.push((
        "VERIFICATION_REQUIRED",
        h.portal()
            .list_my_record_checks(authed(pb::ListMyRecordChecksRequest::default(), &session))
            .await
            .unwrap_err(),
    ));
    refusals.push((
        "MALFORMED_REQUEST",
        raw_call(
            &h.gateway,
            "/dqt.portal.v1.Authentication/SignInTeacher",
            vec![0xffu8, 0xfe],
            None,
        )
        .await,
    ));
    refusals.push((
        "REQUEST_TOO_LARGE",
        raw_call(
            &h.gateway,
            "/dqt.portal.v1.Authentication/SignInTeacher",
            vec![b'x'; 64 * 1024],
            None,
        )
        .await,
    ));
    for (expected, status) in refusals {
        let info = status
            .get_details_error_info()
            .unwrap_or_else(|| panic!("{expected}: no ErrorInfo in {status:?}"));
        assert_eq!(info.domain, "portal.dqt.education.gov.uk", "{expected}");
        assert_eq!(info.reason, expected, "{status:?}");
        assert!(
            ErrorReason::from_str_name(&info.reason).is_some_and(|r| r != ErrorReason::Unspecified),
            "{} is in the table",
            info.reason
        );
    }
    h.shutdown().await;
}
