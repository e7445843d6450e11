//! Field-level validation errors and their gRPC form (INVALID_ARGUMENT + google.rpc.BadRequest),
//! and the statuses every error is answered with: each with a google.rpc.ErrorInfo naming one of
//! the reasons of `proto/dqt/portal/v1/errors.proto` (AIP-193).

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// One bad field of a request: its path as in the request (`date_of_birth`,
/// `employment.start_date`) and what is wrong, in words that never repeat the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }

    /// The same violation under a parent path, e.g. `email` inside `contact_details`.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

/// Collects every violation of a request so that the caller learns of all of them at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, violation: FieldViolation) {
        self.0.push(violation);
    }

    pub fn extend(&mut self, violations: impl IntoIterator<Item = FieldViolation>) {
        self.0.extend(violations);
    }

    /// Keeps the parsed value, or records the violation and yields `None`.
    pub fn check<T>(&mut self, parsed: Result<T, FieldViolation>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(violation) => {
                self.0.push(violation);
                None
            }
        }
    }

    /// Keeps the parsed value, or records every violation and yields `None`.
    pub fn check_all<T>(&mut self, parsed: Result<T, Vec<FieldViolation>>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(violations) => {
                self.0.extend(violations);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_inner(self) -> Vec<FieldViolation> {
        self.0
    }

    /// `Ok(())` when nothing was wrong, else the INVALID_ARGUMENT status naming each field.
    pub fn into_result(self) -> Result<(), Status> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(invalid_argument(&self.0))
        }
    }
}

/// INVALID_ARGUMENT with a BadRequest detail naming each field, reason INVALID_FIELDS.
pub fn invalid_argument(violations: &[FieldViolation]) -> Status {
    invalid_fields(violations, Reason::InvalidFields)
}

/// INVALID_ARGUMENT with a BadRequest detail naming each field, for `reason`.
pub fn invalid_fields(violations: &[FieldViolation], reason: Reason) -> Status {
    let mut details = ErrorDetails::new();
    for violation in violations {
        details.add_bad_request_violation(violation.field.clone(), violation.description.clone());
    }
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    with_details(
        Code::InvalidArgument,
        format!("invalid request: {}", fields.join(", ")),
        reason,
        details,
    )
}

impl From<FieldViolation> for Status {
    fn from(violation: FieldViolation) -> Self {
        invalid_argument(&[violation])
    }
}

/// The domain of every ErrorInfo reason this API gives.
pub const ERROR_DOMAIN: &str = "portal.dqt.education.gov.uk";

/// The ErrorInfo reasons of this API, listed with what each means in
/// `proto/dqt/portal/v1/errors.proto`: a reason is its value's name.
pub use dqt_proto::dqt::portal::v1::ErrorReason as Reason;

/// A status with a `google.rpc.ErrorInfo` detail naming `reason`.
pub fn status(code: Code, message: impl Into<String>, reason: Reason) -> Status {
    with_details(code, message, reason, ErrorDetails::new())
}

/// A status with `details` (BadRequest, RetryInfo) and an ErrorInfo naming `reason`.
pub fn with_details(
    code: Code,
    message: impl Into<String>,
    reason: Reason,
    mut details: ErrorDetails,
) -> Status {
    details.set_error_info(
        reason.as_str_name(),
        ERROR_DOMAIN,
        std::collections::HashMap::new(),
    );
    Status::with_error_details(code, message, details)
}

/// A status with an ErrorInfo naming `reason` and holding `metadata` (what the caller needs
/// to go on, such as a token).
pub fn with_metadata(
    code: Code,
    message: impl Into<String>,
    reason: Reason,
    metadata: std::collections::HashMap<String, String>,
) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason.as_str_name(), ERROR_DOMAIN, metadata);
    Status::with_error_details(code, message, details)
}

/// The reason an error of `code` that says none has: what the code itself means, for answers
/// made where no reason is known (tonic's own, a service's that passes through).
pub fn reason_of(code: Code) -> Reason {
    match code {
        Code::InvalidArgument => Reason::MalformedRequest,
        Code::Unauthenticated => Reason::SessionInvalid,
        Code::PermissionDenied => Reason::NotAllowed,
        Code::NotFound => Reason::NotFound,
        Code::ResourceExhausted => Reason::Overloaded,
        Code::Unimplemented => Reason::UnknownMethod,
        Code::DeadlineExceeded => Reason::DeadlineExceeded,
        Code::Cancelled => Reason::Cancelled,
        Code::Unavailable => Reason::ServiceUnavailable,
        Code::FailedPrecondition | Code::Aborted => Reason::RecordState,
        Code::OutOfRange => Reason::RequestTooLarge,
        Code::AlreadyExists => Reason::ClientExists,
        Code::Ok | Code::Unknown | Code::Internal | Code::DataLoss => Reason::InternalError,
    }
}

/// A store or a service this one needs cannot be reached: UNAVAILABLE, SERVICE_UNAVAILABLE.
pub fn unavailable(message: impl Into<String>) -> Status {
    status(Code::Unavailable, message, Reason::ServiceUnavailable)
}

/// Something failed that should not (already logged): INTERNAL, INTERNAL_ERROR.
pub fn internal() -> Status {
    status(Code::Internal, "internal error", Reason::InternalError)
}

/// The caller may not make this call: PERMISSION_DENIED, NOT_ALLOWED.
pub fn not_allowed() -> Status {
    status(Code::PermissionDenied, "not allowed", Reason::NotAllowed)
}

/// No such thing, or none this caller may see: NOT_FOUND.
pub fn not_found(message: impl Into<String>) -> Status {
    status(Code::NotFound, message, Reason::NotFound)
}

/// What a caller is told when a service this one called failed: bad input (with its field
/// violations) and a record not found pass on as the service said them; anything else is that
/// service being unavailable, whatever it said (logged here, not passed on).
pub fn downstream(service: &'static str, status: Status) -> Status {
    match status.code() {
        Code::InvalidArgument | Code::NotFound => status,
        code => {
            tracing::warn!(service, ?code, "a call to another service failed");
            unavailable(format!("the {service} service is unavailable"))
        }
    }
}
