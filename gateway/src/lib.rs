//! The gateway: the only public entry point. It serves `dqt.portal.v1`, verifies the caller's
//! session on every call, applies the policy table, and calls the services.

pub mod api;
pub mod auth;
pub mod limits;
pub mod policy;
pub mod source;

use dqt_proto::dqt::portal::v1::{
    administration_server::{self, AdministrationServer},
    authentication_server::{self, AuthenticationServer},
    employer_access_server::{self, EmployerAccessServer},
    teacher_portal_server::{self, TeacherPortalServer},
};
use portal_common::server::Served;
use portal_common::sessions::Sessions;
use portal_common::upstream::Upstream;
use portal_common::{Signer, VerificationMode};
use source::TrustedProxies;
use tonic::service::Routes;
use tower::Layer as _;

/// The services the gateway calls.
pub struct Upstreams {
    pub identity: Upstream,
    pub record: Upstream,
    pub document: Upstream,
    pub employment: Upstream,
}

/// The gateway, ready to serve.
pub fn served(
    signer: Signer,
    sessions: Sessions,
    trusted_proxies: TrustedProxies,
    check_limits: limits::CheckLimits,
    verification: VerificationMode,
    upstreams: Upstreams,
) -> Served {
    let gateway = api::Gateway::new(signer, trusted_proxies, check_limits, upstreams);
    let auth = auth::AuthorizeLayer::new(sessions, verification);
    // The largest request each API needs, and no more: evidence uploads (3 MB) go through
    // TeacherPortal; 500 bulk queries through EmployerAccess. A larger one is OUT_OF_RANGE
    // before it is read into memory.
    let routes =
        Routes::new(auth.layer(
            AuthenticationServer::new(gateway.clone()).max_decoding_message_size(16 * 1024),
        ))
        .add_service(auth.layer(
            TeacherPortalServer::new(gateway.clone()).max_decoding_message_size(4 * 1024 * 1024),
        ))
        .add_service(auth.layer(
            EmployerAccessServer::new(gateway.clone()).max_decoding_message_size(256 * 1024),
        ))
        .add_service(
            auth.layer(AdministrationServer::new(gateway).max_decoding_message_size(64 * 1024)),
        );
    Served {
        routes,
        services: vec![
            authentication_server::SERVICE_NAME,
            teacher_portal_server::SERVICE_NAME,
            employer_access_server::SERVICE_NAME,
            administration_server::SERVICE_NAME,
        ],
    }
}
