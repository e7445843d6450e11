//! Alerts on a record and the catalogue of their types.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::FieldViolation;

use portal_common::checks::{Checker, Use};

const MAX_DETAILS: usize = 4000;

/// One type of alert in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertType {
    pub code: String,
    pub title: String,
    /// What the alert means, in plain English.
    pub description: String,
    /// Seen only inside DfE.
    pub internal: bool,
    /// Whether an open alert of this type restricts the person.
    pub restricts: bool,
}

/// The alert types, by code; loaded once at start.
#[derive(Debug, Clone, Default)]
pub struct AlertCatalogue(HashMap<String, Arc<AlertType>>);

impl AlertCatalogue {
    pub fn new(types: impl IntoIterator<Item = AlertType>) -> Self {
        Self(
            types
                .into_iter()
                .map(|t| (t.code.clone(), Arc::new(t)))
                .collect(),
        )
    }

    pub fn get(&self, code: &str) -> Option<Arc<AlertType>> {
        self.0.get(code).cloned()
    }
}

/// An alert as held on a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: i64,
    pub kind: Arc<AlertType>,
    /// Case details: internal readers only.
    pub details: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

impl Alert {
    pub fn is_open(&self) -> bool {
        self.end.is_none()
    }

    /// Open, visible outside DfE, and of a type that restricts: only T6 among the public
    /// types does not.
    pub fn restricts(&self) -> bool {
        self.is_open() && !self.kind.internal && self.kind.restricts
    }

    /// Checks that the alert can be closed on `end`: not already closed, not before its start.
    pub fn check_close(&self, field: &str, end: NaiveDate) -> Result<(), AlertCloseError> {
        if !self.is_open() {
            return Err(AlertCloseError::AlreadyClosed);
        }
        if end < self.start {
            return Err(AlertCloseError::Invalid(FieldViolation::new(
                field,
                "must not be before the alert's start date",
            )));
        }
        Ok(())
    }
}

/// Why an alert cannot be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertCloseError {
    AlreadyClosed,
    Invalid(FieldViolation),
}

/// An alert to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub kind: Arc<AlertType>,
    pub details: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

impl NewAlert {
    pub fn parse(
        parent: &str,
        input: &pb::Alert,
        catalogue: &AlertCatalogue,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut c = Checker::new(parent, today);
        let kind = catalogue.get(input.code.trim());
        if kind.is_none() {
            c.fail("code", "must be the code of a known alert type");
        }
        let details = c.text("details", &input.details, MAX_DETAILS, true);
        let start = c.date("start_date", &input.start_date);
        c.presence(
            "start_date",
            !input.start_date.trim().is_empty(),
            Use::Required,
            "for an alert",
        );
        let end = c.date("end_date", &input.end_date);
        c.ordered("end_date", start, end);
        match (kind, start) {
            (Some(kind), Some(start)) if c.is_ok() => Ok(Self {
                kind,
                details,
                start,
                end,
            }),
            _ => Err(c.violations()),
        }
    }
}

/// A correction of an alert on a record (UpdateAlert): the fields named, each checked; what
/// the alert will then be is checked against the alert as held by [`Alert::corrected`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCorrection {
    pub alert_id: i64,
    pub details: Option<String>,
    pub start: Option<NaiveDate>,
    /// `Some(None)` reopens the alert.
    pub end: Option<Option<NaiveDate>>,
}

/// The fields of an alert that UpdateAlert may change.
pub const CORRECTABLE: [&str; 3] = ["details", "start_date", "end_date"];

/// The id of an alert on a record, as the API names it.
pub fn parse_alert_id(field: &str, input: &str) -> Result<i64, FieldViolation> {
    input
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| FieldViolation::new(field, "must be the id of an alert on the record"))
}

impl AlertCorrection {
    pub fn parse(
        input: &pb::UpdateAlertRequest,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let alert = input.alert.clone().unwrap_or_default();
        let paths = portal_common::update::paths(
            input.update_mask.as_ref(),
            || {
                [
                    portal_common::update::given("details", &alert.details),
                    portal_common::update::given("start_date", &alert.start_date),
                    portal_common::update::given("end_date", &alert.end_date),
                ]
                .into_iter()
                .flatten()
                .collect()
            },
            &CORRECTABLE,
        )
        .map_err(|v| vec![v])?;
        let mut c = Checker::new("alert", today);
        let alert_id = parse_alert_id("alert.id", &alert.id);
        let named = |field: &str| paths.iter().any(|p| p == field);
        let details =
            named("details").then(|| c.text("details", &alert.details, MAX_DETAILS, true));
        let start = if named("start_date") {
            c.presence(
                "start_date",
                !alert.start_date.trim().is_empty(),
                Use::Required,
                "for an alert",
            );
            c.date("start_date", &alert.start_date)
        } else {
            None
        };
        let end = named("end_date").then(|| c.date("end_date", &alert.end_date));
        let mut violations = c.violations();
        if paths.iter().any(|p| !CORRECTABLE.contains(&p.as_str())) {
            violations.push(FieldViolation::new(
                portal_common::update::MASK,
                "names a field that cannot change: details, start_date or end_date",
            ));
        }
        match alert_id {
            Ok(alert_id) if violations.is_empty() => Ok(Self {
                alert_id,
                details,
                start,
                end,
            }),
            Ok(_) => Err(violations),
            Err(violation) => Err(std::iter::once(violation).chain(violations).collect()),
        }
    }
}

impl Alert {
    /// The alert as the correction leaves it; its dates must still be in order.
    pub fn corrected(&self, correction: &AlertCorrection) -> Result<Alert, FieldViolation> {
        let mut alert = self.clone();
        if let Some(details) = &correction.details {
            alert.details.clone_from(details);
        }
        if let Some(start) = correction.start {
            alert.start = start;
        }
        if let Some(end) = correction.end {
            alert.end = end;
        }
        match alert.end {
            Some(end) if end < alert.start => Err(FieldViolation::new(
                "alert.end_date",
                "must not be before the alert's start date",
            )),
            _ => Ok(alert),
        }
    }
}

/// An alert removed as entered in error, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRemoval {
    pub alert_id: i64,
    pub reason: String,
}

/// The longest reason kept for removing an alert.
pub const MAX_REMOVAL_REASON: usize = 500;

impl AlertRemoval {
    pub fn parse(input: &pb::DeleteAlertRequest) -> Result<Self, Vec<FieldViolation>> {
        let mut c = Checker::new("", NaiveDate::MIN);
        let alert_id = parse_alert_id("alert_id", &input.alert_id);
        let reason = c.text("reason", &input.reason, MAX_REMOVAL_REASON, true);
        c.presence(
            "reason",
            !reason.is_empty(),
            Use::Required,
            "to remove an alert",
        );
        let violations = c.violations();
        match alert_id {
            Ok(alert_id) if violations.is_empty() => Ok(Self { alert_id, reason }),
            Ok(_) => Err(violations),
            Err(violation) => Err(std::iter::once(violation).chain(violations).collect()),
        }
    }
}

/// The date an alert is closed on: required, from 1900, not in the future.
pub fn parse_close_date(
    field: &str,
    input: &str,
    today: NaiveDate,
) -> Result<NaiveDate, FieldViolation> {
    let mut c = Checker::new("", today);
    let date = c.date(field, input);
    c.presence(
        field,
        !input.trim().is_empty(),
        Use::Required,
        "to close an alert",
    );
    match date {
        Some(date) if c.is_ok() => Ok(date),
        _ => Err(c
            .violations()
            .into_iter()
            .next()
            .unwrap_or_else(|| FieldViolation::new(field, "is required"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn correction(alert: pb::Alert, mask: Option<&[&str]>) -> Result<AlertCorrection, Vec<String>> {
        AlertCorrection::parse(
            &pb::UpdateAlertRequest {
                trn: "1000001".into(),
                alert: Some(alert),
                update_mask: mask.map(|paths| prost_types::FieldMask {
                    paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                }),
            },
            today(),
        )
        .map_err(|violations| violations.into_iter().map(|v| v.field).collect())
    }

    #[test]
    fn a_correction_names_its_fields_and_clearing_the_end_reopens() {
        let given = pb::Alert {
            id: "7".into(),
            details: "Corrected notes.".into(),
            ..Default::default()
        };
        let c = correction(given.clone(), None).unwrap();
        assert_eq!(
            (c.alert_id, c.details.as_deref(), c.start, c.end),
            (7, Some("Corrected notes."), None, None)
        );
        let reopen = correction(
            pb::Alert {
                id: "7".into(),
                ..Default::default()
            },
            Some(&["end_date"]),
        )
        .unwrap();
        assert_eq!(reopen.end, Some(None));
        assert_eq!(
            correction(
                pb::Alert {
                    id: "x".into(),
                    ..given.clone()
                },
                None
            )
            .unwrap_err(),
            ["alert.id"]
        );
        assert_eq!(
            correction(given.clone(), Some(&["code"])).unwrap_err(),
            ["update_mask"]
        );
        assert_eq!(
            correction(
                pb::Alert {
                    id: "7".into(),
                    ..Default::default()
                },
                Some(&["start_date"])
            )
            .unwrap_err(),
            ["alert.start_date"]
        );
        let held = Alert {
            id: 7,
            kind: catalogue().get("T1").unwrap(),
            details: String::new(),
            start: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            end: Some(NaiveDate::from_ymd_opt(2021, 1, 1).unwrap()),
        };
        assert!(held.corrected(&reopen).unwrap().is_open());
        let early = AlertCorrection {
            end: Some(NaiveDate::from_ymd_opt(2019, 1, 1)),
            ..reopen
        };
        assert_eq!(held.corrected(&early).unwrap_err().field, "alert.end_date");
    }

    #[test]
    fn a_removal_needs_a_reason() {
        let removal = |id: &str, reason: &str| {
            AlertRemoval::parse(&pb::DeleteAlertRequest {
                trn: "1000001".into(),
                alert_id: id.into(),
                reason: reason.into(),
            })
            .map_err(|violations| violations.into_iter().map(|v| v.field).collect::<Vec<_>>())
        };
        assert_eq!(
            removal("3", " Entered on the wrong record. ")
                .unwrap()
                .reason,
            "Entered on the wrong record."
        );
        assert_eq!(removal("3", " ").unwrap_err(), ["reason"]);
        assert_eq!(
            removal("", &"x".repeat(501)).unwrap_err(),
            ["alert_id", "reason"]
        );
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    fn catalogue() -> AlertCatalogue {
        AlertCatalogue::new(["T1", "T6", "G1"].map(|code| AlertType {
            code: code.into(),
            title: format!("{code} title"),
            description: format!("{code} description"),
            internal: code == "G1",
            restricts: code == "T1",
        }))
    }

    fn alert(code: &str, start: &str, end: &str) -> pb::Alert {
        pb::Alert {
            code: code.into(),
            details: "Case notes.\nSecond line.".into(),
            start_date: start.into(),
            end_date: end.into(),
            ..Default::default()
        }
    }

    fn fields(result: Result<NewAlert, Vec<FieldViolation>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn alerts_need_a_known_code_and_sensible_dates() {
        let c = catalogue();
        assert!(NewAlert::parse("alert", &alert("T1", "2020-01-01", ""), &c, today()).is_ok());
        assert_eq!(
            fields(NewAlert::parse(
                "alert",
                &alert("T9", "2020-01-01", ""),
                &c,
                today()
            )),
            ["alert.code"]
        );
        assert_eq!(
            fields(NewAlert::parse("alert", &alert("T1", "", ""), &c, today())),
            ["alert.start_date"]
        );
        assert_eq!(
            fields(NewAlert::parse(
                "alert",
                &alert("T1", "2027-01-01", ""),
                &c,
                today()
            )),
            ["alert.start_date"]
        );
        assert_eq!(
            fields(NewAlert::parse(
                "alert",
                &alert("T1", "2020-01-01", "2019-01-01"),
                &c,
                today()
            )),
            ["alert.end_date"]
        );
        let long = pb::Alert {
            details: "x".repeat(4001),
            ..alert("T1", "2020-01-01", "")
        };
        assert_eq!(
            fields(NewAlert::parse("alert", &long, &c, today())),
            ["alert.details"]
        );
    }

    #[test]
    fn only_open_public_restricting_alerts_restrict() {
        let c = catalogue();
        let held = |code: &str, end: Option<NaiveDate>| Alert {
            id: 1,
            kind: c.get(code).unwrap(),
            details: String::new(),
            start: today(),
            end,
        };
        assert!(held("T1", None).restricts());
        assert!(!held("T1", Some(today())).restricts(), "closed");
        assert!(!held("T6", None).restricts(), "no prohibition");
        assert!(!held("G1", None).restricts(), "internal");
    }

    #[test]
    fn closing_needs_an_open_alert_and_a_date_after_its_start() {
        let c = catalogue();
        let open = Alert {
            id: 1,
            kind: c.get("T1").unwrap(),
            details: String::new(),
            start: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            end: None,
        };
        assert!(open.check_close("end_date", today()).is_ok());
        assert!(matches!(
            open.check_close("end_date", NaiveDate::from_ymd_opt(2019, 1, 1).unwrap()),
            Err(AlertCloseError::Invalid(v)) if v.field == "end_date"
        ));
        let closed = Alert {
            end: Some(today()),
            ..open
        };
        assert_eq!(
            closed.check_close("end_date", today()),
            Err(AlertCloseError::AlreadyClosed)
        );
        assert!(parse_close_date("end_date", "", today()).is_err());
        assert!(parse_close_date("end_date", "2099-01-01", today()).is_err());
    }
}
