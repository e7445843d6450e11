//! The gateway: the only public entry point. It serves `dqt.portal.v1`, verifies the caller's
//! session on every call, decides it by the route table, and forwards it to the service that
//! owns the data (as gRPC frames, unread) or answers it with a typed handler where it must
//! combine or reshape data.

pub mod api;
pub mod auth;
pub mod error;
pub mod forward;
pub mod limits;
pub mod routes;
pub mod session_cache;
pub mod source;
pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use dqt_proto::dqt::portal::v1::{
    administration_server::{self, AdministrationServer},
    authentication_server::{self, AuthenticationServer},
    employer_access_server::{self, EmployerAccessServer},
    teacher_portal_server::{self, TeacherPortalServer},
};
use ipnet::IpNet;
use portal_common::component::{Context, Task, names};
use portal_common::config::parse_host_port;
use portal_common::server::Served;
use portal_common::upstream::Upstream;
use portal_common::{Component, Config, Signer, VerificationMode};
use routes::Api;
use session_cache::{CachedSessions, SessionCheck};
use source::TrustedProxies;
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tower::Layer as _;

/// The gateway's name.
pub const NAME: &str = names::GATEWAY;

/// The gateway's own settings.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Settings {
    /// Address of the public gateway.
    #[arg(id = "gateway_addr", long = "gateway-addr", env = "PORTAL_GATEWAY_ADDR", default_value = "127.0.0.1:50051", value_parser = parse_host_port)]
    pub addr: String,
    /// Front ends (IP addresses or CIDR blocks, comma-separated) whose `x-forwarded-for` the
    /// gateway believes when it works out where a sign-in comes from.
    #[arg(
        long,
        env = "PORTAL_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = source::parse_network
    )]
    pub trusted_proxies: Vec<IpNet>,
    /// Seconds a connection may stay open with no call in progress before the gateway closes it.
    #[arg(long, env = "PORTAL_IDLE_CONNECTION_SECONDS", default_value_t = 300)]
    pub idle_connection_seconds: u64,
    /// Connections one address may hold open at once (trusted front ends excepted); more are
    /// closed as they are accepted.
    #[arg(long, env = "PORTAL_CONNECTIONS_PER_SOURCE", default_value_t = 100)]
    pub connections_per_source: usize,
    /// With Redis, the gateway checks sessions from memory and slides a session's idle expiry
    /// in Redis at most once this many seconds.
    #[arg(long, env = "PORTAL_SESSION_TOUCH_SECONDS", default_value_t = 60)]
    pub session_touch_seconds: u64,
    /// Checks (a bulk query counts one per teacher) one employer client may make a minute.
    #[arg(
        long,
        env = "PORTAL_EMPLOYER_CHECKS_PER_MINUTE",
        default_value_t = 1000
    )]
    pub employer_checks_per_minute: u32,
    /// Checks one employer client may make a day.
    #[arg(long, env = "PORTAL_EMPLOYER_CHECKS_PER_DAY", default_value_t = 20_000)]
    pub employer_checks_per_day: u32,
    /// Origins (`https://portal.example.gov.uk`, comma-separated) whose pages may call the
    /// gateway over gRPC-Web; none by default.
    #[arg(
        long,
        env = "PORTAL_CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_parser = parse_origin
    )]
    pub cors_allowed_origins: Vec<http::HeaderValue>,
}

/// A web origin: `scheme://host` with an optional port, nothing after it.
fn parse_origin(input: &str) -> Result<http::HeaderValue, String> {
    let input = input.trim();
    let invalid =
        || format!("expected an origin such as https://portal.example.gov.uk, not {input:?}");
    let uri: http::Uri = input.parse().map_err(|_| invalid())?;
    let plain = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.authority().is_some_and(|a| !a.as_str().contains('@'))
        && uri
            .path_and_query()
            .is_none_or(|p| p.as_str() == "/" && !input.ends_with('/'))
        && !input.contains('*');
    if !plain {
        return Err(invalid());
    }
    http::HeaderValue::from_str(input).map_err(|_| invalid())
}

impl Settings {
    /// How the gateway checks sessions: from a cache Redis keeps honest when there is Redis,
    /// straight from the in-process store otherwise.
    fn session_check(&self, context: &Context<'_>) -> anyhow::Result<SessionCheck> {
        let shared = context.shared;
        Ok(match &shared.redis_url {
            Some(url) => SessionCheck::Cached(
                CachedSessions::connect(
                    url,
                    &shared.redis_key_prefix,
                    shared.session_policy(),
                    Duration::from_secs(self.session_touch_seconds),
                    shared.redis_timeout(),
                )
                .context("PORTAL_REDIS_URL")?,
            ),
            None => SessionCheck::Store(context.sessions.clone()),
        })
    }
}

impl Component for Settings {
    fn name(&self) -> &'static str {
        NAME
    }

    fn calls(&self) -> &'static [&'static str] {
        &[
            names::IDENTITY,
            names::RECORD,
            names::DOCUMENT,
            names::EMPLOYMENT,
        ]
    }

    fn public(&self) -> bool {
        true
    }

    fn public_connections(&self) -> Option<portal_common::connections::PublicConnections> {
        Some(portal_common::connections::PublicConnections {
            idle_timeout: std::time::Duration::from_secs(self.idle_connection_seconds),
            per_source: self.connections_per_source,
            exempt: self.trusted_proxies.clone(),
        })
    }

    fn browsers(&self) -> Option<portal_common::server::Browsers> {
        Some(portal_common::server::Browsers {
            allowed_origins: self.cors_allowed_origins.clone(),
        })
    }

    fn addr(&self) -> &str {
        &self.addr
    }

    fn addr_mut(&mut self) -> &mut String {
        &mut self.addr
    }

    fn migrate<'a>(&'a self, _shared: &'a Config) -> Task<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn serve<'a>(&'a self, context: &'a Context<'a>) -> Task<'a, Served> {
        Box::pin(async move {
            Ok(served(
                context.signer.clone(),
                self.session_check(context)?,
                TrustedProxies::new(self.trusted_proxies.clone()),
                limits::CheckLimits::new(
                    context.sessions.store().clone(),
                    self.employer_checks_per_minute,
                    self.employer_checks_per_day,
                ),
                context.shared.verification,
                Upstreams {
                    identity: context.upstream(names::IDENTITY)?,
                    record: context.upstream(names::RECORD)?,
                    document: context.upstream(names::DOCUMENT)?,
                    employment: context.upstream(names::EMPLOYMENT)?,
                },
                context.shutdown.clone(),
            ))
        })
    }
}

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
fn served(
    signer: Signer,
    sessions: SessionCheck,
    trusted_proxies: TrustedProxies,
    check_limits: limits::CheckLimits,
    verification: VerificationMode,
    upstreams: Upstreams,
    shutdown: portal_common::server::ShutdownSignal,
) -> Served {
    let gateway = api::Gateway::new(signer.clone(), &upstreams);
    let forwarder = forward::Forwarder::new(
        signer,
        trusted_proxies,
        check_limits,
        Arc::new(upstreams),
        sessions.clone(),
        shutdown,
    );
    let auth = auth::AuthorizeLayer::new(sessions, verification);
    let serve = ServeWith { auth, forwarder };
    // Every call's message is read by the dispatcher under its API's limit, no further than a
    // frame's header past it; typed handlers also decode no more than that limit.
    let table = Routes::new(
        serve.api(
            AuthenticationServer::new(gateway.clone())
                .max_decoding_message_size(Api::Authentication.max_request())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
        ),
    )
    .add_service(
        serve.api(
            TeacherPortalServer::new(gateway.clone())
                .max_decoding_message_size(Api::TeacherPortal.max_request())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
        ),
    )
    .add_service(
        serve.api(
            EmployerAccessServer::new(gateway.clone())
                .max_decoding_message_size(Api::EmployerAccess.max_request())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
        ),
    )
    .add_service(
        serve.api(
            AdministrationServer::new(gateway)
                .max_decoding_message_size(Api::Administration.max_request())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_origins_are_allowed_for_browsers() {
        for origin in ["https://portal.example.gov.uk", "http://127.0.0.1:8080"] {
            assert_eq!(parse_origin(origin).unwrap(), origin);
        }
        for not_an_origin in [
            "portal.example.gov.uk",
            "https://portal.example.gov.uk/",
            "https://portal.example.gov.uk/page",
            "https://user@portal.example.gov.uk",
            "ftp://portal.example.gov.uk",
            "*",
            "https://*.example.gov.uk",
        ] {
            assert!(parse_origin(not_an_origin).is_err(), "{not_an_origin}");
        }
    }
}
