//! The document service's errors and their one mapping to gRPC status codes.

use portal_common::FieldViolation;
use tonic::Status;

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
            Error::PermissionDenied => Status::permission_denied("not allowed"),
            Error::NotEntitled => Status::failed_precondition(
                "the record does not give this document: ListMyDocuments shows those it does",
            ),
            Error::Pdf(error) => {
                tracing::error!(%error, "document could not be made");
                Status::internal("internal error")
            }
            Error::Database(error) => {
                tracing::error!(%error, "database call failed");
                Status::unavailable("document register unavailable")
            }
            Error::Record(status) if status.code() == tonic::Code::NotFound => {
                Status::not_found("no such teacher record")
            }
            Error::Record(status) => {
                tracing::warn!(code = ?status.code(), "record service call failed");
                Status::unavailable("record service unavailable")
            }
        }
    }
}
