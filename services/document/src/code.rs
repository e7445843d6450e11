//! Verification codes: 80 random bits in Crockford's base 32, grouped in fours for reading
//! aloud (`7KQ2-M9XD-3HJP-W6RT`). Reading back forgives case, spaces, dashes and the letters
//! that look like digits.

use portal_common::FieldViolation;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 16 characters of 5 bits.
const LENGTH: usize = 16;

/// A new code, as stored (no dashes).
pub fn generate() -> String {
    let bits = u128::from_be_bytes({
        let mut bytes = [0u8; 16];
        bytes[6..].copy_from_slice(&rand::random::<[u8; 10]>());
        bytes
    });
    (0..LENGTH)
        .rev()
        .map(|i| char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]))
        .collect()
}

/// The code as printed: groups of four joined by dashes.
pub fn display(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// A code as typed, in its stored form.
pub fn parse(field: &str, input: &str) -> Result<String, FieldViolation> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    if code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b)) {
        Ok(code)
    } else {
        Err(FieldViolation::new(
            field,
            "must be a 16-character verification code such as 7KQ2-M9XD-3HJP-W6RT",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sixteen_characters_printed_in_fours() {
        let code = generate();
        assert_eq!(code.len(), 16);
        let shown = display(&code);
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.matches('-').count(), 3);
        assert_eq!(parse("c", &shown).unwrap(), code);
        assert_ne!(generate(), generate());
    }

    #[test]
    fn typed_codes_forgive_case_spacing_and_look_alike_letters() {
        assert_eq!(
            parse("c", "7kq2 m9xd 3hjp w6rt").unwrap(),
            "7KQ2M9XD3HJPW6RT"
        );
        assert_eq!(
            parse("c", "OIL0-0000-0000-0000").unwrap(),
            "0110000000000000"
        );
        for bad in [
            "",
            "7KQ2-M9XD",
            "7KQ2-M9XD-3HJP-W6RU",
            "7KQ2-M9XD-3HJP-W6RT-A",
        ] {
            assert_eq!(parse("c", bad).unwrap_err().field, "c");
        }
    }
}
