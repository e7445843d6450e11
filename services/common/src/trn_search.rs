//! A search for a lost TRN as a person makes it (`FindMyTrn`): parsed the same way by the
//! identity service, which counts it against the limits per email address before anything
//! else, and by the record service, which keeps and matches it.

use chrono::NaiveDate;
use dqt_proto::dqt::portal::v1 as pb;

use crate::error::{FieldViolation, Violations};
use crate::values::{DateOfBirth, NamePart, Nino, parse_email};

/// What a person remembers of their record, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrnSearch {
    pub first_name: NamePart,
    pub last_name: NamePart,
    pub previous_last_name: Option<NamePart>,
    pub date_of_birth: DateOfBirth,
    pub nino: Option<Nino>,
    /// Where the answer goes, as given (trimmed).
    pub email: String,
}

impl TrnSearch {
    /// Every field checked at once; each violation names its field. The captcha is not read.
    pub fn parse(
        input: &pb::FindMyTrnRequest,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Violations::new();
        let first_name = violations.check(NamePart::parse("first_name", &input.first_name));
        let last_name = violations.check(NamePart::parse("last_name", &input.last_name));
        let previous_last_name = violations.check(NamePart::parse_optional(
            "previous_last_name",
            &input.previous_last_name,
        ));
        let date_of_birth = violations.check(DateOfBirth::parse(
            "date_of_birth",
            &input.date_of_birth,
            today,
        ));
        let nino = violations.check(Nino::parse_optional(
            "national_insurance_number",
            &input.national_insurance_number,
        ));
        let email = match parse_email("email", &input.email) {
            Ok(Some(email)) => Some(email),
            Ok(None) => {
                violations.add(FieldViolation::new(
                    "email",
                    "is required: the answer is sent there",
                ));
                None
            }
            Err(violation) => {
                violations.add(violation);
                None
            }
        };
        match (
            first_name,
            last_name,
            previous_last_name,
            date_of_birth,
            nino,
            email,
        ) {
            (Some(first), Some(last), Some(previous), Some(dob), Some(nino), Some(email))
                if violations.is_empty() =>
            {
                Ok(Self {
                    first_name: first,
                    last_name: last,
                    previous_last_name: (!previous.as_str().is_empty()).then_some(previous),
                    date_of_birth: dob,
                    nino,
                    email,
                })
            }
            _ => Err(violations.into_inner()),
        }
    }

    /// The address as limits and comparisons take it: case folded.
    pub fn email_key(&self) -> String {
        self.email.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    }

    fn request() -> pb::FindMyTrnRequest {
        pb::FindMyTrnRequest {
            first_name: " Anna ".into(),
            last_name: "Smith".into(),
            previous_last_name: String::new(),
            date_of_birth: "1985-04-01".into(),
            national_insurance_number: String::new(),
            email: " Anna@Example.org ".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_search_needs_names_a_date_of_birth_and_an_email_and_takes_the_rest_as_optional() {
        let search = TrnSearch::parse(&request(), today()).unwrap();
        assert_eq!(search.first_name.as_str(), "Anna");
        assert_eq!(search.previous_last_name, None);
        assert_eq!(search.nino, None);
        assert_eq!(search.email, "Anna@Example.org");
        assert_eq!(search.email_key(), "anna@example.org");
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let bad = pb::FindMyTrnRequest {
            first_name: String::new(),
            last_name: "Sm1th".into(),
            previous_last_name: "\u{200b}".into(),
            date_of_birth: "1985-13-01".into(),
            national_insurance_number: "QQ12".into(),
            email: String::new(),
            ..Default::default()
        };
        let fields: Vec<String> = TrnSearch::parse(&bad, today())
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "first_name",
                "last_name",
                "previous_last_name",
                "date_of_birth",
                "national_insurance_number",
                "email"
            ]
        );
    }
}
