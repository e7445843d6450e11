//! The gateway's errors and their one mapping to gRPC status codes.

use std::time::Duration;

use portal_common::FieldViolation;
use portal_common::error::{Reason, not_allowed, status, unavailable, with_details};
use portal_common::kv::StoreError;
use portal_common::sessions::SessionError;
use tonic::{Code, Status};
use tonic_types::ErrorDetails;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An `authorization` header that is not a bearer token.
    #[error("authorization is not a bearer token")]
    NotBearer,
    /// A path that names no public RPC.
    #[error("no such method")]
    NoSuchMethod,
    /// A call that needs a session, without one.
    #[error("no session")]
    SignInFirst,
    #[error("not allowed")]
    PermissionDenied,
    /// A teacher's session below the level the call needs.
    #[error("verification required")]
    VerificationRequired,
    /// A call counted against a client's check limits, made by something else.
    #[error("clients only")]
    ClientsOnly,
    /// A request larger than its API accepts, refused from its frame header.
    #[error("request larger than {0} bytes")]
    TooLarge(usize),
    /// A request body that ended or failed before its message did.
    #[error("request not received whole")]
    Incomplete,
    #[error("invalid request")]
    InvalidArgument(Vec<FieldViolation>),
    /// A client past its check limits, until the count starts again.
    #[error("employer check limit reached")]
    CheckLimit(Duration),
    /// A service's channel failed before the service answered.
    #[error("a service is unavailable")]
    Unavailable,
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FieldViolation> for Error {
    fn from(violation: FieldViolation) -> Self {
        Self::InvalidArgument(vec![violation])
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::NotBearer => status(
                Code::Unauthenticated,
                "authorization must be a bearer token",
                Reason::SessionInvalid,
            ),
            Error::NoSuchMethod => {
                status(Code::Unimplemented, "no such method", Reason::UnknownMethod)
            }
            Error::SignInFirst => status(
                Code::Unauthenticated,
                "sign in first",
                Reason::SessionRequired,
            ),
            Error::PermissionDenied => not_allowed(),
            Error::VerificationRequired => status(
                Code::PermissionDenied,
                "this needs a verified session: call StartVerification, then \
                 CompleteVerification with the code from the email",
                Reason::VerificationRequired,
            ),
            Error::ClientsOnly => {
                status(Code::PermissionDenied, "clients only", Reason::NotAllowed)
            }
            Error::TooLarge(limit) => status(
                Code::ResourceExhausted,
                format!("the request is larger than the {limit} bytes this API accepts"),
                Reason::RequestTooLarge,
            ),
            Error::Incomplete => status(
                Code::Cancelled,
                "the request was not received whole",
                Reason::Cancelled,
            ),
            Error::InvalidArgument(violations) => {
                portal_common::error::invalid_argument(&violations)
            }
            Error::CheckLimit(retry_after) => with_details(
                Code::ResourceExhausted,
                "too many checks for this client: try again later",
                Reason::CheckLimitReached,
                ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            Error::Unavailable => unavailable("a service is unavailable"),
            Error::Session(error) => error.into(),
            Error::Store(error) => error.into(),
        }
    }
}
