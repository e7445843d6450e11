//! Professional statuses, induction, NPQs and mandatory qualifications, with the rules each
//! must satisfy on its own and against the record it joins.

use chrono::NaiveDate;
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::FieldViolation;

use super::enums::{
    DegreeType, ExemptionReason, InductionStatus, MqSpecialism, MqStatus, NpqType, QtlsStatus,
    Route, RouteStatus, StatusType,
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
    /// The initial teacher training behind it, when recorded.
    pub training: Option<Training>,
}

/// A subject of initial teacher training: its HECoS code and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingSubject {
    pub code: String,
    pub name: String,
}

/// Initial teacher training: provider, subjects, ages, dates, award and country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Training {
    pub provider_name: String,
    pub provider_ukprn: Option<String>,
    /// At most [`Training::MAX_SUBJECTS`].
    pub subjects: Vec<TrainingSubject>,
    /// Youngest and oldest age trained for, 0 to 19.
    pub age_range: Option<(u8, u8)>,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub degree_type: Option<DegreeType>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
}

/// ISO 3166-1 alpha-2 codes in use, two letters each.
const COUNTRIES: &str = "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZ\
CACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGN\
GPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULV\
LYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPT\
PWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUS\
UYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";

fn is_country(code: &str) -> bool {
    code.len() == 2
        && code.bytes().all(|b| b.is_ascii_uppercase())
        && COUNTRIES
            .as_bytes()
            .chunks(2)
            .any(|pair| pair == code.as_bytes())
}

impl Training {
    pub const MAX_SUBJECTS: usize = 3;

    pub fn parse(
        parent: &str,
        input: &pb::InitialTeacherTraining,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut c = Checker::new(parent, today);
        let provider_name = c.text("provider_name", &input.provider_name, MAX_TEXT, false);
        if provider_name.is_empty() {
            c.fail("provider_name", "is required");
        }
        let ukprn = input.provider_ukprn.trim();
        let ukprn_ok = ukprn.len() == 8 && ukprn.bytes().all(|b| b.is_ascii_digit());
        if !ukprn.is_empty() && !ukprn_ok {
            c.fail("provider_ukprn", "must be 8 digits");
        }
        if input.subjects.len() > Self::MAX_SUBJECTS {
            c.fail("subjects", "at most 3 subjects");
        }
        let mut subjects = Vec::new();
        for (i, subject) in input.subjects.iter().enumerate().take(Self::MAX_SUBJECTS) {
            let code = subject.code.trim();
            if !(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())) {
                c.fail(
                    &format!("subjects[{i}].code"),
                    "must be a 6-digit HECoS code",
                );
            }
            let name = c.text(
                &format!("subjects[{i}].name"),
                &subject.name,
                MAX_TEXT,
                false,
            );
            if name.is_empty() {
                c.fail(&format!("subjects[{i}].name"), "is required");
            }
            subjects.push(TrainingSubject {
                code: code.to_owned(),
                name,
            });
        }
        let age = |value: Option<i32>| value.map(|v| u8::try_from(v).ok().filter(|v| *v <= 19));
        let age_range = match (age(input.age_range_from), age(input.age_range_to)) {
            (None, None) => None,
            (Some(Some(from)), Some(Some(to))) if from <= to => Some((from, to)),
            (Some(Some(_)), Some(Some(_))) => {
                c.fail("age_range_to", "must not be below age_range_from");
                None
            }
            (from, to) => {
                for (field, value) in [("age_range_from", from), ("age_range_to", to)] {
                    if !matches!(value, Some(Some(_))) {
                        c.fail(
                            field,
                            "must be an age from 0 to 19, given with the other end of the range",
                        );
                    }
                }
                None
            }
        };
        let start = c.date("start_date", &input.start_date);
        // A course may end after today: the end date is not held to the past.
        let end = if input.end_date.trim().is_empty() {
            None
        } else {
            let end = portal_common::values::parse_date("end_date", &input.end_date).ok();
            if end.is_none() {
                c.fail("end_date", "must be a date, YYYY-MM-DD");
            }
            end
        };
        c.ordered("end_date", start, end);
        let degree_type = if input.degree_type == 0 {
            None
        } else {
            let degree = DegreeType::from_proto(input.degree_type);
            if degree.is_none() {
                c.fail("degree_type", "must be a degree type");
            }
            degree
        };
        let country = input.country.trim();
        if !country.is_empty() && !is_country(country) {
            c.fail("country", "must be an ISO 3166-1 alpha-2 code such as GB");
        }
        if !c.is_ok() {
            return Err(c.violations());
        }
        Ok(Self {
            provider_name,
            provider_ukprn: (!ukprn.is_empty()).then(|| ukprn.to_owned()),
            subjects,
            age_range,
            start,
            end,
            degree_type,
            country: (!country.is_empty()).then(|| country.to_owned()),
        })
    }

    pub fn to_proto(&self) -> pb::InitialTeacherTraining {
        let date = |d: Option<NaiveDate>| {
            d.map(portal_common::values::format_date)
                .unwrap_or_default()
        };
        pb::InitialTeacherTraining {
            provider_name: self.provider_name.clone(),
            provider_ukprn: self.provider_ukprn.clone().unwrap_or_default(),
            subjects: self
                .subjects
                .iter()
                .map(|s| pb::TrainingSubject {
                    code: s.code.clone(),
                    name: s.name.clone(),
                })
                .collect(),
            age_range_from: self.age_range.map(|(from, _)| i32::from(from)),
            age_range_to: self.age_range.map(|(_, to)| i32::from(to)),
            start_date: date(self.start),
            end_date: date(self.end),
            degree_type: self.degree_type.map_or(0, |d| d.to_proto().into()),
            country: self.country.clone().unwrap_or_default(),
        }
    }
}

/// A teacher's QTLS: its status and when it was awarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qtls {
    pub status: QtlsStatus,
    pub awarded: Option<NaiveDate>,
}

impl Default for Qtls {
    fn default() -> Self {
        Self {
            status: QtlsStatus::None,
            awarded: None,
        }
    }
}

impl Qtls {
    /// A SetQtlsStatus request: NONE without a date, ACTIVE and EXPIRED with the award date.
    pub fn parse(
        input: &pb::SetQtlsStatusRequest,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut c = Checker::new("", today);
        let status = c.choice("qtls_status", QtlsStatus::from_proto(input.qtls_status));
        let awarded = c.date("awarded_date", &input.awarded_date);
        if let Some(status) = status {
            let (usage, why) = if status == QtlsStatus::None {
                (Use::Forbidden, "without QTLS")
            } else {
                (Use::Required, "for QTLS active or expired")
            };
            c.presence(
                "awarded_date",
                !input.awarded_date.trim().is_empty(),
                usage,
                why,
            );
        }
        match status {
            Some(status) if c.is_ok() => Ok(Self { status, awarded }),
            _ => Err(c.violations()),
        }
    }

    /// QTLS with SET membership active: it confers QTS and exempts from induction.
    pub fn is_active(self) -> bool {
        self.status == QtlsStatus::Active
    }
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
            (Some(kind), Some(route), Some(status)) if c.is_ok() => {
                let training = input
                    .training
                    .as_ref()
                    .map(|training| Training::parse(&c.path("training"), training, today))
                    .transpose()?;
                Ok(Self {
                    kind,
                    route,
                    status,
                    awarded,
                    exempt_from_induction: input.exempt_from_induction,
                    training,
                })
            }
            _ => Err(c.violations()),
        }
    }

    /// Held (awarded), as opposed to being worked towards.
    pub fn is_held(&self) -> bool {
        self.status == RouteStatus::Holds
    }

    /// Whether this is a held qualified teacher status: QTS itself, or QTLS, which confers it
    /// only while SET membership is active (`qtls`).
    pub fn confers_qts(&self, qtls: Qtls) -> bool {
        self.is_held()
            && match self.kind {
                StatusType::Qts => true,
                StatusType::Qtls => qtls.is_active(),
                _ => false,
            }
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
        qtls: Qtls,
    ) -> Result<(), FieldViolation> {
        let qts = qtls.is_active() || statuses.iter().any(|s| s.confers_qts(qtls));
        if self.requires_qts() && !qts {
            return Err(FieldViolation::new(
                format!("{parent}.status"),
                "needs qualified teacher status on the record",
            ));
        }
        Ok(())
    }

    /// The induction that follows the award of `status`, when the award decides it: QTS or
    /// QTLS first held makes induction required, or exempt where the route gives the reason.
    pub fn after_award(&self, status: &ProfessionalStatus, qtls: Qtls) -> Option<Self> {
        if self.status != InductionStatus::None || !status.confers_qts(qtls) {
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

    #[test]
    fn training_is_checked_part_by_part() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let good = pb::InitialTeacherTraining {
            provider_name: "University of Leeds".into(),
            provider_ukprn: "10007795".into(),
            subjects: vec![pb::TrainingSubject {
                code: "100403".into(),
                name: "mathematics".into(),
            }],
            age_range_from: Some(0),
            age_range_to: Some(19),
            start_date: "2025-09-01".into(),
            // A course may end after today.
            end_date: "2027-06-30".into(),
            degree_type: pb::DegreeType::TeacherDegreeApprenticeship.into(),
            country: "GB".into(),
        };
        let training = Training::parse("t", &good, today).unwrap();
        assert_eq!(training.to_proto(), good);
        let only_a_provider = pb::InitialTeacherTraining {
            provider_name: "SCITT".into(),
            ..Default::default()
        };
        assert_eq!(
            Training::parse("t", &only_a_provider, today)
                .unwrap()
                .to_proto(),
            only_a_provider
        );
        let fields = |input: pb::InitialTeacherTraining| -> Vec<String> {
            Training::parse("t", &input, today)
                .unwrap_err()
                .into_iter()
                .map(|v| v.field)
                .collect()
        };
        assert_eq!(
            fields(pb::InitialTeacherTraining {
                age_range_to: None,
                ..good.clone()
            }),
            ["t.age_range_to"]
        );
        assert_eq!(
            fields(pb::InitialTeacherTraining {
                age_range_to: Some(20),
                ..good.clone()
            }),
            ["t.age_range_to"]
        );
        assert_eq!(
            fields(pb::InitialTeacherTraining {
                country: "gb".into(),
                ..good.clone()
            }),
            ["t.country"]
        );
        assert_eq!(
            fields(pb::InitialTeacherTraining {
                country: "UK".into(),
                ..good.clone()
            }),
            ["t.country"]
        );
        assert_eq!(
            fields(pb::InitialTeacherTraining {
                degree_type: 99,
                ..good.clone()
            }),
            ["t.degree_type"]
        );
        assert_eq!(
            fields(pb::InitialTeacherTraining {
                start_date: "2028-01-01".into(),
                ..good
            }),
            ["t.start_date"]
        );
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    fn fields(result: Result<impl std::fmt::Debug, Vec<FieldViolation>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|v| v.field).collect()
    }

    fn qts(status: pb::RouteStatus, awarded: &str, exempt: Option<bool>) -> pb::ProfessionalStatus {
        pb::ProfessionalStatus {
            training: None,
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
                .check_against("induction", &[], Qtls::default())
                .unwrap_err()
                .field,
            "induction.status"
        );
        assert!(
            in_progress
                .check_against("induction", &held_qts(), Qtls::default())
                .is_ok()
        );
        let training = vec![
            ProfessionalStatus::parse("s", &qts(pb::RouteStatus::InTraining, "", None), today())
                .unwrap(),
        ];
        assert!(
            in_progress
                .check_against("induction", &training, Qtls::default())
                .is_err(),
            "QTS in training is not QTS"
        );
        let exempt = Induction {
            status: InductionStatus::Exempt,
            exemption_reasons: vec![ExemptionReason::RegisteredInScotland],
            ..Induction::default()
        };
        assert!(
            exempt
                .check_against("induction", &[], Qtls::default())
                .is_ok()
        );
        assert!(
            Induction::default()
                .check_against("induction", &[], Qtls::default())
                .is_ok()
        );
    }

    #[test]
    fn a_first_qts_makes_induction_required_or_exempt_by_route() {
        let none = Induction::default();
        let awarded = held_qts().remove(0);
        assert_eq!(
            none.after_award(&awarded, Qtls::default()).unwrap().status,
            InductionStatus::RequiredToComplete
        );
        let active = Qtls {
            status: QtlsStatus::Active,
            awarded: Some(NaiveDate::from_ymd_opt(2019, 1, 1).unwrap()),
        };
        let qtls = ProfessionalStatus {
            kind: StatusType::Qtls,
            route: Route::QtlsSetMembership,
            exempt_from_induction: Some(true),
            ..awarded.clone()
        };
        let exempt = none.after_award(&qtls, active).unwrap();
        assert_eq!(
            (exempt.status, exempt.exemption_reasons),
            (InductionStatus::Exempt, vec![ExemptionReason::Qtls])
        );
        let passed = Induction {
            status: InductionStatus::Passed,
            ..Induction::default()
        };
        assert_eq!(
            passed.after_award(&awarded, Qtls::default()),
            None,
            "a decided induction stays"
        );
        let eyts = ProfessionalStatus {
            kind: StatusType::Eyts,
            ..awarded
        };
        assert_eq!(none.after_award(&eyts, Qtls::default()), None);
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
