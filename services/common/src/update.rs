//! Which fields an Update RPC changes, by AIP-134: the paths of its `update_mask`; without a
//! mask, the fields the message sets (in proto3, those not empty); `*`, every field that can
//! change. A field the caller did not name is never changed.

use prost_types::FieldMask;

use crate::error::FieldViolation;

/// The name of the mask field in every Update request.
pub const MASK: &str = "update_mask";

/// The paths an Update changes. `given` lists the fields the message sets, read only when there
/// is no mask; `all` is every field that can change, for `*`. Naming nothing is a violation:
/// an Update that changes nothing is a mistake the caller should hear of.
pub fn paths(
    mask: Option<&FieldMask>,
    given: impl FnOnce() -> Vec<String>,
    all: &[&str],
) -> Result<Vec<String>, FieldViolation> {
    let paths = match mask.map(|m| m.paths.as_slice()) {
        None | Some([]) => given(),
        Some([only]) if only == "*" => all.iter().map(|field| (*field).to_owned()).collect(),
        Some(paths) if paths.iter().any(|p| p == "*") => {
            return Err(FieldViolation::new(
                MASK,
                "`*` must be the only path when it is given",
            ));
        }
        Some(paths) => paths.to_vec(),
    };
    if paths.is_empty() {
        return Err(FieldViolation::new(
            MASK,
            "names no field, and the message sets none: nothing would change",
        ));
    }
    Ok(paths)
}

/// `name` when `value` is set (not empty), for the `given` list of [`paths`].
pub fn given(name: &str, value: &str) -> Option<String> {
    (!value.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(paths: &[&str]) -> FieldMask {
        FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    fn set() -> Vec<String> {
        vec!["email".to_owned()]
    }

    #[test]
    fn a_mask_names_the_fields_else_the_message_does() {
        let all = ["email", "phone"];
        assert_eq!(paths(None, set, &all).unwrap(), ["email"]);
        assert_eq!(paths(Some(&mask(&[])), set, &all).unwrap(), ["email"]);
        assert_eq!(
            paths(Some(&mask(&["phone"])), set, &all).unwrap(),
            ["phone"]
        );
        assert_eq!(paths(Some(&mask(&["*"])), set, &all).unwrap(), all);
        assert_eq!(
            paths(Some(&mask(&["*", "phone"])), set, &all)
                .unwrap_err()
                .field,
            MASK
        );
        assert_eq!(paths(None, Vec::new, &all).unwrap_err().field, MASK);
        assert_eq!(given("email", "a@b.org"), Some("email".to_owned()));
        assert_eq!(given("email", ""), None);
    }
}
