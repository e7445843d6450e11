//! One-time codes sent by email: six digits, alive ten minutes, void after five wrong tries,
//! kept only as a keyed digest ([`crate::Signer::fingerprint`]) and compared in constant time.

use std::time::Duration;

use tonic::{Code, Status};

use crate::error::{FieldViolation, Reason, invalid_fields, status};

/// How long a code is accepted.
pub const LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Wrong codes after which a verification is void.
pub const MAX_WRONG: i64 = 5;

/// A fresh code: six decimal digits, uniformly drawn.
pub fn generate() -> String {
    format!("{:06}", rand::random_range(0..1_000_000u32))
}

/// A code as typed: spaces are ignored, then exactly six digits.
pub fn parse(field: &str, input: &str) -> Result<String, FieldViolation> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(FieldViolation::new(
            field,
            "must be the 6-digit code from the email",
        ))
    }
}

/// The answer to a wrong code: INVALID_ARGUMENT naming `code`.
pub fn wrong_code() -> Status {
    invalid_fields(
        &[FieldViolation::new("code", "is not the code that was sent")],
        Reason::WrongCode,
    )
}

/// The answer to a code for something void, used, expired or never started:
/// FAILED_PRECONDITION with reason VERIFICATION_EXPIRED.
pub fn expired() -> Status {
    status(
        Code::FailedPrecondition,
        "this code has expired, been used or had too many wrong tries: ask for a new one",
        Reason::VerificationExpired,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_read_as_typed() {
        for _ in 0..100 {
            let code = generate();
            assert_eq!(parse("code", &code).unwrap(), code);
        }
        assert_eq!(parse("code", " 012 345 ").unwrap(), "012345");
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert_eq!(parse("code", bad).unwrap_err().field, "code");
        }
    }
}
