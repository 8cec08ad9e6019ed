//! The life of a need, as one table: which transitions exist and who may
//! make them. Everything else asks [`check`].

use crate::platform::auth::Role;
use crate::platform::db::text_enum;

text_enum! {
    pub enum NeedStatus {
        /// Reported by a school or officer, or generated from the student records.
        Reported => "reported",
        /// A district officer confirmed the gap is real.
        Verified => "verified",
        /// Approved for support; waits for an allocation.
        Approved => "approved",
        /// Something was reserved for it (set by allocations only).
        Allocated => "allocated",
        /// Handed over (set by handovers only).
        Fulfilled => "fulfilled",
        Rejected => "rejected",
        Cancelled => "cancelled",
    }
}

impl NeedStatus {
    /// States in which a need still counts as open.
    pub const OPEN: [NeedStatus; 4] = [
        NeedStatus::Reported,
        NeedStatus::Verified,
        NeedStatus::Approved,
        NeedStatus::Allocated,
    ];

    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }
}

/// Who makes a transition: a person through the API, or the distribution
/// code (allocations and handovers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mover {
    Person(Role),
    Distribution,
}

/// Who may move a need along one edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    Officers,
    OfficersAndSchoolStaff,
    DistributionOnly,
}

/// Every legal transition.
const TRANSITIONS: &[(NeedStatus, NeedStatus, Allowed)] = {
    use Allowed::*;
    use NeedStatus::*;
    &[
        (Reported, Verified, Officers),
        (Verified, Approved, Officers),
        (Approved, Allocated, DistributionOnly),
        (Allocated, Fulfilled, DistributionOnly),
        // An allocation cancelled: the need waits for another one.
        (Allocated, Approved, DistributionOnly),
        (Reported, Rejected, Officers),
        (Verified, Rejected, Officers),
        (Approved, Rejected, Officers),
        (Allocated, Rejected, Officers),
        (Reported, Cancelled, OfficersAndSchoolStaff),
        (Verified, Cancelled, OfficersAndSchoolStaff),
        (Approved, Cancelled, OfficersAndSchoolStaff),
        (Allocated, Cancelled, OfficersAndSchoolStaff),
    ]
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such edge (or one only the distribution code may take): 409.
    Illegal { allowed: Vec<NeedStatus> },
    /// The edge exists but not for this role: 403.
    Forbidden,
    /// Rejecting and cancelling need a reason: 422.
    ReasonRequired,
}

/// The states reachable from `from` through the API.
pub fn next_states(from: NeedStatus) -> Vec<NeedStatus> {
    TRANSITIONS
        .iter()
        .filter(|(f, _, who)| *f == from && *who != Allowed::DistributionOnly)
        .map(|(_, to, _)| *to)
        .collect()
}

/// May `mover` take the need from `from` to `to` (with this reason)?
pub fn check(
    from: NeedStatus,
    to: NeedStatus,
    mover: Mover,
    reason: Option<&str>,
) -> Result<(), Refusal> {
    let edge = TRANSITIONS
        .iter()
        .find(|(f, t, _)| *f == from && *t == to)
        .map(|(_, _, who)| *who);
    let permitted = match (edge, mover) {
        (None, _) | (Some(Allowed::DistributionOnly), Mover::Person(_)) => {
            return Err(Refusal::Illegal {
                allowed: next_states(from),
            })
        }
        (Some(Allowed::DistributionOnly), Mover::Distribution) => true,
        (Some(_), Mover::Distribution) => false,
        (Some(Allowed::Officers), Mover::Person(role)) => {
            matches!(role, Role::Admin | Role::DistrictOfficer)
        }
        (Some(Allowed::OfficersAndSchoolStaff), Mover::Person(role)) => {
            matches!(
                role,
                Role::Admin | Role::DistrictOfficer | Role::SchoolStaff
            )
        }
    };
    if !permitted {
        return Err(Refusal::Forbidden);
    }
    let needs_reason = matches!(to, NeedStatus::Rejected | NeedStatus::Cancelled);
    if needs_reason && reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(Refusal::ReasonRequired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::NeedStatus::*;
    use super::*;

    const OFFICER: Mover = Mover::Person(Role::DistrictOfficer);
    const ADMIN: Mover = Mover::Person(Role::Admin);
    const STAFF: Mover = Mover::Person(Role::SchoolStaff);
    const DONOR: Mover = Mover::Person(Role::Donor);

    /// (from, to, who, reason, expected)
    type Case = (
        NeedStatus,
        NeedStatus,
        Mover,
        Option<&'static str>,
        Result<(), Refusal>,
    );

    #[test]
    fn the_transition_table() {
        let why = Some("duplicate of another report");
        let cases: Vec<Case> = vec![
            (Reported, Verified, OFFICER, None, Ok(())),
            (Reported, Verified, ADMIN, None, Ok(())),
            (Reported, Verified, STAFF, None, Err(Refusal::Forbidden)),
            (Reported, Verified, DONOR, None, Err(Refusal::Forbidden)),
            (Verified, Approved, OFFICER, None, Ok(())),
            (
                Reported,
                Approved,
                OFFICER,
                None,
                Err(Refusal::Illegal {
                    allowed: vec![Verified, Rejected, Cancelled],
                }),
            ),
            (
                Approved,
                Allocated,
                ADMIN,
                None,
                Err(Refusal::Illegal {
                    allowed: vec![Rejected, Cancelled],
                }),
            ),
            (Approved, Allocated, Mover::Distribution, None, Ok(())),
            (Allocated, Fulfilled, Mover::Distribution, None, Ok(())),
            (Allocated, Approved, Mover::Distribution, None, Ok(())),
            (
                Allocated,
                Approved,
                ADMIN,
                None,
                Err(Refusal::Illegal {
                    allowed: vec![Rejected, Cancelled],
                }),
            ),
            (
                Reported,
                Verified,
                Mover::Distribution,
                None,
                Err(Refusal::Forbidden),
            ),
            (Verified, Rejected, OFFICER, why, Ok(())),
            (
                Verified,
                Rejected,
                OFFICER,
                None,
                Err(Refusal::ReasonRequired),
            ),
            (
                Verified,
                Rejected,
                OFFICER,
                Some("  "),
                Err(Refusal::ReasonRequired),
            ),
            (Verified, Rejected, STAFF, why, Err(Refusal::Forbidden)),
            (Reported, Cancelled, STAFF, why, Ok(())),
            (Allocated, Cancelled, ADMIN, why, Ok(())),
            (
                Cancelled,
                Approved,
                ADMIN,
                None,
                Err(Refusal::Illegal { allowed: vec![] }),
            ),
            (
                Fulfilled,
                Cancelled,
                ADMIN,
                why,
                Err(Refusal::Illegal { allowed: vec![] }),
            ),
            (
                Rejected,
                Reported,
                ADMIN,
                None,
                Err(Refusal::Illegal { allowed: vec![] }),
            ),
        ];
        for (from, to, mover, reason, expected) in cases {
            assert_eq!(
                check(from, to, mover, reason),
                expected,
                "{from} → {to} by {mover:?}"
            );
        }
    }

    #[test]
    fn open_states() {
        assert!(Allocated.is_open());
        assert!(!Fulfilled.is_open() && !Rejected.is_open() && !Cancelled.is_open());
    }
}
