//! What each service crate exports so that `portal up`, `portal serve`, `portal migrate`, the
//! test harness and the deploy check treat every component alike: its name, what it calls,
//! where it is reached, its database and migrations, and how it is served. Each crate's
//! configuration struct is its component; the binary lists them once.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use anyhow::Context as _;

use crate::assertion::Signer;
use crate::config::Config;
use crate::server::Served;
use crate::sessions::Sessions;
use crate::upstream::Upstream;

/// The components' names, for those that call them: a component's crate is not a dependency
/// of the ones calling it.
pub mod names {
    pub const GATEWAY: &str = "gateway";
    pub const IDENTITY: &str = "identity";
    pub const RECORD: &str = "record";
    pub const EMPLOYMENT: &str = "employment";
    pub const DOCUMENT: &str = "document";
    pub const NOTIFICATION: &str = "notification";
}

/// What a component's migrations or start-up return: boxed, so that components of different
/// types can be listed together.
pub type Task<'a, T> = Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send + 'a>>;

/// A component's database: PostgreSQL at `url` when configured, else the embedded SQLite file
/// named after the component under the data directory.
#[derive(Debug, Clone, Copy)]
pub struct Database<'a> {
    pub name: &'static str,
    pub url: Option<&'a str>,
}

/// One component of the portal, as its own configuration describes it.
pub trait Component: std::fmt::Debug + Send + Sync {
    /// Its name: in `portal serve NAME`, logs, metrics, span names and database file names.
    fn name(&self) -> &'static str;

    /// The components it calls, by name.
    fn calls(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether it serves the public: TLS without client certificates, and under `portal up`
    /// it keeps its configured address while the others take free loopback ports.
    fn public(&self) -> bool {
        false
    }

    /// Whether browsers call it, and from which origins: gRPC-Web, HTTP/1.1 and CORS.
    fn browsers(&self) -> Option<crate::server::Browsers> {
        None
    }

    /// For the public component: how long a connection may idle and how many one address may
    /// hold open.
    fn public_connections(&self) -> Option<crate::connections::PublicConnections> {
        None
    }

    /// Where the others reach it: `host:port`.
    fn addr(&self) -> &str;

    /// Where the others reach it, to change before it starts.
    fn addr_mut(&mut self) -> &mut String;

    /// Its database, if it keeps one.
    fn database(&self) -> Option<Database<'_>> {
        None
    }

    /// Its database URL, to change before it starts; `None` for a component without one.
    fn database_url_mut(&mut self) -> Option<&mut Option<String>> {
        None
    }

    /// Brings its database schema up to date (`portal migrate`).
    fn migrate<'a>(&'a self, shared: &'a Config) -> Task<'a, ()>;

    /// Ready to serve, its database open and its background work started.
    fn serve<'a>(&'a self, context: &'a Context<'a>) -> Task<'a, Served>;
}

/// What a component is started with: the shared configuration, the assertion signer, the
/// session store, a channel to each component it calls, and the signal that it is stopping
/// (for what would otherwise run on past it, such as a stream).
pub struct Context<'a> {
    pub shared: &'a Config,
    pub signer: &'a Signer,
    pub sessions: &'a Sessions,
    upstreams: BTreeMap<&'static str, Upstream>,
    pub shutdown: crate::server::ShutdownSignal,
}

impl<'a> Context<'a> {
    pub fn new(
        shared: &'a Config,
        signer: &'a Signer,
        sessions: &'a Sessions,
        upstreams: BTreeMap<&'static str, Upstream>,
        shutdown: crate::server::ShutdownSignal,
    ) -> Self {
        Self {
            shared,
            signer,
            sessions,
            upstreams,
            shutdown,
        }
    }

    /// The channel to `name`, one of the components this one calls.
    pub fn upstream(&self, name: &str) -> anyhow::Result<Upstream> {
        self.upstreams
            .get(name)
            .cloned()
            .with_context(|| format!("{name} is not among the components this one calls"))
    }
}

/// Implements [`Component`] for a service's settings: a struct with the fields `addr: String`
/// and `database_url: Option<String>` and a method
/// `async fn served(&self, &Context<'_>) -> anyhow::Result<Served>`, whose database schema is
/// `$migrator`'s. It also gives the struct `fn db(&self) -> Database<'_>`, for `served`.
#[macro_export]
macro_rules! service_component {
    ($settings:ty, name: $name:expr, calls: [$($called:expr),* $(,)?], migrator: $migrator:ty $(,)?) => {
        impl $settings {
            /// This service's database.
            fn db(&self) -> $crate::component::Database<'_> {
                $crate::component::Database {
                    name: $name,
                    url: self.database_url.as_deref(),
                }
            }
        }

        impl $crate::component::Component for $settings {
            fn name(&self) -> &'static str {
                $name
            }

            fn calls(&self) -> &'static [&'static str] {
                &[$($called),*]
            }

            fn addr(&self) -> &str {
                &self.addr
            }

            fn addr_mut(&mut self) -> &mut String {
                &mut self.addr
            }

            fn database(&self) -> Option<$crate::component::Database<'_>> {
                Some(self.db())
            }

            fn database_url_mut(&mut self) -> Option<&mut Option<String>> {
                Some(&mut self.database_url)
            }

            fn migrate<'a>(
                &'a self,
                shared: &'a $crate::config::Config,
            ) -> $crate::component::Task<'a, ()> {
                $crate::db::migrate::<$migrator>(&shared.databases, self.db())
            }

            fn serve<'a>(
                &'a self,
                context: &'a $crate::component::Context<'a>,
            ) -> $crate::component::Task<'a, $crate::server::Served> {
                Box::pin(self.served(context))
            }
        }
    };
}
