//! What every portal server shares: configuration, telemetry, server start-up, the session
//! store, the principal assertion between components, database connections, and the domain
//! value types parsed at the edge.

pub mod checks;
pub mod codes;
pub mod config;
pub mod db;
pub mod error;
pub mod mask;
pub mod metrics;
pub mod notification;
pub mod principal;
pub mod server;
pub mod session_cache;
pub mod sessions;
pub mod telemetry;
pub mod tls;
pub mod update;
pub mod upstream;
pub mod values;

pub use config::{CaptchaMode, Component, Config, SignInLimits, VerificationMode};
pub use error::{FieldViolation, Violations};
pub use principal::{Assurance, Caller, Principal, Signer};
