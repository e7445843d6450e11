//! Personal details shown masked, to a session that has not proved it belongs to the teacher
//! and where an address is only hinted at ("a code went to j***@example.org"): enough for the
//! teacher to recognise their own, too little to be of use to anyone else.

/// The last `n` characters of `value`.
fn last(value: &str, n: usize) -> String {
    let count = value.chars().count();
    value.chars().skip(count.saturating_sub(n)).collect()
}

/// A National Insurance number: its last three characters only (`******52D`).
pub fn nino(nino: &str) -> String {
    if nino.is_empty() {
        return String::new();
    }
    format!("******{}", last(nino, 3))
}

/// An email address: its first character and the domain (`j***@example.org`).
pub fn email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None if email.is_empty() => String::new(),
        None => "***".to_owned(),
    }
}

/// A telephone number: its last three digits only (`********461`).
pub fn phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return String::new();
    }
    format!("********{}", last(&digits, 3))
}

/// A postcode: its outward code only (`BD23` of `BD23 5QZ`).
pub fn postcode(postcode: &str) -> String {
    postcode
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_identifies_nothing_alone() {
        assert_eq!(nino("JC741852D"), "******52D");
        assert_eq!(nino(""), "");
        assert_eq!(email("quillonia.z@example.org"), "q***@example.org");
        assert_eq!(email("zoë@exämple.co.uk"), "z***@exämple.co.uk");
        assert_eq!(email(""), "");
        assert_eq!(phone("07700 900461"), "********461");
        assert_eq!(phone("+44 (0)113 496 0000"), "********000");
        assert_eq!(phone(""), "");
        assert_eq!(postcode("BD23 5QZ"), "BD23");
        assert_eq!(postcode("GIR 0AA"), "GIR");
        assert_eq!(postcode(""), "");
    }
}
