//! The audit log: every change to a record, and every read of it by anyone but its teacher, is
//! an event naming its actor, action and time. The actions are a closed set; a teacher sees the
//! employer checks among them as the checks of their record.

use chrono::{DateTime, Utc};

/// What an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    TeacherCreate,
    TeacherSeed,
    TeacherRead,
    TeacherUpdate,
    TeacherAddProfessionalStatus,
    TeacherSetInduction,
    TeacherAddQualification,
    TeacherAddAlert,
    TeacherCloseAlert,
    TeacherUpdateAlert,
    TeacherDeleteAlert,
    TeacherSetDeceased,
    TeacherSetQtls,
    TrnRequestCreate,
    TrnRequestResolve,
    TeacherUpdateContactDetails,
    TeacherConfirmEmail,
    AuditList,
    ChangeRequestCreate,
    ChangeRequestList,
    ChangeRequestApprove,
    ChangeRequestReject,
    ChangeRequestReadEvidence,
    /// An employer check by TRN and date of birth that matched.
    EmployerCheck,
    /// An employer search by surname and date of birth that found the record.
    EmployerFind,
    /// A query of an employer's bulk check that matched.
    EmployerBulkCheck,
    /// An employer check or search that matched nobody (kept as a fingerprint only).
    EmployerNoMatch,
    /// An employer started watching the record (a check that matched).
    EmployerWatch,
    /// An employer stopped watching the record.
    EmployerUnwatch,
    /// The record was shown in an employer's list of watched teachers.
    EmployerWatchList,
    /// A change to the record was delivered to an employer watching it.
    EmployerWatchDelivery,
    /// A lost-TRN search matched the record alone: its TRN was emailed to the address given.
    TrnSearchAnswer,
    /// A lost-TRN search was kept as a case for DfE staff.
    TrnCaseOpen,
    /// Lost-TRN cases, with the details people gave, were listed.
    TrnCaseList,
    /// A lost-TRN case was resolved (with the record's TRN, or as no match).
    TrnCaseResolve,
    /// A resolved case's details were deleted at the end of their retention.
    TrnCaseDelete,
    /// A GOV.UK One Login account was linked to the record (details: how it was proved).
    OneLoginLink,
    /// The record's One Login link was removed.
    OneLoginUnlink,
}

/// How an organisation checked a teacher's record, as the teacher is shown it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordCheckKind {
    Check,
    Find,
    BulkCheck,
    Watch,
}

impl AuditAction {
    pub const ALL: [AuditAction; 38] = [
        Self::TeacherCreate,
        Self::TeacherSeed,
        Self::TeacherRead,
        Self::TeacherUpdate,
        Self::TeacherAddProfessionalStatus,
        Self::TeacherSetInduction,
        Self::TeacherAddQualification,
        Self::TeacherAddAlert,
        Self::TeacherCloseAlert,
        Self::TeacherUpdateAlert,
        Self::TeacherDeleteAlert,
        Self::TeacherSetDeceased,
        Self::TeacherSetQtls,
        Self::TrnRequestCreate,
        Self::TrnRequestResolve,
        Self::TeacherUpdateContactDetails,
        Self::TeacherConfirmEmail,
        Self::AuditList,
        Self::ChangeRequestCreate,
        Self::ChangeRequestList,
        Self::ChangeRequestApprove,
        Self::ChangeRequestReject,
        Self::ChangeRequestReadEvidence,
        Self::EmployerCheck,
        Self::EmployerFind,
        Self::EmployerBulkCheck,
        Self::EmployerNoMatch,
        Self::EmployerWatch,
        Self::EmployerUnwatch,
        Self::EmployerWatchList,
        Self::EmployerWatchDelivery,
        Self::TrnSearchAnswer,
        Self::TrnCaseOpen,
        Self::TrnCaseList,
        Self::TrnCaseResolve,
        Self::TrnCaseDelete,
        Self::OneLoginLink,
        Self::OneLoginUnlink,
    ];

    /// The action's name in the log and the API, such as `teacher.update`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TeacherCreate => "teacher.create",
            Self::TeacherSeed => "teacher.seed",
            Self::TeacherRead => "teacher.read",
            Self::TeacherUpdate => "teacher.update",
            Self::TeacherAddProfessionalStatus => "teacher.add_professional_status",
            Self::TeacherSetInduction => "teacher.set_induction",
            Self::TeacherAddQualification => "teacher.add_qualification",
            Self::TeacherAddAlert => "teacher.add_alert",
            Self::TeacherCloseAlert => "teacher.close_alert",
            Self::TeacherUpdateAlert => "teacher.update_alert",
            Self::TeacherDeleteAlert => "teacher.delete_alert",
            Self::TeacherSetDeceased => "teacher.set_deceased",
            Self::TeacherSetQtls => "teacher.set_qtls",
            Self::TrnRequestCreate => "trn_request.create",
            Self::TrnRequestResolve => "trn_request.resolve",
            Self::TeacherUpdateContactDetails => "teacher.update_contact_details",
            Self::TeacherConfirmEmail => "teacher.confirm_email",
            Self::AuditList => "audit.list",
            Self::ChangeRequestCreate => "change_request.create",
            Self::ChangeRequestList => "change_request.list",
            Self::ChangeRequestApprove => "change_request.approve",
            Self::ChangeRequestReject => "change_request.reject",
            Self::ChangeRequestReadEvidence => "change_request.read_evidence",
            Self::EmployerCheck => "employer.check",
            Self::EmployerFind => "employer.find",
            Self::EmployerBulkCheck => "employer.bulk_check",
            Self::EmployerNoMatch => "employer.no_match",
            Self::EmployerWatch => "employer.watch",
            Self::EmployerUnwatch => "employer.unwatch",
            Self::EmployerWatchList => "employer.watch_list",
            Self::EmployerWatchDelivery => "employer.watch_delivery",
            Self::TrnSearchAnswer => "trn_search.answer",
            Self::TrnCaseOpen => "trn_case.open",
            Self::TrnCaseList => "trn_case.list",
            Self::TrnCaseResolve => "trn_case.resolve",
            Self::TrnCaseDelete => "trn_case.delete",
            Self::OneLoginLink => "one_login.link",
            Self::OneLoginUnlink => "one_login.unlink",
        }
    }

    /// The action named `name` in the log.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == name)
    }

    /// How the teacher is shown this action, when it is a check of their record.
    pub fn record_check(self) -> Option<RecordCheckKind> {
        match self {
            Self::EmployerCheck => Some(RecordCheckKind::Check),
            Self::EmployerFind => Some(RecordCheckKind::Find),
            Self::EmployerBulkCheck => Some(RecordCheckKind::BulkCheck),
            Self::EmployerWatch => Some(RecordCheckKind::Watch),
            _ => None,
        }
    }

    /// The actions a teacher sees as checks of their record.
    pub fn record_checks() -> impl Iterator<Item = Self> {
        Self::ALL
            .into_iter()
            .filter(|action| action.record_check().is_some())
    }
}

/// One event of the audit log, as it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub time: DateTime<Utc>,
    /// A client id, `teacher`, or a component's name.
    pub actor: String,
    /// The action's name as written (an action of today, or one from before it was renamed).
    pub action: String,
    pub trn: Option<String>,
    pub request_id: String,
    pub on_behalf_of: Option<String>,
    /// What more the action keeps (a removed alert and the reason given).
    pub details: Option<String>,
}

impl AuditEvent {
    /// How the teacher is shown it, when it is a check of their record.
    pub fn record_check(&self) -> Option<RecordCheckKind> {
        AuditAction::parse(&self.action).and_then(AuditAction::record_check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_back_from_their_names_and_four_are_record_checks() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::record_checks().count(), 4);
        assert_eq!(AuditAction::EmployerNoMatch.record_check(), None);
        assert_eq!(
            AuditAction::EmployerBulkCheck.record_check(),
            Some(RecordCheckKind::BulkCheck)
        );
    }
}
