//! Overload: past its limit of calls in progress a server refuses new ones at once with
//! RESOURCE_EXHAUSTED instead of queueing them, keeps answering health checks, and serves
//! normally again once the burst has passed.

use crate::support::{ADMIN_SECRET, Stores, start};
use dqt_proto::dqt::portal::v1 as pb;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_past_the_limit_is_shed_fast_and_health_still_answers() {
    let h = start(Stores::Embedded, |config| {
        config.shared.limits.max_concurrent_calls = 2;
    })
    .await
    .unwrap();
    // Client sign-in verifies an Argon2 hash: slow enough that a burst overlaps.
    let sign_in = || {
        let mut auth = h.auth();
        async move {
            auth.sign_in_client(pb::SignInClientRequest {
                client_id: "admin".into(),
                client_secret: ADMIN_SECRET.into(),
            })
            .await
        }
    };
    let burst: Vec<_> = (0..40).map(|_| tokio::spawn(sign_in())).collect();
    let health = HealthClient::new(h.gateway.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("health is never shed");
    assert_eq!(health.get_ref().status(), ServingStatus::Serving);

    let (mut served, mut shed) = (0, 0);
    for call in burst {
        match call.await.unwrap() {
            Ok(_) => served += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(status.message().contains("busy"));
                shed += 1;
            }
        }
    }
    assert!(served >= 2, "calls within the limit are served");
    assert!(shed > 0, "calls past the limit are refused");

    // The burst is over: a call goes through again.
    sign_in().await.expect("served once the burst has passed");
    h.shutdown().await;
}
