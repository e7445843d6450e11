//! Evidence uploads: any bytes under any file name are judged by their content, and the name
//! kept is always safe to show and to offer for download, under the extension of its type.
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
    let extension = match evidence.content_type {
        "application/pdf" => ".pdf",
        "image/jpeg" => ".jpg",
        _ => ".png",
    };
    assert!(name.ends_with(extension), "the extension its bytes show");
});
