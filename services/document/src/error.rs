//! The document service's errors and their one mapping to gRPC status codes.

use portal_common::FieldViolation;
use portal_common::error::{Reason, internal, not_allowed, status, unavailable};
use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request")]
    InvalidArgument(Vec<FieldViolation>),
    #[error("not allowed")]
    PermissionDenied,
    #[error("the record does not entitle its teacher to this document")]
    NotEntitled,
    #[error("pdf: {0}")]
    Pdf(#[from] crate::pdf::PdfError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// A service this one called failed.
    #[error("{0} service: {1}")]
    Downstream(&'static str, Status),
    #[error("a task stopped before it finished: {0}")]
    Task(#[from] tokio::task::JoinError),
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
            Error::PermissionDenied => not_allowed(),
            Error::NotEntitled => status(
                Code::FailedPrecondition,
                "the record does not give this document: ListMyDocuments shows those it does",
                Reason::NotEntitled,
            ),
            Error::Pdf(error) => {
                tracing::error!(%error, "document could not be made");
                internal()
            }
            Error::Database(error) => {
                tracing::error!(%error, "database call failed");
                unavailable("document register unavailable")
            }
            Error::Downstream(service, status) => portal_common::error::downstream(service, status),
            Error::Task(error) => {
                tracing::error!(%error, "document task failed");
                internal()
            }
        }
    }
}
