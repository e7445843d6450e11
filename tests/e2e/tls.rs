//! TLS with certificates generated for the test: the gateway serves TLS to the public, the
//! components call each other over mutual TLS, and a service refuses a caller without a
//! certificate from the components' authority, or with one from another authority, before
//! any call is read. A valid certificate is not enough on its own: the principal assertion is
//! still required.

use std::path::{Path, PathBuf};

use crate::support::{ADMIN_SECRET, Stores, authed, start};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_client::AdministrationClient;
use dqt_proto::dqt::portal::v1::authentication_client::AuthenticationClient;
use dqt_proto::dqt::record::v1::record_service_client::RecordServiceClient;
use portal_common::component::names;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// An authority and a certificate it signed for 127.0.0.1 and localhost, as PEM.
struct Authority {
    ca: String,
    cert: String,
    key: String,
}

fn authority(name: &str) -> Authority {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, format!("{name} authority"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, format!("{name} component"));
    leaf.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    Authority {
        ca: ca_cert.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

/// Refused by the connection itself: the call never reached a handler, which would have
/// answered with a status of its own.
fn assert_refused_by_transport(status: &tonic::Status) {
    let transport = std::error::Error::source(status)
        .is_some_and(|source| source.is::<tonic::transport::Error>());
    assert!(
        transport,
        "a transport error, not a server's answer: {status:?}"
    );
}

fn tls_channel(addr: &str, tls: ClientTlsConfig) -> Channel {
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_lazy()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_at_the_gateway_and_mutual_tls_between_components() {
    let dir = std::env::temp_dir().join(format!("portal-tls-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let ours = authority("portal");
    let theirs = authority("rogue");
    let (ca, cert, key) = (
        write(&dir, "ca.pem", &ours.ca),
        write(&dir, "cert.pem", &ours.cert),
        write(&dir, "key.pem", &ours.key),
    );
    let h = start(Stores::Embedded, |config| {
        config.shared.tls.tls_cert_file = Some(cert);
        config.shared.tls.tls_key_file = Some(key);
        config.shared.tls.tls_ca_file = Some(ca);
    })
    .await
    .unwrap();
    let trusting = || ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&ours.ca));

    // The public path, end to end over TLS: gateway, identity, record.
    let gateway = tls_channel(&h.addr(names::GATEWAY), trusting());
    let token = AuthenticationClient::new(gateway.clone())
        .sign_in_client(pb::SignInClientRequest {
            client_id: "admin".into(),
            client_secret: ADMIN_SECRET.into(),
        })
        .await
        .expect("sign-in over TLS")
        .into_inner()
        .token;
    let created = AdministrationClient::new(gateway)
        .create_teacher(authed(
            pb::CreateTeacherRequest {
                first_name: "Tegan".into(),
                last_name: "Lewis".into(),
                date_of_birth: "1990-01-31".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("the gateway reaches the services over mutual TLS");
    assert_eq!(created.get_ref().trn.len(), 7);

    // Plain text is not spoken.
    let plain = Endpoint::from_shared(format!("http://{}", h.addr(names::GATEWAY)))
        .unwrap()
        .connect_lazy();
    let refused = AuthenticationClient::new(plain)
        .create_captcha(pb::CreateCaptchaRequest {})
        .await
        .expect_err("no plain text");
    assert_refused_by_transport(&refused);

    // A service refuses callers without a certificate from the components' authority.
    let record = h.addr(names::RECORD);
    let get = |channel: Channel| async move {
        RecordServiceClient::new(channel)
            .get_teacher(pb::GetTeacherRequest {
                trn: "1000000".into(),
            })
            .await
    };
    let no_certificate = get(tls_channel(&record, trusting()))
        .await
        .expect_err("a certificate is required");
    assert_refused_by_transport(&no_certificate);
    let rogue = trusting().identity(Identity::from_pem(&theirs.cert, &theirs.key));
    let wrong_authority = get(tls_channel(&record, rogue))
        .await
        .expect_err("another authority's certificate is refused");
    assert_refused_by_transport(&wrong_authority);

    // With a good certificate, the principal assertion is still required.
    let good = trusting().identity(Identity::from_pem(&ours.cert, &ours.key));
    let unasserted = get(tls_channel(&record, good))
        .await
        .expect_err("no principal assertion");
    assert_eq!(unasserted.code(), Code::Unauthenticated, "{unasserted:?}");

    h.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
