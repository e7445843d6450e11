//! Evidence uploads: any bytes under any file name are judged by their content, and the name
//! kept is always safe to show and to offer for download.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portal_record::domain::Evidence;

fuzz_target!(|input: (&str, &[u8])| {
    let (file_name, content) = input;
    let Ok(evidence) = Evidence::parse(file_name, content) else {
        return;
    };
    let name = &evidence.file_name;
    assert!(!name.is_empty() && name.chars().count() <= 100);
    assert!(
        name.chars()
            .all(|c| c.is_alphanumeric() || " ._-()".contains(c))
    );
    assert!(!name.starts_with(['.', ' ', '_']) && !name.ends_with(['.', ' ']));
});
