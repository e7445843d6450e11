//! The value-type parsers: any text is accepted or refused with a field-level error that
//! names the field and never repeats the input; what is accepted reads back as itself, and a
//! name part accepted is in NFC, holds nothing invisible and only what the documents print.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use portal_common::values::{
    DateOfBirth, NamePart, Nino, PersonName, Trn, format_date, normalise_name, parse_date,
};

fuzz_target!(|input: &str| {
    let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    if let Ok(trn) = Trn::parse("trn", input) {
        assert_eq!(Trn::parse("trn", &trn.to_string()), Ok(trn));
    }
    if let Ok(trn) = Trn::parse_lenient("trn", input) {
        assert_eq!(Trn::parse("trn", &trn.to_string()), Ok(trn));
    }
    if let Ok(nino) = Nino::parse("nino", input) {
        assert_eq!(nino.as_str().len(), 9);
        assert_eq!(Nino::parse("nino", nino.as_str()), Ok(nino.clone()));
    }
    if let Ok(date) = parse_date("date", input) {
        assert_eq!(parse_date("date", &format_date(date)), Ok(date));
    }
    if let Ok(date) = DateOfBirth::parse("date_of_birth", input, today) {
        assert!(date.date() >= DateOfBirth::EARLIEST && date.date() < today);
    }
    let normalised = normalise_name(input);
    assert_eq!(normalise_name(&normalised), normalised);
    if let Ok(part) = NamePart::parse_optional("name", input) {
        let kept = part.as_str();
        assert!(kept.chars().count() <= NamePart::MAX_CHARS);
        assert!(!portal_common::printable::has_invisible(kept));
        assert!(kept.chars().all(portal_common::printable::is_printable));
        assert_eq!(portal_common::printable::nfc(kept), kept, "kept in NFC");
        assert_eq!(NamePart::parse_optional("name", kept), Ok(part.clone()));
    }
    let parts: Vec<&str> = input.splitn(3, '\n').collect();
    if let [first, middle, last] = parts[..] {
        let _ = PersonName::parse(["first", "middle", "last"], first, middle, last);
    }
});
