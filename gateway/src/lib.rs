//! The gateway: the only public entry point. It serves `dqt.portal.v1`, verifies the caller's
//! session on every call, decides it by the route table, and forwards it to the service that
//! owns the data (as gRPC frames, unread) or answers it with a typed handler where it must
//! combine or reshape data.

pub mod api;
pub mod auth;
pub mod forward;
pub mod limits;
pub mod routes;
pub mod source;

use std::sync::Arc;

use dqt_proto::dqt::portal::v1::{
    administration_server::{self, AdministrationServer},
    authentication_server::{self, AuthenticationServer},
    employer_access_server::{self, EmployerAccessServer},
    teacher_portal_server::{self, TeacherPortalServer},
};
use portal_common::server::Served;
use portal_common::sessions::SessionCheck;
use portal_common::upstream::Upstream;
use portal_common::{Signer, VerificationMode};
use routes::Api;
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

impl Upstreams {
    /// The channel to `service`.
    pub fn channel(&self, service: routes::Upstream) -> &Upstream {
        match service {
            routes::Upstream::Identity => &self.identity,
            routes::Upstream::Record => &self.record,
            routes::Upstream::Document => &self.document,
            routes::Upstream::Employment => &self.employment,
        }
    }
}

/// The gateway, ready to serve.
pub fn served(
    signer: Signer,
    sessions: SessionCheck,
    trusted_proxies: TrustedProxies,
    check_limits: limits::CheckLimits,
    verification: VerificationMode,
    upstreams: Upstreams,
) -> Served {
    let gateway = api::Gateway::new(signer.clone(), &upstreams);
    let forwarder =
        forward::Forwarder::new(signer, trusted_proxies, check_limits, Arc::new(upstreams));
    let auth = auth::AuthorizeLayer::new(sessions, verification);
    let serve = ServeWith { auth, forwarder };
    // Typed handlers decode only up to their API's limit; forwarded calls are held to the same
    // limit by the forwarder, which reads no further than a frame's header past it.
    let table = Routes::new(
        serve.api(
            AuthenticationServer::new(gateway.clone())
                .max_decoding_message_size(Api::Authentication.max_request()),
        ),
    )
    .add_service(
        serve.api(
            TeacherPortalServer::new(gateway.clone())
                .max_decoding_message_size(Api::TeacherPortal.max_request()),
        ),
    )
    .add_service(
        serve.api(
            EmployerAccessServer::new(gateway.clone())
                .max_decoding_message_size(Api::EmployerAccess.max_request()),
        ),
    )
    .add_service(
        serve.api(
            AdministrationServer::new(gateway)
                .max_decoding_message_size(Api::Administration.max_request()),
        ),
    );
    Served {
        routes: table,
        services: vec![
            authentication_server::SERVICE_NAME,
            teacher_portal_server::SERVICE_NAME,
            employer_access_server::SERVICE_NAME,
            administration_server::SERVICE_NAME,
        ],
    }
}

/// Each public service behind the session check, its forwarded RPCs to the forwarder.
struct ServeWith {
    auth: auth::AuthorizeLayer,
    forwarder: forward::Forwarder,
}

impl ServeWith {
    fn api<S>(&self, typed: S) -> auth::Authorize<forward::Dispatch<S>> {
        self.auth
            .layer(forward::Dispatch::new(typed, self.forwarder.clone()))
    }
}
