//! The rules of one request part, field by field (dates, presence, order, free text), each
//! broken rule added to the part's [`Violations`] so that the caller learns of every bad field
//! at once. Messages never repeat the value.

use crate::error::{FieldViolation, Violations};
use crate::printable::INVISIBLE;
use crate::values::parse_date;
use chrono::NaiveDate;

/// No date on a record is earlier than this.
pub const EARLIEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(date) => date,
    None => panic!("1900-01-01 is a date"),
};

/// Whether a status needs, allows or forbids a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Required,
    Optional,
    Forbidden,
}

pub struct Checker<'a> {
    parent: &'a str,
    pub today: NaiveDate,
    violations: Violations,
}

impl<'a> Checker<'a> {
    /// Violations are named `<parent>.<field>` (or `<field>` when `parent` is empty).
    pub fn new(parent: &'a str, today: NaiveDate) -> Self {
        Self {
            parent,
            today,
            violations: Violations::new(),
        }
    }

    pub fn path(&self, field: &str) -> String {
        if self.parent.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.parent)
        }
    }

    pub fn fail(&mut self, field: &str, description: impl Into<String>) {
        let path = self.path(field);
        self.violations.add(FieldViolation::new(path, description));
    }

    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }

    pub fn violations(self) -> Vec<FieldViolation> {
        self.violations.into_inner()
    }

    /// A value of a closed vocabulary, which must be given.
    pub fn choice<T>(&mut self, field: &str, parsed: Option<T>) -> Option<T> {
        if parsed.is_none() {
            self.fail(field, "is required and must be one of the defined values");
        }
        parsed
    }

    /// A date that may be empty, from 1900 and not after today. An invalid date is recorded and
    /// read as absent.
    pub fn date(&mut self, field: &str, input: &str) -> Option<NaiveDate> {
        if input.trim().is_empty() {
            return None;
        }
        match parse_date(&self.path(field), input) {
            Ok(date) if date < EARLIEST_DATE => {
                self.fail(field, "must not be before 1900-01-01");
                None
            }
            Ok(date) if date > self.today => {
                self.fail(field, "must not be in the future");
                None
            }
            Ok(date) => Some(date),
            Err(violation) => {
                self.violations.add(violation);
                None
            }
        }
    }

    /// Checks that a field is given or left empty as `usage` says.
    pub fn presence(&mut self, field: &str, given: bool, usage: Use, why: &str) {
        match (usage, given) {
            (Use::Required, false) => self.fail(field, format!("is required {why}")),
            (Use::Forbidden, true) => self.fail(field, format!("must be empty {why}")),
            _ => {}
        }
    }

    /// A date not before `earliest`.
    pub fn not_before(&mut self, field: &str, date: Option<NaiveDate>, earliest: NaiveDate) {
        if date.is_some_and(|d| d < earliest) {
            self.fail(field, format!("must not be before {earliest}"));
        }
    }

    /// An end date not before its start.
    pub fn ordered(&mut self, field: &str, start: Option<NaiveDate>, end: Option<NaiveDate>) {
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            self.fail(field, "must not be before the start date");
        }
    }

    /// Free text: trimmed, at most `max` characters, no control characters except line breaks
    /// and tabs when `multiline`.
    pub fn text(&mut self, field: &str, input: &str, max: usize, multiline: bool) -> String {
        let text = crate::printable::nfc(input.trim());
        if text.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
        } else if text.chars().any(|c| {
            crate::printable::is_invisible(c) && !(multiline && matches!(c, '\n' | '\r' | '\t'))
        }) {
            self.fail(field, INVISIBLE);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    #[test]
    fn dates_are_checked_for_form_range_and_future() {
        let mut c = Checker::new("x", today());
        assert_eq!(c.date("a", ""), None);
        assert_eq!(c.date("b", "2026-11-29"), Some(today()));
        assert_eq!(c.date("c", "2026-11-30"), None);
        assert_eq!(c.date("d", "1899-12-31"), None);
        assert_eq!(c.date("e", "2026-02-30"), None);
        let fields: Vec<_> = c.violations().into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["x.c", "x.d", "x.e"]);
    }

    #[test]
    fn presence_follows_the_usage() {
        let mut c = Checker::new("", today());
        c.presence("a", false, Use::Required, "when passed");
        c.presence("b", true, Use::Forbidden, "when none");
        c.presence("c", false, Use::Optional, "");
        c.presence("d", true, Use::Required, "");
        let v = c.violations();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].field, "a");
        assert_eq!(v[0].description, "is required when passed");
        assert_eq!(v[1].field, "b");
    }

    #[test]
    fn text_is_bounded_and_free_of_control_characters() {
        let mut c = Checker::new("", today());
        assert_eq!(c.text("a", "  ok  ", 5, false), "ok");
        c.text("b", "line\nbreak", 100, false);
        c.text("c", "line\nbreak", 100, true);
        c.text("d", "toolong", 3, false);
        c.text("e", "Flat 1\u{202E}", 100, true);
        c.text("f", "Flat\u{200B}1", 100, false);
        assert_eq!(c.text("g", "Zoe\u{0308} Road", 100, false), "Zoë Road");
        let fields: Vec<_> = c.violations().into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["b", "d", "e", "f"]);
    }
}
