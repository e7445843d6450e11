//! The record's closed vocabularies: each stored as a short text and exchanged as the
//! `dqt.portal.v1` enum of the same variant names.

use dqt_proto::dqt::portal::v1 as pb;

/// Defines a domain enum whose variants are named as in the proto enum, with its stored text.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident => $proto:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &[Self] = &[$(Self::$variant),+];

            /// The text stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// From the stored text; `None` for anything else.
            pub fn from_stored(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }

            /// From the wire value; `None` for unspecified or unknown values.
            pub fn from_proto(value: i32) -> Option<Self> {
                match pb::$proto::try_from(value).ok()? {
                    $(pb::$proto::$variant => Some(Self::$variant),)+
                    _ => None,
                }
            }

            pub fn to_proto(self) -> pb::$proto {
                match self { $(Self::$variant => pb::$proto::$variant),+ }
            }
        }
    };
}

vocabulary! {
    /// The kind of professional status.
    StatusType => ProfessionalStatusType {
        Qts = "qts",
        Eyts = "eyts",
        Eyps = "eyps",
        Qtls = "qtls",
        Pqts = "pqts",
    }
}

vocabulary! {
    /// The route by which a professional status is reached.
    Route => Route {
        AssessmentOnly = "assessment_only",
        HigherEducation = "higher_education",
        SchoolCentred = "school_centred",
        TeacherDegreeApprenticeship = "teacher_degree_apprenticeship",
        OverseasTrained = "overseas_trained",
        WelshRecognition = "welsh_recognition",
        QtlsSetMembership = "qtls_set_membership",
        Other = "other",
    }
}

vocabulary! {
    /// What initial teacher training led to.
    DegreeType => DegreeType {
        BachelorsWithQts = "bachelors_with_qts",
        PostgraduateCertificate = "postgraduate_certificate",
        ProfessionalGraduateCertificate = "professional_graduate_certificate",
        PostgraduateDiploma = "postgraduate_diploma",
        TeacherDegreeApprenticeship = "teacher_degree_apprenticeship",
        NoAcademicAward = "no_academic_award",
        Other = "other",
    }
}

vocabulary! {
    /// QTLS, held through SET membership.
    QtlsStatus => QtlsStatus {
        None = "none",
        Active = "active",
        Expired = "expired",
    }
}

vocabulary! {
    /// Where a request for a TRN stands.
    TrnRequestStatus => TrnRequestStatus {
        Completed = "completed",
        PendingReview = "pending_review",
    }
}

vocabulary! {
    /// Where a lost-TRN case stands. (A search not yet matched is no case: the store keeps it
    /// as `received`.)
    TrnCaseStatus => TrnCaseStatus {
        Open = "open",
        Resolved = "resolved",
    }
}

vocabulary! {
    /// What an event of the change feed says changed.
    ChangeEventType => ChangeEventType {
        TeacherCreated = "teacher.created",
        TeacherUpdated = "teacher.updated",
        ProfessionalStatusAdded = "professional_status.added",
        InductionUpdated = "induction.updated",
        QualificationAdded = "qualification.added",
        AlertAdded = "alert.added",
        AlertUpdated = "alert.updated",
        AlertClosed = "alert.closed",
        AlertDeleted = "alert.deleted",
        QtlsUpdated = "qtls.updated",
        TeacherDeactivated = "teacher.deactivated",
        TeacherMerged = "teacher.merged",
        TeacherDeceased = "teacher.deceased",
        TrnRequestCompleted = "trn_request.completed",
        ChangeRequestApproved = "change_request.approved",
        ChangeRequestRejected = "change_request.rejected",
    }
}

vocabulary! {
    /// Where the person is on a route.
    RouteStatus => RouteStatus {
        InTraining = "in_training",
        UnderAssessment = "under_assessment",
        Deferred = "deferred",
        Failed = "failed",
        Withdrawn = "withdrawn",
        Holds = "holds",
    }
}

vocabulary! {
    /// Statutory induction status.
    InductionStatus => InductionStatus {
        None = "none",
        RequiredToComplete = "required_to_complete",
        Exempt = "exempt",
        InProgress = "in_progress",
        Passed = "passed",
        Failed = "failed",
        FailedInWales = "failed_in_wales",
    }
}

vocabulary! {
    /// Why a teacher is exempt from induction.
    ExemptionReason => InductionExemptionReason {
        QualifiedBefore2000 = "qualified_before_2000",
        PassedInNorthernIreland = "passed_in_northern_ireland",
        PassedInWales = "passed_in_wales",
        PassedInJersey = "passed_in_jersey",
        PassedInGuernsey = "passed_in_guernsey",
        PassedInIsleOfMan = "passed_in_isle_of_man",
        PassedInGibraltar = "passed_in_gibraltar",
        RegisteredInScotland = "registered_in_scotland",
        Qtls = "qtls",
        OverseasTrainedTeacher = "overseas_trained_teacher",
        DataLossOrSystemError = "data_loss_or_system_error",
    }
}

vocabulary! {
    /// A National Professional Qualification.
    NpqType => NpqType {
        Npqh = "npqh",
        Npqsl = "npqsl",
        Npqml = "npqml",
        Npqel = "npqel",
        Npqlt = "npqlt",
        Npqltd = "npqltd",
        Npqlbc = "npqlbc",
        Npqll = "npqll",
        Npqeyl = "npqeyl",
        Npqsenco = "npqsenco",
        Npqlpm = "npqlpm",
    }
}

vocabulary! {
    /// Mandatory qualification specialism.
    MqSpecialism => MqSpecialism {
        Hearing = "hearing",
        Visual = "visual",
        MultiSensory = "multi_sensory",
    }
}

vocabulary! {
    /// Mandatory qualification status.
    MqStatus => MqStatus {
        InProgress = "in_progress",
        Passed = "passed",
        Deferred = "deferred",
        Extended = "extended",
        Failed = "failed",
        Withdrawn = "withdrawn",
    }
}

vocabulary! {
    /// Whether a record is in use.
    PersonStatus => PersonStatus {
        Active = "active",
        Deactivated = "deactivated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_survives_storage_and_the_wire() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            stored: impl Fn(T) -> &'static str,
            from_stored: impl Fn(&str) -> Option<T>,
            wire: impl Fn(T) -> i32,
            from_wire: impl Fn(i32) -> Option<T>,
        ) {
            for &value in all {
                assert_eq!(from_stored(stored(value)), Some(value));
                assert_eq!(from_wire(wire(value)), Some(value));
            }
            assert_eq!(from_wire(0), None, "unspecified is no value");
            assert_eq!(from_stored("nonsense"), None);
        }
        macro_rules! check {
            ($($t:ident),+) => {$(
                check($t::ALL, $t::as_str, $t::from_stored, |v| $t::to_proto(v) as i32, $t::from_proto);
            )+};
        }
        check!(
            StatusType,
            Route,
            RouteStatus,
            InductionStatus,
            ExemptionReason,
            NpqType,
            MqSpecialism,
            MqStatus,
            PersonStatus
        );
    }
}
