//! Field-level validation errors and their gRPC form (INVALID_ARGUMENT + google.rpc.BadRequest).

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

/// INVALID_ARGUMENT with a BadRequest detail naming each field.
pub fn invalid_argument(violations: &[FieldViolation]) -> Status {
    let mut details = ErrorDetails::new();
    for violation in violations {
        details.add_bad_request_violation(violation.field.clone(), violation.description.clone());
    }
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid request: {}", fields.join(", ")),
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

/// The ErrorInfo reasons of this API: stable names a client may branch on.
pub mod reason {
    /// A teacher's sign-in needs a solved captcha.
    pub const CAPTCHA_REQUIRED: &str = "CAPTCHA_REQUIRED";
    /// The call needs a verified session: Authentication.StartVerification first.
    pub const VERIFICATION_REQUIRED: &str = "VERIFICATION_REQUIRED";
    /// There is no email address on the record to send a code to.
    pub const NO_EMAIL_ON_RECORD: &str = "NO_EMAIL_ON_RECORD";
    /// The verification or email change is void, used or expired: start again.
    pub const VERIFICATION_EXPIRED: &str = "VERIFICATION_EXPIRED";
}

/// A status with a `google.rpc.ErrorInfo` detail naming `reason`.
pub fn with_reason(code: Code, message: impl Into<String>, reason: &str) -> Status {
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, std::collections::HashMap::new()),
    )
}

/// What a caller is told when a service this one called failed: bad input (with its field
/// violations) and a record not found pass on as the service said them; anything else is that
/// service being unavailable, whatever it said (logged here, not passed on).
pub fn downstream(service: &'static str, status: Status) -> Status {
    match status.code() {
        Code::InvalidArgument | Code::NotFound => status,
        code => {
            tracing::warn!(service, ?code, "a call to another service failed");
            Status::unavailable(format!("the {service} service is unavailable"))
        }
    }
}
