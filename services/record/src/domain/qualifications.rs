//! Professional statuses, induction, NPQs and mandatory qualifications, with the rules each
//! must satisfy on its own and against the record it joins.

use chrono::NaiveDate;
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::FieldViolation;

use super::enums::{
    ExemptionReason, InductionStatus, MqSpecialism, MqStatus, NpqType, Route, RouteStatus,
    StatusType,
};
use portal_common::checks::{Checker, Use};

/// Statutory induction began on this date; no induction starts earlier.
pub const EARLIEST_INDUCTION_START: NaiveDate = match NaiveDate::from_ymd_opt(1999, 5, 7) {
    Some(date) => date,
    None => panic!("1999-05-07 is a date"),
};

/// The reformed NPQs were first awarded from this date.
pub const REFORMED_NPQ_START: NaiveDate = match NaiveDate::from_ymd_opt(2021, 11, 1) {
    Some(date) => date,
    None => panic!("2021-11-01 is a date"),
};

/// NPQH, the oldest NPQ, was introduced in 1997.
const FIRST_NPQ: NaiveDate = match NaiveDate::from_ymd_opt(1997, 1, 1) {
    Some(date) => date,
    None => panic!("1997-01-01 is a date"),
};

const MAX_TEXT: usize = 200;

/// One professional status and the route to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfessionalStatus {
    pub kind: StatusType,
    pub route: Route,
    pub status: RouteStatus,
    /// Set exactly when the status is held.
    pub awarded: Option<NaiveDate>,
    /// Answered exactly when the status is held.
    pub exempt_from_induction: Option<bool>,
}

impl ProfessionalStatus {
    pub fn parse(
        parent: &str,
        input: &pb::ProfessionalStatus,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut c = Checker::new(parent, today);
        let kind = c.choice("type", StatusType::from_proto(input.r#type));
        let route = c.choice("route", Route::from_proto(input.route));
        let status = c.choice("status", RouteStatus::from_proto(input.status));
        let awarded = c.date("awarded_date", &input.awarded_date);
        if let Some(status) = status {
            let (usage, why) = if status == RouteStatus::Holds {
                (Use::Required, "when the status is held")
            } else {
                (Use::Forbidden, "unless the status is held")
            };
            c.presence(
                "awarded_date",
                !input.awarded_date.trim().is_empty(),
                usage,
                why,
            );
            c.presence(
                "exempt_from_induction",
                input.exempt_from_induction.is_some(),
                usage,
                why,
            );
        }
        if let (Some(kind), Some(route)) = (kind, route) {
            if (kind == StatusType::Qtls) != (route == Route::QtlsSetMembership) {
                c.fail(
                    "route",
                    "QTLS is reached only through SET membership, and that route leads only to QTLS",
                );
            }
            if route == Route::WelshRecognition && kind != StatusType::Qts {
                c.fail("route", "Welsh recognition leads only to QTS");
            }
        }
        match (kind, route, status) {
            (Some(kind), Some(route), Some(status)) if c.is_ok() => Ok(Self {
                kind,
                route,
                status,
                awarded,
                exempt_from_induction: input.exempt_from_induction,
            }),
            _ => Err(c.violations()),
        }
    }

    /// Held (awarded), as opposed to being worked towards.
    pub fn is_held(&self) -> bool {
        self.status == RouteStatus::Holds
    }

    /// Whether this is a held qualified teacher status (QTS itself, or QTLS, which confers it).
    pub fn confers_qts(&self) -> bool {
        self.is_held() && matches!(self.kind, StatusType::Qts | StatusType::Qtls)
    }
}

/// One period of induction with an appropriate body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InductionPeriod {
    pub appropriate_body: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub terms: u8,
}

/// Statutory induction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Induction {
    pub status: InductionStatus,
    pub start: Option<NaiveDate>,
    pub completed: Option<NaiveDate>,
    pub exemption_reasons: Vec<ExemptionReason>,
    pub periods: Vec<InductionPeriod>,
}

impl Default for Induction {
    fn default() -> Self {
        Self {
            status: InductionStatus::None,
            start: None,
            completed: None,
            exemption_reasons: Vec::new(),
            periods: Vec::new(),
        }
    }
}

/// The most terms one induction period can count.
const MAX_TERMS: i32 = 15;

impl Induction {
    pub fn parse(
        parent: &str,
        input: &pb::Induction,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut c = Checker::new(parent, today);
        let status = c.choice("status", InductionStatus::from_proto(input.status));
        let start = c.date("start_date", &input.start_date);
        let completed = c.date("completed_date", &input.completed_date);
        c.not_before("start_date", start, EARLIEST_INDUCTION_START);
        c.ordered("completed_date", start, completed);
        if let Some(status) = status {
            let (start_use, completed_use) = Self::date_use(status);
            let why = "for this induction status";
            c.presence(
                "start_date",
                !input.start_date.trim().is_empty(),
                start_use,
                why,
            );
            c.presence(
                "completed_date",
                !input.completed_date.trim().is_empty(),
                completed_use,
                why,
            );
            let exempt = status == InductionStatus::Exempt;
            if exempt && input.exemption_reasons.is_empty() {
                c.fail("exemption_reasons", "needs at least one reason when exempt");
            }
            if !exempt && !input.exemption_reasons.is_empty() {
                c.fail(
                    "exemption_reasons",
                    "must be empty unless the status is exempt",
                );
            }
        }
        let mut exemption_reasons = Vec::new();
        for (i, &reason) in input.exemption_reasons.iter().enumerate() {
            match ExemptionReason::from_proto(reason) {
                Some(reason) if !exemption_reasons.contains(&reason) => {
                    exemption_reasons.push(reason);
                }
                Some(_) => {}
                None => c.fail(
                    &format!("exemption_reasons[{i}]"),
                    "must be one of the defined reasons",
                ),
            }
        }
        let periods = input
            .periods
            .iter()
            .enumerate()
            .filter_map(|(i, period)| InductionPeriod::check(&mut c, i, period))
            .collect();
        match status {
            Some(status) if c.is_ok() => Ok(Self {
                status,
                start,
                completed,
                exemption_reasons,
                periods,
            }),
            _ => Err(c.violations()),
        }
    }

    /// Which dates a status needs: (start, completion).
    fn date_use(status: InductionStatus) -> (Use, Use) {
        match status {
            InductionStatus::None
            | InductionStatus::RequiredToComplete
            | InductionStatus::Exempt => (Use::Forbidden, Use::Forbidden),
            InductionStatus::InProgress => (Use::Required, Use::Forbidden),
            InductionStatus::Passed | InductionStatus::Failed | InductionStatus::FailedInWales => {
                (Use::Required, Use::Required)
            }
        }
    }

    /// Whether the status needs the teacher to hold QTS (every status but none and exempt).
    pub fn requires_qts(&self) -> bool {
        !matches!(self.status, InductionStatus::None | InductionStatus::Exempt)
    }

    /// Checks the induction against the record's statuses: `Err` names `<parent>.status`.
    pub fn check_against(
        &self,
        parent: &str,
        statuses: &[ProfessionalStatus],
    ) -> Result<(), FieldViolation> {
        if self.requires_qts() && !statuses.iter().any(ProfessionalStatus::confers_qts) {
            return Err(FieldViolation::new(
                format!("{parent}.status"),
                "needs qualified teacher status on the record",
            ));
        }
        Ok(())
    }

    /// The induction that follows the award of `status`, when the award decides it: QTS or
    /// QTLS first held makes induction required, or exempt where the route gives the reason.
    pub fn after_award(&self, status: &ProfessionalStatus) -> Option<Self> {
        if self.status != InductionStatus::None || !status.confers_qts() {
            return None;
        }
        let exempt_reason = match (status.exempt_from_induction, status.route) {
            (Some(false), _) => None,
            (Some(true), Route::QtlsSetMembership) => Some(ExemptionReason::Qtls),
            (Some(true), Route::OverseasTrained) => Some(ExemptionReason::OverseasTrainedTeacher),
            (Some(true), _) | (None, _) => return None,
        };
        Some(match exempt_reason {
            Some(reason) => Self {
                status: InductionStatus::Exempt,
                exemption_reasons: vec![reason],
                ..Self::default()
            },
            None => Self {
                status: InductionStatus::RequiredToComplete,
                ..Self::default()
            },
        })
    }
}

impl InductionPeriod {
    fn check(c: &mut Checker<'_>, i: usize, input: &pb::InductionPeriod) -> Option<Self> {
        let field = |name: &str| format!("periods[{i}].{name}");
        let appropriate_body = c.text(
            &field("appropriate_body"),
            &input.appropriate_body,
            MAX_TEXT,
            false,
        );
        if appropriate_body.is_empty() {
            c.fail(&field("appropriate_body"), "is required");
        }
        let start = c.date(&field("start_date"), &input.start_date);
        c.presence(
            &field("start_date"),
            !input.start_date.trim().is_empty(),
            Use::Required,
            "for every period",
        );
        c.not_before(&field("start_date"), start, EARLIEST_INDUCTION_START);
        let end = c.date(&field("end_date"), &input.end_date);
        c.ordered(&field("end_date"), start, end);
        let terms = u8::try_from(input.terms)
            .ok()
            .filter(|&t| i32::from(t) <= MAX_TERMS);
        if terms.is_none() {
            c.fail(&field("terms"), format!("must be from 0 to {MAX_TERMS}"));
        }
        Some(Self {
            appropriate_body,
            start: start?,
            end,
            terms: terms?,
        })
    }
}

/// An awarded National Professional Qualification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Npq {
    pub kind: NpqType,
    pub awarded: NaiveDate,
}

impl NpqType {
    /// The earliest date this NPQ can have been awarded: the reformed NPQs from November 2021,
    /// those that existed before the reform from 1997.
    pub fn earliest_award(self) -> NaiveDate {
        match self {
            Self::Npqh | Self::Npqsl | Self::Npqml | Self::Npqel => FIRST_NPQ,
            Self::Npqlt
            | Self::Npqltd
            | Self::Npqlbc
            | Self::Npqll
            | Self::Npqeyl
            | Self::Npqsenco
            | Self::Npqlpm => REFORMED_NPQ_START,
        }
    }
}

impl Npq {
    pub fn parse(
        parent: &str,
        input: &pb::NpqQualification,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut c = Checker::new(parent, today);
        let kind = c.choice("type", NpqType::from_proto(input.r#type));
        let awarded = c.date("awarded_date", &input.awarded_date);
        c.presence(
            "awarded_date",
            !input.awarded_date.trim().is_empty(),
            Use::Required,
            "for an NPQ",
        );
        if let Some(kind) = kind {
            c.not_before("awarded_date", awarded, kind.earliest_award());
        }
        match (kind, awarded) {
            (Some(kind), Some(awarded)) if c.is_ok() => Ok(Self { kind, awarded }),
            _ => Err(c.violations()),
        }
    }
}

/// A mandatory qualification for teaching pupils with sensory impairment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mq {
    pub specialism: MqSpecialism,
    pub status: MqStatus,
    pub provider: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

impl Mq {
    pub fn parse(
        parent: &str,
        input: &pb::MandatoryQualification,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut c = Checker::new(parent, today);
        let specialism = c.choice("specialism", MqSpecialism::from_proto(input.specialism));
        let status = c.choice("status", MqStatus::from_proto(input.status));
        let provider = c.text("provider", &input.provider, MAX_TEXT, false);
        if provider.is_empty() {
            c.fail("provider", "is required");
        }
        let start = c.date("start_date", &input.start_date);
        c.presence(
            "start_date",
            !input.start_date.trim().is_empty(),
            Use::Required,
            "for a mandatory qualification",
        );
        let end = c.date("end_date", &input.end_date);
        c.ordered("end_date", start, end);
        if let Some(status) = status {
            let usage = match status {
                MqStatus::Passed | MqStatus::Failed => Use::Required,
                MqStatus::Withdrawn => Use::Optional,
                MqStatus::InProgress | MqStatus::Deferred | MqStatus::Extended => Use::Forbidden,
            };
            c.presence(
                "end_date",
                !input.end_date.trim().is_empty(),
                usage,
                "for this status",
            );
        }
        match (specialism, status, start) {
            (Some(specialism), Some(status), Some(start)) if c.is_ok() => Ok(Self {
                specialism,
                status,
                provider,
                start,
                end,
            }),
            _ => Err(c.violations()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    fn fields(result: Result<impl std::fmt::Debug, Vec<FieldViolation>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|v| v.field).collect()
    }

    fn qts(status: pb::RouteStatus, awarded: &str, exempt: Option<bool>) -> pb::ProfessionalStatus {
        pb::ProfessionalStatus {
            r#type: pb::ProfessionalStatusType::Qts.into(),
            route: pb::Route::HigherEducation.into(),
            status: status.into(),
            awarded_date: awarded.into(),
            exempt_from_induction: exempt,
        }
    }

    fn held_qts() -> Vec<ProfessionalStatus> {
        vec![
            ProfessionalStatus::parse(
                "s",
                &qts(pb::RouteStatus::Holds, "2012-06-30", Some(false)),
                today(),
            )
            .unwrap(),
        ]
    }

    #[test]
    fn a_held_status_needs_its_date_and_induction_answer() {
        assert!(
            ProfessionalStatus::parse(
                "s",
                &qts(pb::RouteStatus::Holds, "2012-06-30", Some(false)),
                today()
            )
            .is_ok()
        );
        assert_eq!(
            fields(ProfessionalStatus::parse(
                "s",
                &qts(pb::RouteStatus::Holds, "", None),
                today()
            )),
            ["s.awarded_date", "s.exempt_from_induction"]
        );
        assert_eq!(
            fields(ProfessionalStatus::parse(
                "s",
                &qts(pb::RouteStatus::InTraining, "2012-06-30", Some(true)),
                today()
            )),
            ["s.awarded_date", "s.exempt_from_induction"]
        );
        assert_eq!(
            fields(ProfessionalStatus::parse(
                "s",
                &qts(pb::RouteStatus::Holds, "2099-01-01", Some(false)),
                today()
            )),
            ["s.awarded_date"]
        );
    }

    #[test]
    fn a_status_names_every_missing_choice_and_mismatched_route() {
        assert_eq!(
            fields(ProfessionalStatus::parse(
                "s",
                &pb::ProfessionalStatus::default(),
                today()
            )),
            ["s.type", "s.route", "s.status"]
        );
        let qtls_by_hei = pb::ProfessionalStatus {
            r#type: pb::ProfessionalStatusType::Qtls.into(),
            ..qts(pb::RouteStatus::InTraining, "", None)
        };
        assert_eq!(
            fields(ProfessionalStatus::parse("s", &qtls_by_hei, today())),
            ["s.route"]
        );
        let welsh_eyts = pb::ProfessionalStatus {
            r#type: pb::ProfessionalStatusType::Eyts.into(),
            route: pb::Route::WelshRecognition.into(),
            ..qts(pb::RouteStatus::InTraining, "", None)
        };
        assert_eq!(
            fields(ProfessionalStatus::parse("s", &welsh_eyts, today())),
            ["s.route"]
        );
    }

    fn induction(status: pb::InductionStatus, start: &str, completed: &str) -> pb::Induction {
        pb::Induction {
            status: status.into(),
            start_date: start.into(),
            completed_date: completed.into(),
            ..Default::default()
        }
    }

    #[test]
    fn induction_dates_follow_the_status() {
        use pb::InductionStatus as S;
        let ok = |i: pb::Induction| Induction::parse("induction", &i, today()).is_ok();
        let bad = |i: pb::Induction| fields(Induction::parse("induction", &i, today()));
        assert!(ok(induction(S::Passed, "2012-09-03", "2013-07-19")));
        assert!(ok(induction(S::InProgress, "2025-09-01", "")));
        assert!(ok(induction(S::RequiredToComplete, "", "")));
        assert!(ok(induction(S::None, "", "")));
        assert_eq!(
            bad(induction(S::Passed, "2012-09-03", "")),
            ["induction.completed_date"]
        );
        assert_eq!(
            bad(induction(S::Failed, "", "2013-07-19")),
            ["induction.start_date"]
        );
        assert_eq!(
            bad(induction(S::FailedInWales, "", "")),
            ["induction.start_date", "induction.completed_date"]
        );
        assert_eq!(
            bad(induction(S::InProgress, "", "")),
            ["induction.start_date"]
        );
        assert_eq!(
            bad(induction(S::InProgress, "2025-09-01", "2026-01-01")),
            ["induction.completed_date"]
        );
        assert_eq!(
            bad(induction(S::RequiredToComplete, "2025-09-01", "")),
            ["induction.start_date"]
        );
        assert_eq!(bad(induction(S::Unspecified, "", "")), ["induction.status"]);
    }

    #[test]
    fn induction_starts_no_earlier_than_may_1999_and_ends_after_it_starts() {
        use pb::InductionStatus as S;
        let bad = |i: pb::Induction| fields(Induction::parse("induction", &i, today()));
        assert!(
            Induction::parse(
                "induction",
                &induction(S::Passed, "1999-05-07", "2000-05-07"),
                today()
            )
            .is_ok()
        );
        assert_eq!(
            bad(induction(S::Passed, "1999-05-06", "2000-05-07")),
            ["induction.start_date"]
        );
        assert_eq!(
            bad(induction(S::Passed, "2013-09-03", "2012-07-19")),
            ["induction.completed_date"]
        );
        assert_eq!(
            bad(induction(S::Passed, "2025-09-03", "2027-07-19")),
            ["induction.completed_date"]
        );
    }

    #[test]
    fn exemption_needs_a_reason_and_only_exemption_has_reasons() {
        use pb::InductionStatus as S;
        let exempt = induction(S::Exempt, "", "");
        assert_eq!(
            fields(Induction::parse("induction", &exempt, today())),
            ["induction.exemption_reasons"]
        );
        let with_reason = pb::Induction {
            exemption_reasons: vec![
                pb::InductionExemptionReason::PassedInWales.into(),
                pb::InductionExemptionReason::PassedInWales.into(),
            ],
            ..exempt
        };
        let parsed = Induction::parse("induction", &with_reason, today()).unwrap();
        assert_eq!(
            parsed.exemption_reasons,
            [ExemptionReason::PassedInWales],
            "duplicates fold"
        );
        let passed_with_reason = pb::Induction {
            exemption_reasons: vec![pb::InductionExemptionReason::Qtls.into()],
            ..induction(S::Passed, "2012-09-03", "2013-07-19")
        };
        assert_eq!(
            fields(Induction::parse("induction", &passed_with_reason, today())),
            ["induction.exemption_reasons"]
        );
        let unknown_reason = pb::Induction {
            exemption_reasons: vec![99],
            ..induction(S::Exempt, "", "")
        };
        assert_eq!(
            fields(Induction::parse("induction", &unknown_reason, today())),
            ["induction.exemption_reasons[0]"]
        );
    }

    #[test]
    fn induction_periods_are_checked_one_by_one() {
        let input = pb::Induction {
            periods: vec![
                pb::InductionPeriod {
                    appropriate_body: "Leeds City Council".into(),
                    start_date: "2012-09-03".into(),
                    end_date: "2013-07-19".into(),
                    terms: 3,
                },
                pb::InductionPeriod {
                    appropriate_body: " ".into(),
                    start_date: "1998-09-01".into(),
                    end_date: "1997-01-01".into(),
                    terms: -1,
                },
            ],
            ..induction(pb::InductionStatus::Passed, "2012-09-03", "2013-07-19")
        };
        assert_eq!(
            fields(Induction::parse("induction", &input, today())),
            [
                "induction.periods[1].appropriate_body",
                "induction.periods[1].start_date",
                "induction.periods[1].end_date",
                "induction.periods[1].terms",
            ]
        );
    }

    #[test]
    fn every_induction_status_but_none_and_exempt_needs_qts() {
        let in_progress = Induction::parse(
            "induction",
            &induction(pb::InductionStatus::InProgress, "2025-09-01", ""),
            today(),
        )
        .unwrap();
        assert_eq!(
            in_progress
                .check_against("induction", &[])
                .unwrap_err()
                .field,
            "induction.status"
        );
        assert!(in_progress.check_against("induction", &held_qts()).is_ok());
        let training = vec![
            ProfessionalStatus::parse("s", &qts(pb::RouteStatus::InTraining, "", None), today())
                .unwrap(),
        ];
        assert!(
            in_progress.check_against("induction", &training).is_err(),
            "QTS in training is not QTS"
        );
        let exempt = Induction {
            status: InductionStatus::Exempt,
            exemption_reasons: vec![ExemptionReason::RegisteredInScotland],
            ..Induction::default()
        };
        assert!(exempt.check_against("induction", &[]).is_ok());
        assert!(Induction::default().check_against("induction", &[]).is_ok());
    }

    #[test]
    fn a_first_qts_makes_induction_required_or_exempt_by_route() {
        let none = Induction::default();
        let awarded = held_qts().remove(0);
        assert_eq!(
            none.after_award(&awarded).unwrap().status,
            InductionStatus::RequiredToComplete
        );
        let qtls = ProfessionalStatus {
            kind: StatusType::Qtls,
            route: Route::QtlsSetMembership,
            exempt_from_induction: Some(true),
            ..awarded.clone()
        };
        let exempt = none.after_award(&qtls).unwrap();
        assert_eq!(
            (exempt.status, exempt.exemption_reasons),
            (InductionStatus::Exempt, vec![ExemptionReason::Qtls])
        );
        let passed = Induction {
            status: InductionStatus::Passed,
            ..Induction::default()
        };
        assert_eq!(
            passed.after_award(&awarded),
            None,
            "a decided induction stays"
        );
        let eyts = ProfessionalStatus {
            kind: StatusType::Eyts,
            ..awarded
        };
        assert_eq!(none.after_award(&eyts), None);
    }

    #[test]
    fn npq_dates_respect_the_reform_and_today() {
        let npq = |kind: pb::NpqType, date: &str| pb::NpqQualification {
            r#type: kind.into(),
            awarded_date: date.into(),
            ..Default::default()
        };
        assert!(Npq::parse("npq", &npq(pb::NpqType::Npqlbc, "2021-11-01"), today()).is_ok());
        assert_eq!(
            fields(Npq::parse(
                "npq",
                &npq(pb::NpqType::Npqlbc, "2021-10-31"),
                today()
            )),
            ["npq.awarded_date"]
        );
        assert!(Npq::parse("npq", &npq(pb::NpqType::Npqh, "2005-07-01"), today()).is_ok());
        assert_eq!(
            fields(Npq::parse(
                "npq",
                &npq(pb::NpqType::Npqh, "2027-01-01"),
                today()
            )),
            ["npq.awarded_date"]
        );
        assert_eq!(
            fields(Npq::parse("npq", &npq(pb::NpqType::Npqh, ""), today())),
            ["npq.awarded_date"]
        );
        assert_eq!(
            fields(Npq::parse(
                "npq",
                &npq(pb::NpqType::Unspecified, "2022-01-01"),
                today()
            )),
            ["npq.type"]
        );
    }

    #[test]
    fn mandatory_qualification_end_date_follows_the_status() {
        let mq = |status: pb::MqStatus, end: &str| pb::MandatoryQualification {
            specialism: pb::MqSpecialism::Hearing.into(),
            status: status.into(),
            provider: "University of Leeds".into(),
            start_date: "2019-09-01".into(),
            end_date: end.into(),
            ..Default::default()
        };
        assert!(Mq::parse("m", &mq(pb::MqStatus::Passed, "2021-07-01"), today()).is_ok());
        assert!(Mq::parse("m", &mq(pb::MqStatus::Withdrawn, ""), today()).is_ok());
        assert_eq!(
            fields(Mq::parse("m", &mq(pb::MqStatus::Passed, ""), today())),
            ["m.end_date"]
        );
        assert_eq!(
            fields(Mq::parse(
                "m",
                &mq(pb::MqStatus::InProgress, "2021-07-01"),
                today()
            )),
            ["m.end_date"]
        );
        assert_eq!(
            fields(Mq::parse(
                "m",
                &mq(pb::MqStatus::Failed, "2018-07-01"),
                today()
            )),
            ["m.end_date"]
        );
        let nothing = pb::MandatoryQualification::default();
        assert_eq!(
            fields(Mq::parse("m", &nothing, today())),
            ["m.specialism", "m.status", "m.provider", "m.start_date"]
        );
    }
}
