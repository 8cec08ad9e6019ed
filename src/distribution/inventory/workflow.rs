//! The life of a device (and of a data-package or licence stock line), as
//! one table: which moves exist, the movement each writes to the stock
//! ledger, and who makes it — a warehouse by hand, or the distribution code
//! (allocations and handovers). Every status change of stock passes
//! [`check_move`], so a move outside the table cannot be written.

use crate::distribution::inventory::model::{ItemStatus, Movement};
use crate::platform::error::Failure;

/// Who makes a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// A warehouse, through `POST /inventory/items/{id}/transitions`.
    Warehouse,
    /// Allocations (reserve, release) and handovers (hand over, return).
    Distribution,
}

/// Every legal move.
const MOVES: &[(ItemStatus, ItemStatus, Movement, By)] = {
    use By::*;
    use ItemStatus::*;
    use Movement::{
        Adjustment, Handover, Release, Reserve, Return, TransferIn, TransferOut, WriteOff,
    };
    &[
        // Checked (and wiped) before it may reach a child.
        (Intake, Ready, Adjustment, Warehouse),
        (Returned, Ready, Adjustment, Warehouse),
        (Returned, Intake, Adjustment, Warehouse),
        // Between warehouses.
        (Ready, InTransit, TransferOut, Warehouse),
        (InTransit, Ready, TransferIn, Warehouse),
        // Lost, damaged, stolen or beyond repair: with a reason.
        (Intake, WrittenOff, WriteOff, Warehouse),
        (Ready, WrittenOff, WriteOff, Warehouse),
        (Returned, WrittenOff, WriteOff, Warehouse),
        (InTransit, WrittenOff, WriteOff, Warehouse),
        // Distribution.
        (Ready, Reserved, Reserve, Distribution),
        (Reserved, Ready, Release, Distribution),
        (Reserved, HandedOver, Handover, Distribution),
        (HandedOver, Returned, Return, Distribution),
    ]
};

/// May stock move from `from` to `to`, written as `movement`? A move outside
/// the table is refused (409): the record is not in the state the move
/// needs.
pub fn check_move(from: ItemStatus, to: ItemStatus, movement: Movement) -> Result<(), Failure> {
    if MOVES
        .iter()
        .any(|(f, t, m, _)| *f == from && *t == to && *m == movement)
    {
        Ok(())
    } else {
        Err(Failure::conflict(format!(
            "stock that is {from} cannot become {to} by {movement}"
        )))
    }
}

/// The movement a warehouse's own transition from `from` to `to` writes,
/// or a refusal naming why (reserving and handing over go through
/// allocations and handovers).
pub fn by_hand(from: ItemStatus, to: ItemStatus) -> Result<Movement, Failure> {
    MOVES
        .iter()
        .find(|(f, t, _, by)| *f == from && *t == to && *by == By::Warehouse)
        .map(|(_, _, movement, _)| *movement)
        .ok_or_else(|| {
            Failure::conflict(format!(
                "a {from} device cannot become {to} here; reserving and handing over go through allocations and handovers"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::ItemStatus::*;
    use super::Movement::{Adjustment, Handover, Release, Reserve, Return, TransferOut, WriteOff};
    use super::*;

    #[test]
    fn the_move_table() {
        // (from, to, movement, legal)
        let cases = [
            (Ready, Reserved, Reserve, true),
            (Reserved, Ready, Release, true),
            (Reserved, HandedOver, Handover, true),
            (HandedOver, Returned, Return, true),
            (Intake, Ready, Adjustment, true),
            (Ready, InTransit, TransferOut, true),
            // Only ready stock is reserved; nothing is handed over unreserved.
            (Intake, Reserved, Reserve, false),
            (Ready, HandedOver, Handover, false),
            (InTransit, Reserved, Reserve, false),
            // A handed-over or written-off device goes nowhere but back.
            (HandedOver, Ready, Release, false),
            (WrittenOff, Ready, Adjustment, false),
            (WrittenOff, Intake, Adjustment, false),
            // The right edge written as the wrong movement.
            (Ready, Reserved, Adjustment, false),
        ];
        for (from, to, movement, legal) in cases {
            assert_eq!(
                check_move(from, to, movement).is_ok(),
                legal,
                "{from} -> {to} by {movement}"
            );
        }
    }

    #[test]
    fn warehouses_do_not_reserve_or_hand_over_by_hand() {
        assert_eq!(by_hand(Intake, Ready).ok(), Some(Adjustment));
        assert_eq!(by_hand(Ready, InTransit).ok(), Some(TransferOut));
        assert_eq!(by_hand(InTransit, WrittenOff).ok(), Some(WriteOff));
        for (from, to) in [
            (Ready, Reserved),
            (Reserved, HandedOver),
            (HandedOver, Returned),
            (Reserved, Ready),
            (WrittenOff, Ready),
        ] {
            let refusal = by_hand(from, to).unwrap_err();
            assert!(matches!(refusal, Failure::Conflict(_)), "{from} -> {to}");
        }
    }
}
