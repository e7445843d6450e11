//! Client accounts: UpdateClient, DeleteClient and RotateClientSecret end every session of the
//! client at once (no session keeps a role its client has lost); client sign-in is locked per
//! client id and per source after failures, and one source's flood of secrets holds a bounded
//! share of the Argon2 work; on embedded stores and on PostgreSQL + Redis.

use std::time::Duration;

use crate::support::{Harness, Stores, authed, bad_fields, start};
use dqt_proto::dqt::portal::v1 as pb;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt as _;

const TRUSTED_FRONT_END: &str = "127.0.0.1/32";

fn sign_in_from(
    client_id: &str,
    secret: &str,
    source: &'static str,
) -> Request<pb::SignInClientRequest> {
    let mut request = Request::new(pb::SignInClientRequest {
        client_id: client_id.into(),
        client_secret: secret.into(),
    });
    request
        .metadata_mut()
        .insert("x-forwarded-for", MetadataValue::from_static(source));
    request
}

/// A client sign-in through a trusted front end that names `source`.
async fn from_source(
    h: &Harness,
    client_id: &str,
    secret: &str,
    source: &'static str,
) -> Result<tonic::Response<pb::SignInResponse>, Status> {
    h.auth()
        .sign_in_client(sign_in_from(client_id, secret, source))
        .await
}

async fn sign_in(h: &Harness, client_id: &str, secret: &str) -> Result<pb::SignInResponse, Status> {
    h.auth()
        .sign_in_client(pb::SignInClientRequest {
            client_id: client_id.into(),
            client_secret: secret.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn create(h: &Harness, admin: &str, client_id: &str, roles: &[&str]) -> pb::CreatedClient {
    h.admin()
        .create_client(authed(
            pb::CreateClientRequest {
                client_id: client_id.into(),
                display_name: "Acme Academies Trust".into(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            },
            admin,
        ))
        .await
        .expect("client created")
        .into_inner()
}

/// An employer check with `token`: what a session of that client may still do.
async fn check(h: &Harness, token: &str) -> Status {
    pb::employer_access_client::EmployerAccessClient::new(h.gateway.clone())
        .check_teacher(authed(
            pb::CheckTeacherRequest {
                trn: "1000001".into(),
                date_of_birth: "1980-01-01".into(),
            },
            token,
        ))
        .await
        .unwrap_err()
}

fn assert_session_ended(status: &Status) {
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        "SESSION_INVALID"
    );
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

async fn lifecycle(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let created = create(h, &admin, "acme-employer", &["employer:check"]).await;
    let first = sign_in(h, "acme-employer", &created.client_secret)
        .await
        .unwrap();
    assert_eq!(first.principal.unwrap().roles, ["employer:check"]);
    // The employer session reaches the record service: an unknown TRN is NOT_FOUND.
    assert_eq!(check(h, &first.token).await.code(), Code::NotFound);

    // Roles taken away: the session that carried them ends at once.
    let updated = h
        .admin()
        .update_client(authed(
            pb::UpdateClientRequest {
                client: Some(pb::Client {
                    client_id: "acme-employer".into(),
                    display_name: "ignored: not in the mask".into(),
                    roles: vec!["records:read".into()],
                }),
                update_mask: mask(&["roles"]),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.roles, ["records:read"]);
    assert_eq!(updated.display_name, "Acme Academies Trust");
    assert_session_ended(&check(h, &first.token).await);
    let second = sign_in(h, "acme-employer", &created.client_secret)
        .await
        .unwrap();
    assert_eq!(second.principal.unwrap().roles, ["records:read"]);
    assert_eq!(
        check(h, &second.token).await.code(),
        Code::PermissionDenied,
        "the new session has only the new roles"
    );

    // No mask: only the fields given change (AIP-134).
    let renamed = h
        .admin()
        .update_client(authed(
            pb::UpdateClientRequest {
                client: Some(pb::Client {
                    client_id: "acme-employer".into(),
                    display_name: "Acme Trust".into(),
                    roles: vec![],
                }),
                update_mask: None,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.display_name, "Acme Trust");
    assert_eq!(renamed.roles, ["records:read"]);
    assert_session_ended(&check(h, &second.token).await);

    // Bad updates are refused whole, naming the field.
    for (client, paths, field) in [
        (
            pb::Client {
                client_id: "acme-employer".into(),
                roles: vec!["root".into()],
                ..Default::default()
            },
            vec!["roles"],
            "client.roles",
        ),
        (
            pb::Client {
                client_id: "acme-employer".into(),
                ..Default::default()
            },
            vec!["client_secret"],
            "update_mask",
        ),
        (
            pb::Client {
                client_id: "acme-employer".into(),
                display_name: "Acme\u{202E}Trust".into(),
                ..Default::default()
            },
            vec!["display_name"],
            "client.display_name",
        ),
    ] {
        let status = h
            .admin()
            .update_client(authed(
                pb::UpdateClientRequest {
                    client: Some(client),
                    update_mask: mask(&paths),
                },
                &admin,
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(bad_fields(&status), [field]);
    }

    // A new secret: the old one stops working and the sessions end.
    let third = sign_in(h, "acme-employer", &created.client_secret)
        .await
        .unwrap();
    let rotated = h
        .admin()
        .rotate_client_secret(authed(
            pb::RotateClientSecretRequest {
                client_id: "acme-employer".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rotated.client_id, "acme-employer");
    assert_ne!(rotated.client_secret, created.client_secret);
    assert_session_ended(&check(h, &third.token).await);
    assert_eq!(
        sign_in(h, "acme-employer", &created.client_secret)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let fourth = sign_in(h, "acme-employer", &rotated.client_secret)
        .await
        .unwrap();

    // Deleted: its sessions end and its secret signs in no more.
    let deleted = h
        .admin()
        .delete_client(authed(
            pb::DeleteClientRequest {
                client_id: "acme-employer".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.revoked_count, 1);
    assert_session_ended(&check(h, &fourth.token).await);
    assert_eq!(
        sign_in(h, "acme-employer", &rotated.client_secret)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    for missing in [
        h.admin()
            .delete_client(authed(
                pb::DeleteClientRequest {
                    client_id: "acme-employer".into(),
                },
                &admin,
            ))
            .await
            .unwrap_err(),
        h.admin()
            .rotate_client_secret(authed(
                pb::RotateClientSecretRequest {
                    client_id: "acme-employer".into(),
                },
                &admin,
            ))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(missing.code(), Code::NotFound);
    }
    // The admin's own session was never touched.
    assert!(
        h.admin()
            .get_teacher(authed(
                pb::GetTeacherRequest {
                    trn: "1000001".into()
                },
                &admin
            ))
            .await
            .is_err_and(|s| s.code() == Code::NotFound)
    );
}

#[tokio::test]
async fn a_changed_client_keeps_no_session_on_embedded_stores() {
    let h = start(Stores::Embedded, |_| {}).await.unwrap();
    lifecycle(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_changed_client_keeps_no_session_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, |_| {}).await else {
        return;
    };
    lifecycle(&h).await;
    h.shutdown().await;
}

fn assert_locked(status: &Status) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        "SIGN_IN_LOCKED"
    );
    let retry = status
        .get_details_retry_info()
        .unwrap()
        .retry_delay
        .unwrap();
    assert!(retry > Duration::from_secs(800) && retry <= Duration::from_secs(900));
}

async fn locks(h: &Harness) {
    let admin = h.sign_in_admin().await;
    let created = create(h, &admin, "locked-employer", &["employer:check"]).await;
    // Three wrong secrets for one client id, from three sources: the fourth try is refused
    // even with the right secret, from yet another source.
    for source in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let status = from_source(h, "locked-employer", "wrong", source)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    assert_locked(
        &from_source(h, "locked-employer", &created.client_secret, "198.51.100.4")
            .await
            .unwrap_err(),
    );
    // Other clients sign in from those sources.
    from_source(h, "admin", crate::support::ADMIN_SECRET, "198.51.100.1")
        .await
        .expect("another client is not locked");

    // One source guessing across client ids (known or not) is locked for every client id.
    for client_id in ["guess-one", "guess-two", "guess-three", "guess-four"] {
        let status = from_source(h, client_id, "wrong", "203.0.113.50")
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    assert_locked(
        &from_source(h, "admin", crate::support::ADMIN_SECRET, "203.0.113.50")
            .await
            .unwrap_err(),
    );
    from_source(h, "admin", crate::support::ADMIN_SECRET, "203.0.113.51")
        .await
        .expect("another source signs in");
    // A malformed client id names its field and costs nothing.
    let status = from_source(h, "Not An Id!", "x", "203.0.113.52")
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["client_id"]);
}

fn lock_config(config: &mut portal::Config) {
    config.identity.sign_in.client_lock_after_failures = 3;
    config.identity.sign_in.source_lock_after_failures = 4;
    config.gateway.trusted_proxies = vec![TRUSTED_FRONT_END.parse().unwrap()];
}

#[tokio::test]
async fn client_sign_in_is_locked_per_client_and_per_source_on_embedded_stores() {
    let h = start(Stores::Embedded, lock_config).await.unwrap();
    locks(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn client_sign_in_is_locked_per_client_and_per_source_on_postgres_and_redis() {
    let Some(h) = start(Stores::PostgresRedis, lock_config).await else {
        return;
    };
    locks(&h).await;
    h.shutdown().await;
}

/// A flood of wrong secrets from one source: past its places in the Argon2 queue its calls
/// are refused at once (RESOURCE_EXHAUSTED, OVERLOADED, with RetryInfo), while a sign-in from
/// another source in the middle of the flood is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_secrets_from_one_source_holds_only_its_share_of_the_hashing() {
    let h = start(Stores::Embedded, |config| {
        config.identity.sign_in.client_lock_after_failures = 1000;
        config.identity.sign_in.source_lock_after_failures = 1000;
        config.identity.sign_in.client_sign_ins_per_source = 2;
        config.gateway.trusted_proxies = vec![TRUSTED_FRONT_END.parse().unwrap()];
    })
    .await
    .unwrap();
    let flood: Vec<_> = (0..24)
        .map(|i| {
            let mut auth = h.auth();
            tokio::spawn(async move {
                auth.sign_in_client(sign_in_from(
                    &format!("flood-{i}"),
                    "wrong",
                    "198.51.100.66",
                ))
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    from_source(&h, "admin", crate::support::ADMIN_SECRET, "198.51.100.67")
        .await
        .expect("another source is served during the flood");
    let (mut refused_at_once, mut checked) = (0, 0);
    for call in flood {
        let status = call.await.unwrap().unwrap_err();
        match status.code() {
            Code::Unauthenticated => checked += 1,
            Code::ResourceExhausted => {
                assert_eq!(
                    status.get_details_error_info().unwrap().reason,
                    "OVERLOADED"
                );
                assert!(status.get_details_retry_info().is_some());
                assert!(
                    status.message().contains("from this source"),
                    "not the server's own shedding"
                );
                refused_at_once += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(checked >= 2, "the source's own places were served");
    assert!(
        refused_at_once > 0,
        "past its places the source was refused"
    );
    h.shutdown().await;
}
