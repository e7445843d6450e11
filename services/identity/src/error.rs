//! The identity service's errors and their one mapping to gRPC status codes.

use portal_common::FieldViolation;
use portal_common::error::{Reason, internal, not_allowed, status, unavailable, with_details};
use portal_common::kv::StoreError;
use tonic::{Code, Status};
use tonic_types::ErrorDetails;

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
    #[error("no such client")]
    ClientNotFound,
    #[error("too many client sign-ins at once from one source")]
    SignInsBusy,
    #[error("sign-in locked for {0:?}")]
    Locked(std::time::Duration),
    #[error("a solved captcha is needed")]
    CaptchaRequired,
    #[error("no email address on the record")]
    NoEmailOnRecord,
    #[error("too many verifications started; next allowed in {0:?}")]
    TooManyVerifications(std::time::Duration),
    #[error("too many lost-TRN searches; next allowed in {0:?}")]
    TooManySearches(std::time::Duration),
    #[error("wrong code")]
    WrongCode,
    #[error("verification void, used or expired")]
    VerificationExpired,
    #[error("the session has ended")]
    SessionEnded,
    /// A service this one called failed.
    #[error("{0} service: {1}")]
    Downstream(&'static str, Status),
    #[error("captcha: {0}")]
    Captcha(String),
    #[error("hashing: {0}")]
    Hashing(String),
    #[error(transparent)]
    SessionStore(#[from] StoreError),
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
            Error::SignInFailed => {
                status(Code::Unauthenticated, SIGN_IN_FAILED, Reason::SignInFailed)
            }
            Error::PermissionDenied => not_allowed(),
            Error::ClientExists => status(
                Code::AlreadyExists,
                "a client with this id exists",
                Reason::ClientExists,
            ),
            Error::ClientNotFound => portal_common::error::not_found("no such client"),
            Error::SignInsBusy => with_details(
                Code::ResourceExhausted,
                "too many client sign-ins at once from this source: try again shortly",
                Reason::Overloaded,
                ErrorDetails::with_retry_info(Some(std::time::Duration::from_secs(1))),
            ),
            Error::Locked(retry_after) => with_details(
                Code::ResourceExhausted,
                "too many failed sign-ins: try again later",
                Reason::SignInLocked,
                ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            Error::CaptchaRequired => status(
                Code::FailedPrecondition,
                "a solved captcha is needed: call CreateCaptcha, then send captcha_id and captcha_answer",
                Reason::CaptchaRequired,
            ),
            Error::NoEmailOnRecord => status(
                Code::FailedPrecondition,
                "there is no email address on the record to send a code to",
                Reason::NoEmailOnRecord,
            ),
            Error::TooManyVerifications(retry_after) => with_details(
                Code::ResourceExhausted,
                "too many codes asked for: try again later",
                Reason::TooManyCodes,
                ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            Error::TooManySearches(retry_after) => with_details(
                Code::ResourceExhausted,
                "too many searches for a TRN from here or for this email address: try again later",
                Reason::TooManyTrnSearches,
                ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            Error::WrongCode => portal_common::codes::wrong_code(),
            Error::VerificationExpired => portal_common::codes::expired(),
            Error::SessionEnded => status(
                Code::Unauthenticated,
                "session missing, expired or revoked",
                Reason::SessionInvalid,
            ),
            Error::Downstream(service, status) => portal_common::error::downstream(service, status),
            Error::Captcha(detail) => {
                tracing::error!(%detail, "captcha could not be made");
                internal()
            }
            Error::Hashing(detail) => {
                tracing::error!(%detail, "secret hashing failed");
                internal()
            }
            Error::SessionStore(error) => error.into(),
            Error::Database(error) => {
                tracing::error!(%error, "database call failed");
                unavailable("identity store unavailable")
            }
        }
    }
}
