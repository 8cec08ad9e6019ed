//! The life of a pledge, as one table: which transitions exist and what
//! makes them. Receipts move a pledge between pledged, partly received and
//! received (a reversal moves it back); a person closes it (cancelled or
//! lapsed), and a closed pledge stays closed — a later reversal of one of
//! its receipts changes what it received, never reopens it.

use crate::donations::pledges::model::PledgeStatus;
use crate::platform::error::Failure;

/// What moves a pledge along an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A receipt recorded against it, or the reversal of one.
    Receipts,
    /// Someone closing it (`POST /pledges/{id}/close`).
    Closing,
}

/// Every legal transition.
const TRANSITIONS: &[(PledgeStatus, PledgeStatus, Cause)] = {
    use Cause::*;
    use PledgeStatus::*;
    &[
        (Pledged, PartlyReceived, Receipts),
        (Pledged, Received, Receipts),
        (PartlyReceived, Received, Receipts),
        // Reversals: a receipt recorded in error is taken back.
        (PartlyReceived, Pledged, Receipts),
        (Received, PartlyReceived, Receipts),
        (Received, Pledged, Receipts),
        (Pledged, Cancelled, Closing),
        (Pledged, Lapsed, Closing),
        (PartlyReceived, Cancelled, Closing),
        (PartlyReceived, Lapsed, Closing),
    ]
};

impl PledgeStatus {
    /// Still expecting money or goods: receipts may be recorded against it
    /// and it may be closed.
    pub fn is_open(self) -> bool {
        matches!(self, PledgeStatus::Pledged | PledgeStatus::PartlyReceived)
    }

    /// Closed by someone; receipts are refused and reversals leave it closed.
    pub fn is_closed(self) -> bool {
        matches!(self, PledgeStatus::Cancelled | PledgeStatus::Lapsed)
    }
}

/// The states a person may close a pledge to.
pub fn closing_states() -> Vec<PledgeStatus> {
    let mut states: Vec<PledgeStatus> = TRANSITIONS
        .iter()
        .filter(|(_, _, cause)| *cause == Cause::Closing)
        .map(|(_, to, _)| *to)
        .collect();
    states.dedup();
    states.sort_by_key(|s| s.as_str());
    states.dedup();
    states
}

/// May `cause` take a pledge from `from` to `to`? Staying put is always
/// allowed (a receipt that does not change the status).
pub fn check(from: PledgeStatus, to: PledgeStatus, cause: Cause) -> Result<(), Failure> {
    let legal = from == to
        || TRANSITIONS
            .iter()
            .any(|(f, t, c)| *f == from && *t == to && *c == cause);
    if legal {
        Ok(())
    } else {
        Err(Failure::conflict(format!(
            "a {from} pledge cannot become {to}"
        )))
    }
}

/// The status receipts give a pledge that has `received` of `promised`
/// (money in VND, goods in units). A closed pledge keeps its status.
pub fn after_receipts(current: PledgeStatus, received: i64, promised: i64) -> PledgeStatus {
    if current.is_closed() {
        return current;
    }
    if received >= promised {
        PledgeStatus::Received
    } else if received > 0 {
        PledgeStatus::PartlyReceived
    } else {
        PledgeStatus::Pledged
    }
}

#[cfg(test)]
mod tests {
    use super::Cause::*;
    use super::PledgeStatus::*;
    use super::*;

    #[test]
    fn the_transition_table() {
        // (from, to, cause, legal)
        let cases = [
            (Pledged, PartlyReceived, Receipts, true),
            (Pledged, Received, Receipts, true),
            (PartlyReceived, Received, Receipts, true),
            (Received, PartlyReceived, Receipts, true),
            (Received, Pledged, Receipts, true),
            (PartlyReceived, Pledged, Receipts, true),
            (Pledged, Cancelled, Closing, true),
            (PartlyReceived, Lapsed, Closing, true),
            // A received pledge is done: nothing closes it.
            (Received, Cancelled, Closing, false),
            (Received, Lapsed, Closing, false),
            // Closed is final, whatever arrives.
            (Cancelled, Pledged, Receipts, false),
            (Cancelled, PartlyReceived, Receipts, false),
            (Lapsed, Received, Receipts, false),
            (Cancelled, Lapsed, Closing, false),
            // Receipts never close a pledge; people never make it received.
            (Pledged, Cancelled, Receipts, false),
            (Pledged, Received, Closing, false),
            (Pledged, Pledged, Closing, true),
        ];
        for (from, to, cause, legal) in cases {
            let outcome = check(from, to, cause);
            assert_eq!(outcome.is_ok(), legal, "{from} -> {to} by {cause:?}");
            if let Err(failure) = outcome {
                assert!(matches!(failure, Failure::Conflict(_)), "{failure}");
            }
        }
    }

    #[test]
    fn receipts_derive_the_status_and_leave_a_closed_pledge_closed() {
        assert_eq!(after_receipts(Pledged, 0, 10), Pledged);
        assert_eq!(after_receipts(Pledged, 3, 10), PartlyReceived);
        assert_eq!(after_receipts(PartlyReceived, 10, 10), Received);
        assert_eq!(after_receipts(Received, 12, 10), Received);
        // A reversal takes a received pledge back.
        assert_eq!(after_receipts(Received, 4, 10), PartlyReceived);
        assert_eq!(after_receipts(PartlyReceived, 0, 10), Pledged);
        // A reversal against a cancelled or lapsed pledge does not reopen it.
        assert_eq!(after_receipts(Cancelled, 0, 10), Cancelled);
        assert_eq!(after_receipts(Lapsed, 2, 10), Lapsed);
        // Every derived move is one the table allows.
        for from in [Pledged, PartlyReceived, Received, Cancelled, Lapsed] {
            for received in [0, 5, 10, 11] {
                let to = after_receipts(from, received, 10);
                assert!(check(from, to, Receipts).is_ok(), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn people_close_to_cancelled_or_lapsed() {
        assert_eq!(closing_states(), vec![Cancelled, Lapsed]);
    }
}
