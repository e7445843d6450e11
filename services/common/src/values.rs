//! Domain value types, parsed once at the edge with a field-level error and trusted inside.
//! Errors never repeat the value: it is personal data.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use unicode_normalization::UnicodeNormalization as _;

use crate::error::FieldViolation;

/// The most queries one bulk check by TRN and date of birth may hold.
pub const MAX_BULK_CHECKS: usize = 500;

/// Teacher reference number: exactly 7 digits, never `0000000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Trn(u32);

impl Trn {
    /// Parses a TRN typed interactively: spaces are ignored, then exactly 7 digits.
    pub fn parse(field: &str, input: &str) -> Result<Self, FieldViolation> {
        let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldViolation::new(field, "must be exactly 7 digits"));
        }
        Self::from_number(digits.parse().unwrap_or(0))
            .ok_or_else(|| FieldViolation::new(field, "is not a valid teacher reference number"))
    }

    /// Parses a TRN from a bulk file import: any non-digits are dropped and a number that a
    /// spreadsheet shortened is padded back to 7 digits with leading zeros.
    pub fn parse_lenient(field: &str, input: &str) -> Result<Self, FieldViolation> {
        let digits: String = input.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() || digits.len() > 7 {
            return Err(FieldViolation::new(
                field,
                "must be a teacher reference number of up to 7 digits",
            ));
        }
        Self::parse(field, &format!("{digits:0>7}"))
    }

    /// A TRN from its number, when it is in 1..=9_999_999.
    pub fn from_number(number: u32) -> Option<Self> {
        (1..=9_999_999).contains(&number).then_some(Self(number))
    }

    pub fn number(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Trn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:07}", self.0)
    }
}

/// National Insurance number, normalised: no spaces or dashes, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nino(String);

impl Nino {
    const FORBIDDEN_PREFIXES: [&'static str; 7] = ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"];

    pub fn parse(field: &str, input: &str) -> Result<Self, FieldViolation> {
        let normalised: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_uppercase)
            .collect();
        let bytes = normalised.as_bytes();
        let valid = bytes.len() == 9
            && b"ABCEGHJKLMNOPRSTWXYZ".contains(&bytes[0])
            && b"ABCEGHJKLMNPRSTWXYZ".contains(&bytes[1])
            && bytes[2..8].iter().all(u8::is_ascii_digit)
            && b"ABCDFMU".contains(&bytes[8])
            && !Self::FORBIDDEN_PREFIXES.contains(&&normalised[..2]);
        if valid {
            Ok(Self(normalised))
        } else {
            Err(FieldViolation::new(
                field,
                "must be a National Insurance number such as AB123456C",
            ))
        }
    }

    /// Parses an optional NINO: empty input means none was given.
    pub fn parse_optional(field: &str, input: &str) -> Result<Option<Self>, FieldViolation> {
        if input.trim().is_empty() {
            Ok(None)
        } else {
            Self::parse(field, input).map(Some)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A calendar date as `YYYY-MM-DD`: four, two and two ASCII digits, nothing else (chrono
/// alone would take signs, short fields and spaces inside).
pub fn parse_date(field: &str, input: &str) -> Result<NaiveDate, FieldViolation> {
    let input = input.trim();
    let shaped = input.len() == 10
        && input.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(FieldViolation::new(field, "must be a date as YYYY-MM-DD"));
    }
    NaiveDate::parse_from_str(input, "%Y-%m-%d")
        .map_err(|_| FieldViolation::new(field, "must be a real date as YYYY-MM-DD"))
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// `2012-06-30` as "30 June 2012", as letters and emails write dates; anything unreadable as
/// it is.
pub fn long_date(date: &str) -> String {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(|d| d.format("%-d %B %Y").to_string())
        .unwrap_or_else(|_| date.to_owned())
}

/// Date of birth: a calendar date (never a timestamp) from 1900-01-01 up to 16 years ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateOfBirth(NaiveDate);

impl DateOfBirth {
    pub const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
        Some(date) => date,
        None => panic!("1900-01-01 is a date"),
    };

    /// Parses a date of birth and checks it is plausible on `today`.
    pub fn parse(field: &str, input: &str, today: NaiveDate) -> Result<Self, FieldViolation> {
        let date = parse_date(field, input)?;
        let latest = sixteen_years_before(today);
        if date < Self::EARLIEST || date > latest {
            return Err(FieldViolation::new(
                field,
                "must be between 1900-01-01 and 16 years ago",
            ));
        }
        Ok(Self(date))
    }

    /// A date of birth already held on a record.
    pub fn from_stored(date: NaiveDate) -> Self {
        Self(date)
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }
}

impl fmt::Display for DateOfBirth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_date(self.0))
    }
}

fn sixteen_years_before(today: NaiveDate) -> NaiveDate {
    // 29 February sixteen years back may not exist: fall back to 28 February.
    NaiveDate::from_ymd_opt(today.year() - 16, today.month(), today.day())
        .or_else(|| NaiveDate::from_ymd_opt(today.year() - 16, today.month(), today.day() - 1))
        .unwrap_or(today)
}

/// One part of a person's name: trimmed, in Unicode NFC, at most 100 characters, nothing
/// invisible, and only what the documents can print (`printable`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamePart(String);

impl NamePart {
    pub const MAX_CHARS: usize = 100;

    /// A name part that must be given.
    pub fn parse(field: &str, input: &str) -> Result<Self, FieldViolation> {
        let part = Self::parse_optional(field, input)?;
        if part.0.is_empty() {
            return Err(FieldViolation::new(field, "is required"));
        }
        Ok(part)
    }

    /// A name part that may be empty (middle names).
    pub fn parse_optional(field: &str, input: &str) -> Result<Self, FieldViolation> {
        let part = crate::printable::nfc(input.trim());
        if part.chars().count() > Self::MAX_CHARS {
            return Err(FieldViolation::new(
                field,
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if crate::printable::has_invisible(&part) {
            return Err(FieldViolation::new(field, crate::printable::INVISIBLE));
        }
        if !part.chars().all(crate::printable::is_name_character) {
            return Err(FieldViolation::new(
                field,
                "may hold only letters, spaces, hyphens, apostrophes and full stops",
            ));
        }
        if !part.chars().all(crate::printable::is_printable) {
            return Err(FieldViolation::new(
                field,
                "contains characters the certificates cannot print: write the name in the \
                 Latin, Greek or Cyrillic alphabet, as on a passport",
            ));
        }
        Ok(Self(part))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form names are matched in.
    pub fn normalised(&self) -> String {
        normalise_name(&self.0)
    }
}

/// The form in which names compare: Unicode NFC, outer spaces removed, hyphens as spaces and
/// runs of them as one ("Mary-Jane" is "Mary Jane"), curly apostrophes and backticks as `'`,
/// case folded (Unicode).
pub fn normalise_name(input: &str) -> String {
    // Composed first: some characters compose to one mapped below (U+1FEF to a backtick).
    let unified: String = input
        .nfc()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' | '\u{2032}' | '`' | '\u{00B4}' => '\'',
            '-' | '\u{2010}' | '\u{2011}' => ' ',
            other => other,
        })
        .collect();
    unified
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .nfc()
        .collect()
}

/// A person's full name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName {
    pub first: NamePart,
    pub middle: NamePart,
    pub last: NamePart,
}

impl PersonName {
    /// Parses the three parts under the request's field names.
    pub fn parse(
        fields: [&str; 3],
        first: &str,
        middle: &str,
        last: &str,
    ) -> Result<Self, Vec<FieldViolation>> {
        let first = NamePart::parse(fields[0], first);
        let middle = NamePart::parse_optional(fields[1], middle);
        let last = NamePart::parse(fields[2], last);
        match (first, middle, last) {
            (Ok(first), Ok(middle), Ok(last)) => Ok(Self {
                first,
                middle,
                last,
            }),
            (first, middle, last) => Err([first.err(), middle.err(), last.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }
}

/// An email address given alone (a TRN request's): trimmed, at most 254 characters, of the
/// form every contact email must have; `None` when empty.
pub fn parse_email(field: &str, input: &str) -> Result<Option<String>, FieldViolation> {
    let email = input.trim();
    if email.is_empty() {
        return Ok(None);
    }
    if email.chars().count() > 254 || !is_email(email) {
        return Err(FieldViolation::new(
            field,
            "must be an email address such as name@example.org",
        ));
    }
    Ok(Some(email.to_owned()))
}

/// A plausible email address: one `@`, a local part without spaces, a domain of at least two
/// labels of letters, digits and hyphens.
pub fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"()<>[]\\,;:\"@".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.chars().count())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_a_local_part_and_a_real_domain() {
        for ok in [
            "a@example.org",
            "first.last+tag@school.sch.uk",
            "zoë@exämple.co.uk",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "a@b.c",
            "@example.org",
            "a b@example.org",
            "a@@example.org",
            "a@-x.org",
            ".a@example.org",
            "a..b@example.org",
            "a@example.123",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn trn_takes_seven_digits_with_spaces_ignored() {
        assert_eq!(Trn::parse("trn", "1234567").unwrap().to_string(), "1234567");
        assert_eq!(
            Trn::parse("trn", " 123 4567 ").unwrap().to_string(),
            "1234567"
        );
        assert_eq!(Trn::parse("trn", "0012345").unwrap().to_string(), "0012345");
    }

    #[test]
    fn trn_rejects_wrong_lengths_letters_and_zero() {
        for bad in [
            "",
            "123456",
            "12345678",
            "12345a7",
            "123-4567",
            "0000000",
            "１２３４５６７",
        ] {
            let err = Trn::parse("trn", bad).unwrap_err();
            assert_eq!(err.field, "trn");
            assert!(!err.description.contains(bad) || bad.is_empty());
        }
    }

    #[test]
    fn bulk_trns_forgive_separators_and_lost_leading_zeros() {
        assert_eq!(
            Trn::parse_lenient("t", "12345").unwrap().to_string(),
            "0012345"
        );
        assert_eq!(
            Trn::parse_lenient("t", "123-4567").unwrap().to_string(),
            "1234567"
        );
        assert!(Trn::parse_lenient("t", "12345678").is_err());
        assert!(Trn::parse_lenient("t", "0").is_err());
        assert!(Trn::parse_lenient("t", "abc").is_err());
    }

    #[test]
    fn nino_normalises_spacing_and_case() {
        assert_eq!(
            Nino::parse("n", "ab 12 34 56 c").unwrap().as_str(),
            "AB123456C"
        );
        assert_eq!(
            Nino::parse("n", "AB-123456-D").unwrap().as_str(),
            "AB123456D"
        );
    }

    #[test]
    fn nino_rejects_invalid_letters_and_prefixes() {
        for bad in [
            "DA123456C", // D not allowed first
            "AD123456C", // D not allowed second
            "AO123456C", // O not allowed second
            "GB123456C",
            "BG123456A",
            "KN123456A",
            "NK123456A",
            "NT123456A",
            "TN123456A",
            "ZZ123456A",
            "AB123456E",
            "AB12345C",
            "AB1234567C",
            "",
        ] {
            assert!(Nino::parse("n", bad).is_err(), "{bad} should be invalid");
        }
    }

    #[test]
    fn optional_nino_allows_empty() {
        assert_eq!(Nino::parse_optional("n", "  ").unwrap(), None);
        assert!(Nino::parse_optional("n", "X").is_err());
    }

    #[test]
    fn date_of_birth_range_is_1900_to_sixteen_years_ago() {
        let today = date("2026-11-29");
        assert!(DateOfBirth::parse("d", "1900-01-01", today).is_ok());
        assert!(DateOfBirth::parse("d", "1899-12-31", today).is_err());
        assert!(DateOfBirth::parse("d", "2010-11-29", today).is_ok());
        assert!(DateOfBirth::parse("d", "2010-11-30", today).is_err());
        assert!(DateOfBirth::parse("d", "1980-02-30", today).is_err());
        assert!(DateOfBirth::parse("d", "1980-2-3", today).is_err());
        assert!(DateOfBirth::parse("d", "1980-02-03T00:00:00Z", today).is_err());
        // 2100 is no leap year: on 29 February 2116 the latest date of birth is 28 February.
        let leap = date("2116-02-29");
        assert!(DateOfBirth::parse("d", "2100-02-28", leap).is_ok());
        assert!(DateOfBirth::parse("d", "2100-03-01", leap).is_err());
    }

    #[test]
    fn dates_are_four_two_and_two_digits_only() {
        assert_eq!(parse_date("d", " 2001-02-03 "), Ok(date("2001-02-03")));
        // Found by the `values` fuzz target: chrono alone reads this as 10 April, year -7.
        assert!(parse_date("d", "-7-4-\n\n\n10").is_err());
        assert!(parse_date("d", "+001-02-03").is_err());
        assert!(parse_date("d", "2001-2-031").is_err());
        assert!(parse_date("d", "2001-02-30").is_err());
    }

    #[test]
    fn name_parts_are_trimmed_and_bounded() {
        assert_eq!(NamePart::parse("f", "  Zoë ").unwrap().as_str(), "Zoë");
        assert!(NamePart::parse("f", "   ").is_err());
        assert!(NamePart::parse_optional("m", "").is_ok());
        assert!(NamePart::parse("f", &"ł".repeat(100)).is_ok());
        assert!(NamePart::parse("f", &"ł".repeat(101)).is_err());
        assert!(NamePart::parse("f", "a\u{0}b").is_err());
    }

    #[test]
    fn name_parts_compose_and_refuse_what_cannot_be_seen_or_printed() {
        let decomposed = NamePart::parse("f", "Zoe\u{0308}").unwrap();
        assert_eq!(decomposed, NamePart::parse("f", "Zoë").unwrap());
        assert_eq!(normalise_name("ZOE\u{0308}"), normalise_name("zoë"));
        // 100 letters once composed, though 200 characters as typed.
        assert!(NamePart::parse("f", &"e\u{0301}".repeat(100)).is_ok());
        for invisible in [
            "Zo\u{202E}e",
            "Zo\u{200B}e",
            "\u{2066}Zoe\u{2069}",
            "Zo\u{00AD}e",
        ] {
            let error = NamePart::parse("first_name", invisible).unwrap_err();
            assert_eq!(error.field, "first_name");
            assert!(error.description.contains("invisible"));
        }
        for unprintable in ["张伟", "אבי", "김"] {
            let error = NamePart::parse("last_name", unprintable).unwrap_err();
            assert_eq!(error.field, "last_name");
            assert!(error.description.contains("cannot print"));
        }
        for not_a_name in ["Zoë 😀", "Zoë2", "Zoë@home"] {
            let error = NamePart::parse("last_name", not_a_name).unwrap_err();
            assert!(error.description.contains("only letters"));
        }
        assert!(NamePart::parse("f", "Mary-Jane O’Brien St. John").is_ok());
        assert!(NamePart::parse("f", "Дмитрий").is_ok());
    }

    #[test]
    fn names_normalise_case_apostrophes_and_spaces() {
        assert_eq!(normalise_name(" O’Súilleabháin "), "o'súilleabháin");
        assert_eq!(normalise_name("O`BRIEN"), "o'brien");
        assert_eq!(normalise_name("ŁUKASIEWICZ"), "łukasiewicz");
        assert_eq!(normalise_name("van  der   Berg"), "van der berg");
        assert_eq!(normalise_name("Mary-Jane"), normalise_name("mary  jane"));
        assert_eq!(normalise_name("Smith - Jones"), "smith jones");
        // Found by the property below: Greek varia composes to a backtick.
        assert_eq!(normalise_name("O\u{1FEF}Brien"), "o'brien");
    }

    #[test]
    fn person_name_reports_every_bad_part() {
        let errors =
            PersonName::parse(["first_name", "middle_name", "last_name"], "", "", " ").unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["first_name", "last_name"]);
    }
}

/// Properties of the parsers over generated input, run with the normal tests (the fuzz
/// targets in `fuzz/` search the same ground for longer).
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A marker no fixed error text contains: an error that repeats its input shows it.
    const MARKER: &str = "Q7Zx";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    proptest! {
        #[test]
        fn parsers_never_panic_or_repeat_their_input(input in "\\PC{0,40}") {
            let marked = format!("{MARKER}{input}");
            let errors = [
                Trn::parse("f", &marked).err(),
                Trn::parse_lenient("f", &marked).err(),
                Nino::parse("f", &marked).err(),
                parse_date("f", &marked).err(),
                DateOfBirth::parse("f", &marked, today()).err(),
                NamePart::parse("f", &format!("{marked}\u{7}")).err(),
            ];
            for error in errors.into_iter().flatten() {
                prop_assert!(!error.description.contains(MARKER));
                prop_assert_eq!(error.field, "f");
            }
            let _ = (Trn::parse("f", &input), Nino::parse("f", &input), NamePart::parse("f", &input));
        }

        #[test]
        fn a_trn_reads_back_as_itself(number in 1u32..=9_999_999, spaces in "[ ]{0,3}") {
            let trn = Trn::from_number(number).unwrap();
            let typed = format!("{spaces}{trn}{spaces}");
            prop_assert_eq!(Trn::parse("f", &typed), Ok(trn));
            prop_assert_eq!(Trn::parse_lenient("f", &number.to_string()), Ok(trn));
        }

        #[test]
        fn an_accepted_nino_is_nine_upper_case_ascii_and_stable(input in "[A-Za-z]{2}[ -]?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-Da-d ]{1,2}") {
            if let Ok(nino) = Nino::parse("f", &input) {
                prop_assert_eq!(nino.as_str().len(), 9);
                prop_assert!(nino.as_str().bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
                prop_assert_eq!(Nino::parse("f", nino.as_str()), Ok(nino.clone()));
            }
        }

        #[test]
        fn a_date_of_birth_reads_back_as_itself(days in 0i64..40_000) {
            let date = DateOfBirth::EARLIEST + chrono::Duration::days(days);
            match DateOfBirth::parse("f", &format_date(date), today()) {
                Ok(parsed) => prop_assert_eq!(parsed.date(), date),
                Err(_) => prop_assert!(date > sixteen_years_before(today())),
            }
        }

        #[test]
        fn names_normalise_once_and_for_all(input in "\\PC{0,60}") {
            let once = normalise_name(&input);
            prop_assert_eq!(normalise_name(&once), once.clone());
            prop_assert_eq!(once.trim(), once.as_str());
            if let Ok(part) = NamePart::parse_optional("f", &input) {
                prop_assert!(part.as_str().chars().count() <= NamePart::MAX_CHARS);
                prop_assert_eq!(part.as_str().trim(), part.as_str());
            }
        }
    }
}
