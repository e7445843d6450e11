//! The record service's errors and their one mapping to gRPC status codes.

use portal_common::FieldViolation;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request")]
    InvalidArgument(Vec<FieldViolation>),
    #[error("not found")]
    NotFound,
    #[error("not allowed")]
    PermissionDenied,
    #[error("the configured TRN range is used up")]
    TrnRangeExhausted,
    #[error("stored record is inconsistent: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
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
            Error::NotFound => Status::not_found("no such teacher record"),
            Error::PermissionDenied => Status::permission_denied("not allowed"),
            Error::TrnRangeExhausted => {
                tracing::error!("the configured TRN range is used up");
                Status::failed_precondition("no teacher reference numbers are left to allocate")
            }
            Error::Corrupt(detail) => {
                tracing::error!(%detail, "stored record is inconsistent");
                Status::internal("internal error")
            }
            Error::Database(error) => {
                tracing::error!(%error, "database call failed");
                Status::unavailable("record store unavailable")
            }
        }
    }
}
