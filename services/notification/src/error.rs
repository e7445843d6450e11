//! The notification service's errors and their one mapping to gRPC status codes.

use portal_common::FieldViolation;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request")]
    InvalidArgument(Vec<FieldViolation>),
    #[error("not allowed")]
    PermissionDenied,
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => {
                portal_common::error::invalid_argument(&violations)
            }
            Error::PermissionDenied => portal_common::error::not_allowed(),
            Error::Database(error) => {
                tracing::error!(%error, "database call failed");
                portal_common::error::unavailable("email queue unavailable")
            }
        }
    }
}
