//! The life of an article as a table: who may move it from where to where.
//! Writers (a district officer, for their area's stories) take a draft to
//! review and back; only the Department publishes and archives.

use super::model::ArticleStatus::{self, *};
use crate::platform::error::Failure;

/// Who is making a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Editor {
    /// A district officer writing about their area.
    Writer,
    /// The Department (admin): may make every move.
    Department,
}

/// (from, to, the least editor who may make the move)
const MOVES: &[(ArticleStatus, ArticleStatus, Editor)] = &[
    (Draft, Review, Editor::Writer),
    (Review, Draft, Editor::Writer),
    (Review, Published, Editor::Department),
    (Draft, Archived, Editor::Department),
    (Review, Archived, Editor::Department),
    (Published, Archived, Editor::Department),
];

/// May `editor` move an article from `from` to `to`? 409 for a move the
/// workflow does not have, 403 for a move that is the Department's.
pub fn check(from: ArticleStatus, to: ArticleStatus, editor: Editor) -> Result<(), Failure> {
    match MOVES.iter().find(|(f, t, _)| *f == from && *t == to) {
        None => Err(Failure::conflict(format!(
            "a {from} article cannot become {to} (draft → review → published → archived)"
        ))),
        Some((_, _, Editor::Department)) if editor == Editor::Writer => Err(Failure::forbidden(
            "publishing and archiving are the Department's (admin)",
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_transition_table() {
        use Editor::{Department as D, Writer as W};
        // (from, to, editor, allowed?, refused as forbidden rather than conflict?)
        let cases = [
            (Draft, Review, W, true, false),
            (Review, Draft, W, true, false),
            (Review, Published, W, false, true),
            (Review, Published, D, true, false),
            (Published, Archived, D, true, false),
            (Published, Archived, W, false, true),
            (Draft, Published, D, false, false),
            (Archived, Published, D, false, false),
            (Archived, Draft, D, false, false),
            (Published, Draft, D, false, false),
            (Draft, Archived, D, true, false),
        ];
        for (from, to, editor, allowed, forbidden) in cases {
            let result = check(from, to, editor);
            assert_eq!(result.is_ok(), allowed, "{from} → {to} by {editor:?}");
            if let Err(failure) = result {
                let text = format!("{failure:?}");
                assert_eq!(
                    text.contains("Forbidden"),
                    forbidden,
                    "{from} → {to}: {text}"
                );
            }
        }
    }
}
