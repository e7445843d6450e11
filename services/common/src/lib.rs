//! What every portal server shares: configuration, telemetry, server start-up, the session
//! store, the principal assertion between components, database connections, and the domain
//! value types parsed at the edge.

pub mod assertion;
pub mod checks;
pub mod codes;
pub mod component;
pub mod config;
pub mod connections;
pub mod db;
pub mod deadline;
pub mod error;
pub mod kv;
pub mod mask;
pub mod metrics;
pub mod notification;
pub mod principal;
pub mod printable;
pub mod process;
pub mod server;
pub mod sessions;
pub mod telemetry;
pub mod tls;
pub mod trn_search;
pub mod update;
pub mod upstream;
pub mod values;

pub use assertion::Signer;
pub use component::{Component, Context};
pub use config::{Config, VerificationMode};
pub use error::{FieldViolation, Violations};
pub use principal::{Assurance, Caller, Principal, Role};
