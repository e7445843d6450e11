//! What every portal server shares: configuration, telemetry, server start-up, the session
//! store, the principal assertion between components, database connections, and the domain
//! value types parsed at the edge.

pub mod checks;
pub mod config;
pub mod db;
pub mod error;
pub mod metrics;
pub mod principal;
pub mod server;
pub mod sessions;
pub mod telemetry;
pub mod tls;
pub mod upstream;
pub mod values;

pub use config::{CaptchaMode, Component, Config, SignInLimits};
pub use error::{FieldViolation, Violations};
pub use principal::{Caller, Principal, Signer};
