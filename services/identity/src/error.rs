//! The identity service's errors and their one mapping to gRPC status codes.

use portal_common::FieldViolation;
use portal_common::sessions::StoreError;
use tonic::Status;

/// The one answer to sign-in details that do not match, whatever was wrong.
pub const SIGN_IN_FAILED: &str = "the details given do not match our records";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request")]
    InvalidArgument(Vec<FieldViolation>),
    #[error("sign-in failed")]
    SignInFailed,
    #[error("not allowed")]
    PermissionDenied,
    #[error("client already exists")]
    ClientExists,
    #[error("hashing: {0}")]
    Hashing(String),
    #[error(transparent)]
    SessionStore(#[from] StoreError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("record service: {0}")]
    Record(Status),
}

impl From<FieldViolation> for Error {
    fn from(violation: FieldViolation) -> Self {
        Self::InvalidArgument(vec![violation])
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => {
                portal_common::error::invalid_argument(&violations)
            }
            Error::SignInFailed => Status::unauthenticated(SIGN_IN_FAILED),
            Error::PermissionDenied => Status::permission_denied("not allowed"),
            Error::ClientExists => Status::already_exists("a client with this id exists"),
            Error::Hashing(detail) => {
                tracing::error!(%detail, "secret hashing failed");
                Status::internal("internal error")
            }
            Error::SessionStore(error) => error.into(),
            Error::Database(error) => {
                tracing::error!(%error, "database call failed");
                Status::unavailable("identity store unavailable")
            }
            // Bad input found by the record service keeps its field violations; anything else
            // is the record service being unavailable, whatever it said.
            Error::Record(status) if status.code() == tonic::Code::InvalidArgument => status,
            Error::Record(status) => {
                tracing::warn!(code = ?status.code(), "record service call failed");
                Status::unavailable("record service unavailable")
            }
        }
    }
}
