//! The record service's errors and their one mapping to gRPC status codes.

use portal_common::FieldViolation;
use portal_common::error::{
    Reason, internal, not_allowed, not_found, status, unavailable, with_details,
};
use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request")]
    InvalidArgument(Vec<FieldViolation>),
    /// The thing named does not exist, or is not visible to the caller.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// A request id the client used before for a different request.
    #[error("a different request under the same id")]
    RequestExists,
    #[error("not allowed")]
    PermissionDenied,
    /// The TRN or the One Login account is linked to another already.
    #[error("already linked")]
    AlreadyLinked,
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
    /// A change-feed cursor from before the oldest event kept.
    #[error("the feed no longer keeps the events after this cursor")]
    CursorExpired,
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
            Error::NotFound(what) => not_found(format!("no such {what}")),
            Error::AlreadyLinked => status(
                Code::AlreadyExists,
                "this TRN or this One Login account is linked to another already",
                Reason::AlreadyLinked,
            ),
            Error::RequestExists => status(
                Code::AlreadyExists,
                "a request with this id and other details was made before",
                Reason::RequestExists,
            ),
            Error::PermissionDenied => not_allowed(),
            Error::FailedPrecondition(why) => {
                status(Code::FailedPrecondition, why, Reason::RecordState)
            }
            Error::TrnRangeExhausted => {
                tracing::error!("the configured TRN range is used up");
                status(
                    Code::FailedPrecondition,
                    "no teacher reference numbers are left to allocate",
                    Reason::TrnRangeExhausted,
                )
            }
            Error::Corrupt(detail) => {
                tracing::error!(%detail, "stored record is inconsistent");
                internal()
            }
            Error::Database(error) => {
                tracing::error!(%error, "database call failed");
                unavailable("record store unavailable")
            }
            Error::WrongCode => portal_common::codes::wrong_code(),
            Error::CodeExpired => portal_common::codes::expired(),
            Error::TooManyEmailChanges(retry_after) => with_details(
                Code::ResourceExhausted,
                "too many email changes asked for: try again later",
                Reason::TooManyEmailChanges,
                tonic_types::ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            Error::CursorExpired => status(
                Code::OutOfRange,
                "the feed no longer keeps the events after this cursor",
                Reason::CursorExpired,
            ),
            Error::Downstream(service, status) => portal_common::error::downstream(service, status),
        }
    }
}
