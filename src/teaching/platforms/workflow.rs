//! The review of a platform offer as a table: who may move it from where
//! to where. The partner submits, withdraws and resubmits after a refusal;
//! only the Department (admin) reviews, recommends or refuses.

use super::model::OfferStatus::{self, *};
use crate::platform::error::Failure;

/// Who is making a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reviewer {
    /// The technology partner whose offer it is.
    Partner,
    /// The Department (admin): may make every move.
    Department,
}

/// (from, to, the least reviewer who may make the move)
const MOVES: &[(OfferStatus, OfferStatus, Reviewer)] = &[
    (Proposed, UnderReview, Reviewer::Department),
    (UnderReview, Recommended, Reviewer::Department),
    (UnderReview, NotRecommended, Reviewer::Department),
    // A recommendation the Department takes back (a breach of the terms,
    // a safety problem found later).
    (Recommended, NotRecommended, Reviewer::Department),
    // Revised and sent again.
    (NotRecommended, Proposed, Reviewer::Partner),
    (Proposed, Withdrawn, Reviewer::Partner),
    (UnderReview, Withdrawn, Reviewer::Partner),
    (Recommended, Withdrawn, Reviewer::Partner),
    (NotRecommended, Withdrawn, Reviewer::Partner),
];

/// Moves that must say why.
pub fn needs_reason(to: OfferStatus) -> bool {
    matches!(to, NotRecommended | Withdrawn)
}

/// May `reviewer` move an offer from `from` to `to`? 409 for a move the
/// review does not have, 403 for a move that is the Department's.
pub fn check(from: OfferStatus, to: OfferStatus, reviewer: Reviewer) -> Result<(), Failure> {
    match MOVES.iter().find(|(f, t, _)| *f == from && *t == to) {
        None => Err(Failure::conflict(format!(
            "a {from} offer cannot become {to} (proposed → under_review → recommended | not_recommended; withdrawn)"
        ))),
        Some((_, _, Reviewer::Department)) if reviewer == Reviewer::Partner => Err(
            Failure::forbidden("reviewing offers is the Department's (admin)"),
        ),
        Some(_) => Ok(()),
    }
}

/// Whether the partner may still change the offer: before the review, or
/// after a refusal (to resubmit it).
pub fn editable(status: OfferStatus) -> bool {
    matches!(status, Proposed | NotRecommended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offer_review_table() {
        use Reviewer::{Department as D, Partner as P};
        // (from, to, reviewer, allowed?, refused as forbidden rather than conflict?)
        let cases = [
            (Proposed, UnderReview, P, false, true),
            (Proposed, UnderReview, D, true, false),
            (UnderReview, Recommended, P, false, true),
            (UnderReview, Recommended, D, true, false),
            (UnderReview, NotRecommended, D, true, false),
            (Recommended, NotRecommended, D, true, false),
            (NotRecommended, Proposed, P, true, false),
            (Recommended, Withdrawn, P, true, false),
            (Recommended, Withdrawn, D, true, false),
            (Proposed, Recommended, D, false, false),
            (Withdrawn, Proposed, P, false, false),
            (Withdrawn, Recommended, D, false, false),
            (NotRecommended, Recommended, D, false, false),
        ];
        for (from, to, reviewer, allowed, forbidden) in cases {
            let result = check(from, to, reviewer);
            assert_eq!(result.is_ok(), allowed, "{from} → {to} by {reviewer:?}");
            if let Err(failure) = result {
                let text = format!("{failure:?}");
                assert_eq!(
                    text.contains("Forbidden"),
                    forbidden,
                    "{from} → {to}: {text}"
                );
            }
        }
        assert!(needs_reason(NotRecommended) && needs_reason(Withdrawn));
        assert!(!needs_reason(Recommended) && !needs_reason(UnderReview));
        assert!(editable(Proposed) && editable(NotRecommended));
        assert!(!editable(UnderReview) && !editable(Recommended) && !editable(Withdrawn));
    }
}
