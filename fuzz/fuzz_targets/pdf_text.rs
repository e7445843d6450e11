//! The PDF text path: any text in a teacher's name is laid out, encoded with the subset
//! fonts and written as a PDF for every document the record entitles them to, without
//! panicking.
#![no_main]

use std::sync::OnceLock;

use chrono::{TimeZone as _, Utc};
use libfuzzer_sys::fuzz_target;
use portal_document::documents::{make, sample_record};
use portal_document::entitlement::entitlements;
use portal_document::fonts::Fonts;

fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts::load().expect("the bundled fonts parse"))
}

fuzz_target!(|input: &str| {
    let mut record = sample_record();
    let mut parts = input.splitn(3, '\n');
    record.first_name = parts.next().unwrap_or_default().to_owned();
    record.middle_name = parts.next().unwrap_or_default().to_owned();
    record.last_name = parts.next().unwrap_or_default().to_owned();
    let issued = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
    for entitlement in entitlements(&record) {
        if let Ok(made) = make(fonts(), &record, &entitlement, "ABCDEFGHJKMNPQRS", issued) {
            assert!(made.pdf.starts_with(b"%PDF-"));
        }
    }
});
