//! Page sizes and opaque page tokens for List RPCs (AIP-158). A token names the position to
//! continue from and the filter it was issued for; it is refused with any other filter.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portal_common::FieldViolation;

pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 500;

/// The page size asked for: 0 means the default, more than the maximum is capped.
pub fn page_size(field: &str, requested: i32) -> Result<u64, FieldViolation> {
    match u64::try_from(requested) {
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(size) => Ok(size.min(MAX_PAGE_SIZE)),
        Err(_) => Err(FieldViolation::new(field, "must not be negative")),
    }
}

const VERSION: &str = "p1";

/// A token to continue below row `position` of a listing with `filter`.
pub fn encode(position: i64, filter: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{VERSION}:{position}:{filter}"))
}

/// The position a token continues from; `None` for an empty token (the first page).
pub fn decode(field: &str, token: &str, filter: &str) -> Result<Option<i64>, FieldViolation> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || FieldViolation::new(field, "is not a token this listing issued");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(position), Some(issued_for)) if issued_for == filter => {
            position.parse().map(Some).map_err(|_| invalid())
        }
        _ => Err(invalid()),
    }
}

/// A List request's page: its size (`page_size`) and where it continues (`page_token`, issued
/// for `filter`), both checked at once.
pub fn page(
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(u64, Option<i64>), Vec<FieldViolation>> {
    match (
        self::page_size("page_size", page_size),
        decode("page_token", page_token, filter),
    ) {
        (Ok(size), Ok(after)) => Ok((size, after)),
        (size, after) => Err([size.err(), after.err()].into_iter().flatten().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_default_cap_and_refuse_negatives() {
        assert_eq!(page_size("page_size", 0), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size("page_size", 7), Ok(7));
        assert_eq!(page_size("page_size", 100_000), Ok(MAX_PAGE_SIZE));
        assert_eq!(page_size("page_size", -1).unwrap_err().field, "page_size");
    }

    #[test]
    fn a_page_names_both_of_its_fields_at_once() {
        assert_eq!(page(0, "", "open"), Ok((DEFAULT_PAGE_SIZE, None)));
        let fields: Vec<String> = page(-1, "nonsense", "open")
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["page_size", "page_token"]);
    }

    #[test]
    fn tokens_round_trip_only_under_their_filter() {
        let token = encode(42, "1000001");
        assert_eq!(decode("page_token", &token, "1000001"), Ok(Some(42)));
        assert!(decode("page_token", &token, "").is_err());
        assert_eq!(decode("page_token", "", "x"), Ok(None));
        for bad in ["not base64!", "cDE6eDp5", &URL_SAFE_NO_PAD.encode("p2:1:")] {
            assert_eq!(
                decode("page_token", bad, "").unwrap_err().field,
                "page_token"
            );
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_token_reads_back_only_with_its_filter(position in any::<i64>(), filter in "\\PC{0,30}", other in "\\PC{0,30}") {
            let token = encode(position, &filter);
            prop_assert_eq!(decode("t", &token, &filter), Ok(Some(position)));
            if other != filter {
                prop_assert!(decode("t", &token, &other).is_err());
            }
        }

        #[test]
        fn any_token_is_refused_or_read_without_panic(token in "\\PC{0,80}", filter in "[a-z]{0,5}") {
            let _ = decode("t", &token, &filter);
        }
    }
}
