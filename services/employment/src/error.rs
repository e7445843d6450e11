//! The employment service's errors and their one mapping to gRPC status codes.

use portal_common::FieldViolation;
use portal_common::error::{not_allowed, not_found, unavailable};
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request")]
    InvalidArgument(Vec<FieldViolation>),
    /// No employment of the teacher's has the id (another teacher's included).
    #[error("no such employment")]
    NotFound,
    #[error("not allowed")]
    PermissionDenied,
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("stored employment {0} is inconsistent")]
    Corrupt(i64),
}

impl From<FieldViolation> for Error {
    fn from(violation: FieldViolation) -> Self {
        Self::InvalidArgument(vec![violation])
    }
}

impl From<Vec<FieldViolation>> for Error {
    fn from(violations: Vec<FieldViolation>) -> Self {
        Self::InvalidArgument(violations)
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => {
                portal_common::error::invalid_argument(&violations)
            }
            Error::NotFound => not_found("no such employment"),
            Error::PermissionDenied => not_allowed(),
            error @ (Error::Database(_) | Error::Corrupt(_)) => {
                tracing::error!(%error, "employment store failed");
                unavailable("employment store unavailable")
            }
        }
    }
}
