//! Redis stopped under a running gateway: every call that needs a session or a sign-in count
//! fails closed with UNAVAILABLE, promptly (a session the gateway held in memory included), and
//! the portal recovers by itself once Redis is back.
//! The test runs its own redis-server on a port of its own.

use std::time::Duration;

use crate::support::redis::RedisServer;
use crate::support::{ADMIN_SECRET, Harness, Stores, authed, start};
use dqt_proto::dqt::portal::v1 as pb;
use tonic::Code;

async fn sign_in_admin(h: &Harness) -> Result<String, tonic::Status> {
    h.auth()
        .sign_in_client(pb::SignInClientRequest {
            client_id: "admin".into(),
            client_secret: ADMIN_SECRET.into(),
        })
        .await
        .map(|r| r.into_inner().token)
}

/// A call that must not hang: the store's own timeout answers first.
async fn promptly<T>(call: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("answered without hanging")
}

#[tokio::test]
async fn the_gateway_fails_closed_while_redis_is_down_and_recovers_by_itself() {
    let Some(mut redis) = RedisServer::start().await else {
        return;
    };
    let url = redis.url();
    let h = start(Stores::Embedded, |config| {
        config.shared.redis_url = Some(url)
    })
    .await
    .unwrap();
    let admin = sign_in_admin(&h).await.unwrap();
    let read = |token: &str| {
        authed(
            pb::GetTeacherRequest {
                trn: "9999999".into(),
            },
            token,
        )
    };
    let status = h.admin().get_teacher(read(&admin)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "the session works");

    // The session is now held in the gateway's memory; Redis going away empties it. Within
    // 2 s every call is refused, and none after that is served from memory.
    redis.stop();
    let stopped = std::time::Instant::now();
    loop {
        let answer = promptly(h.admin().get_teacher(read(&admin))).await;
        match answer {
            Err(status) if status.code() == Code::Unavailable => break,
            _ => assert!(
                stopped.elapsed() < Duration::from_secs(2),
                "still served 2 s after Redis went: {answer:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..3 {
        let status = promptly(h.admin().get_teacher(read(&admin)))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        let status = promptly(sign_in_admin(&h)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        let status = promptly(h.auth().sign_in_teacher(pb::SignInTeacherRequest {
            trn: "1000000".into(),
            surname: "Smith".into(),
            forename: "Jo".into(),
            date_of_birth: "1980-01-01".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        let status = promptly(
            h.portal()
                .get_my_record(authed(pb::GetMyRecordRequest {}, "forged")),
        )
        .await
        .unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unavailable,
            "never let through: {status:?}"
        );
    }

    redis.run().await.expect("redis-server restarts");
    let mut recovered = None;
    for _ in 0..75 {
        if let Ok(token) = sign_in_admin(&h).await {
            recovered = Some(token);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let fresh = recovered.expect("sign-in works again once Redis is back");
    let status = h.admin().get_teacher(read(&fresh)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "the new session works");
    // This Redis kept nothing: the session from before the outage is gone, not revived.
    let status = h.admin().get_teacher(read(&admin)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    h.shutdown().await;
}
