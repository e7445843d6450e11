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
    #[error("sign-in through One Login is not configured")]
    OneLoginNotConfigured,
    #[error("One Login sign-in or link token unknown, used or expired")]
    OneLoginExpired,
    /// One Login refused, or answered what cannot be trusted: which check failed.
    #[error("One Login sign-in refused: {0}")]
    OneLoginFailed(&'static str),
    #[error("One Login unavailable: {0}")]
    OneLoginUnavailable(String),
    #[error("One Login: {0}")]
    OneLoginInternal(String),
    /// The One Login account must be linked to a TRN: the token to link it with.
    #[error("a link to a TRN is required")]
    LinkRequired(String),
    #[error("already linked")]
    AlreadyLinked,
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
            Error::OneLoginNotConfigured => status(
                Code::FailedPrecondition,
                "this service does not offer sign-in through GOV.UK One Login",
                Reason::OneLoginNotConfigured,
            ),
            Error::OneLoginExpired => status(
                Code::FailedPrecondition,
                "this One Login sign-in is unknown, used or expired: start again",
                Reason::OneLoginExpired,
            ),
            Error::OneLoginFailed(check) => {
                tracing::warn!(check, "One Login sign-in refused");
                status(
                    Code::Unauthenticated,
                    "GOV.UK One Login did not sign you in: start again",
                    Reason::OneLoginFailed,
                )
            }
            Error::OneLoginUnavailable(detail) => {
                tracing::warn!(%detail, "One Login unavailable");
                unavailable("GOV.UK One Login is unavailable: try again shortly")
            }
            Error::OneLoginInternal(detail) => {
                tracing::error!(%detail, "One Login sign-in failed");
                internal()
            }
            Error::LinkRequired(link_token) => portal_common::error::with_metadata(
                Code::FailedPrecondition,
                "this One Login account is not linked to a TRN: call LinkOneLogin with the link token and your details",
                Reason::LinkRequired,
                [("link_token".to_owned(), link_token)].into(),
            ),
            Error::AlreadyLinked => status(
                Code::AlreadyExists,
                "this TRN or this One Login account is linked to another already",
                Reason::AlreadyLinked,
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
