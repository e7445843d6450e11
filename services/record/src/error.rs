//! The record service's errors and their one mapping to gRPC status codes.

use portal_common::FieldViolation;
use tonic::Status;
use tonic_types::StatusExt as _;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request")]
    InvalidArgument(Vec<FieldViolation>),
    /// The thing named does not exist, or is not visible to the caller.
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("not allowed")]
    PermissionDenied,
    #[error("refused in the record's current state: {0}")]
    FailedPrecondition(&'static str),
    #[error("the configured TRN range is used up")]
    TrnRangeExhausted,
    #[error("stored record is inconsistent: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("wrong code")]
    WrongCode,
    #[error("email change void, used or expired")]
    CodeExpired,
    #[error("too many email changes asked for; next allowed in {0:?}")]
    TooManyEmailChanges(std::time::Duration),
    /// A service this one called failed.
    #[error("{0} service: {1}")]
    Downstream(&'static str, Status),
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
            Error::NotFound(what) => Status::not_found(format!("no such {what}")),
            Error::PermissionDenied => Status::permission_denied("not allowed"),
            Error::FailedPrecondition(reason) => Status::failed_precondition(reason),
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
            Error::WrongCode => portal_common::codes::wrong_code(),
            Error::CodeExpired => portal_common::codes::expired(),
            Error::TooManyEmailChanges(retry_after) => Status::with_error_details(
                tonic::Code::ResourceExhausted,
                "too many email changes asked for: try again later",
                tonic_types::ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            Error::Downstream(service, status) => portal_common::error::downstream(service, status),
        }
    }
}
