//! Disclosure control for public figures: no count of children between 1
//! and 4 is shown, and no such count can be worked out from the figures
//! that are shown.
//!
//! The figures of a public page form a tree of sums: the province's
//! students are the sum of its districts', a district's the sum of its
//! communes' (and of the schools directly under it). Primary suppression
//! shows every count from 1 to 4 as `"<5"`. That alone is not enough: where
//! a total and all but one of its parts are shown, the hidden part is the
//! difference. Secondary (complementary) suppression withholds further
//! cells (shown as `"x"`) until no hidden cell can be recovered.
//!
//! What a reader knows, and what the rule guarantees against it: the shown
//! numbers; that every node is the sum of its children; that a `"<5"` cell
//! is between 1 and 4; that an `"x"` cell is withheld (complementary cells
//! are chosen among counts of 5 or more where there are any, but a reader
//! is not told so: where every cell around is a `"<5"`, one of them is
//! withheld instead); that a cell not published at all is at least 0. Every hidden cell must then have at
//! least two values consistent with all of that. The rule ensures it by
//! finding, for every hidden cell, a change of ±1 that can be balanced by
//! other hidden cells in the same sums (a sibling moving the other way, or
//! a hidden parent moving the same way and balanced further up, with the
//! children of every moving cell following it down); where none exists it
//! withholds the smallest sibling of 6 or more (which can move either way),
//! or else the parent, and checks again. A property test builds random
//! trees and proves, by enumerating every consistent assignment, that no
//! hidden cell has a single possible value.

use serde::Serialize;

/// What the public sees of one count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicCount {
    /// The exact count.
    Exact(i64),
    /// Between 1 and 4 (primary suppression).
    FewerThanFive,
    /// Withheld so that a `"<5"` elsewhere cannot be worked out
    /// (secondary suppression); nothing is said of the count.
    Withheld,
}

impl PublicCount {
    /// The count when shown exactly.
    pub fn exact(self) -> Option<i64> {
        match self {
            PublicCount::Exact(n) => Some(n),
            _ => None,
        }
    }
}

impl Serialize for PublicCount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PublicCount::Exact(n) => serializer.serialize_i64(*n),
            PublicCount::FewerThanFive => serializer.serialize_str("<5"),
            PublicCount::Withheld => serializer.serialize_str("x"),
        }
    }
}

impl utoipa::PartialSchema for PublicCount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Int64,
                    )))
                    .minimum(Some(0)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["<5", "x"])),
            )
            .description(Some(
                "A count of children, needs or handovers: the number; `<5` when it is between 1 and 4; `x` when it is withheld so that a `<5` elsewhere cannot be worked out (nothing is said of its size).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for PublicCount {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("PublicCount")
    }
}

/// Small-number protection of one count that is not part of any published
/// sum: 1 to 4 become `"<5"`.
pub fn protect_alone(count: i64) -> PublicCount {
    if (1..5).contains(&count) {
        PublicCount::FewerThanFive
    } else {
        PublicCount::Exact(count)
    }
}

/// One node of a tree of sums: its count, its parent, and whether the page
/// publishes it at all (a node that is never published still constrains
/// its children and parent: it is their sum and a part of its parent's).
#[derive(Debug, Clone)]
pub struct Node {
    pub value: i64,
    pub parent: Option<usize>,
    pub published: bool,
}

/// A tree of counts where every node with children equals their sum.
#[derive(Debug, Clone, Default)]
pub struct SumTree {
    nodes: Vec<Node>,
    children: Vec<Vec<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Shown,
    Small,
    Withheld,
    Unpublished,
}

impl SumTree {
    /// Adds a node (parents before children) and returns its index.
    pub fn add(&mut self, value: i64, parent: Option<usize>, published: bool) -> usize {
        let index = self.nodes.len();
        self.nodes.push(Node {
            value,
            parent,
            published,
        });
        self.children.push(Vec::new());
        if let Some(parent) = parent {
            self.children[parent].push(index);
        }
        index
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// What the public may see of every node (unpublished nodes come back
    /// as their exact value; callers do not show them).
    pub fn protect(&self) -> Vec<PublicCount> {
        let mut states: Vec<State> = self
            .nodes
            .iter()
            .map(|n| match (n.published, n.value) {
                (false, _) => State::Unpublished,
                (true, 1..=4) => State::Small,
                _ => State::Shown,
            })
            .collect();
        // Withholding more cells only ever adds ways for a hidden cell to
        // move, so a cell found ambiguous stays so: each hidden cell is
        // checked until it is, and each cell withheld on the way is checked
        // in its turn. Every step withholds a shown cell, so this ends.
        let mut queue: std::collections::VecDeque<usize> = (0..self.nodes.len())
            .filter(|&i| is_hidden(states[i]))
            .collect();
        while let Some(cell) = queue.pop_front() {
            while !self.ambiguous(&states, cell) {
                let withheld = self.withhold_for(&mut states, cell);
                if withheld.is_empty() {
                    // Nothing shown is left around it: the tree is all hidden.
                    break;
                }
                queue.extend(withheld);
            }
        }
        self.nodes
            .iter()
            .zip(states)
            .map(|(node, state)| match state {
                State::Shown | State::Unpublished => PublicCount::Exact(node.value),
                State::Small => PublicCount::FewerThanFive,
                State::Withheld => PublicCount::Withheld,
            })
            .collect()
    }

    /// Whether node `i` may move by `d` within what a reader knows of it.
    fn can_shift(&self, states: &[State], i: usize, d: i64) -> bool {
        let v = self.nodes[i].value + d;
        match states[i] {
            State::Shown => false,
            State::Small => (1..=4).contains(&v),
            // A reader is told only that an `"x"` is withheld: any count.
            State::Withheld | State::Unpublished => v >= 0,
        }
    }

    /// Whether the children of `i` can follow a change of `d` of `i`.
    fn down(&self, states: &[State], i: usize, d: i64) -> bool {
        let children = &self.children[i];
        children.is_empty()
            || children
                .iter()
                .any(|&c| self.can_shift(states, c, d) && self.down(states, c, d))
    }

    /// Whether the sum `i` belongs to can absorb a change of `d` of `i`:
    /// a sibling moves the other way, or the parent moves the same way and
    /// its own sum absorbs that.
    fn up(&self, states: &[State], i: usize, d: i64) -> bool {
        let Some(parent) = self.nodes[i].parent else {
            return true;
        };
        let sibling = self.children[parent]
            .iter()
            .any(|&s| s != i && self.can_shift(states, s, -d) && self.down(states, s, -d));
        sibling || (self.can_shift(states, parent, d) && self.up(states, parent, d))
    }

    /// A hidden cell is ambiguous when it can move by one either way with
    /// every sum still holding.
    fn ambiguous(&self, states: &[State], i: usize) -> bool {
        [1, -1].into_iter().any(|d| {
            self.can_shift(states, i, d) && self.down(states, i, d) && self.up(states, i, d)
        })
    }

    /// Withholds more cells around `exposed`; returns them (none: nothing
    /// shown is left to withhold).
    fn withhold_for(&self, states: &mut [State], exposed: usize) -> Vec<usize> {
        let mut withheld = Vec::new();
        // A hidden cell whose children are all shown is their sum: hide one.
        if !self.children[exposed].is_empty()
            && [1, -1].iter().all(|&d| !self.down(states, exposed, d))
        {
            if let Some(child) = self.candidate(states, &self.children[exposed], None) {
                self.withhold(states, child, &mut withheld);
                return withheld;
            }
        }
        // Otherwise a sibling, else the parent; up the tree while the
        // parent is hidden already.
        let mut at = exposed;
        while let Some(parent) = self.nodes[at].parent {
            if let Some(sibling) = self.candidate(states, &self.children[parent], Some(at)) {
                self.withhold(states, sibling, &mut withheld);
                return withheld;
            }
            if states[parent] == State::Shown {
                states[parent] = State::Withheld;
                withheld.push(parent);
                return withheld;
            }
            at = parent;
        }
        // Nothing shown is left near it: every cell around is a `"<5"`, and
        // the number of them can still give the count away (a `"<5"` total
        // of four `"<5"` parts is 4, each part 1). Withhold a `"<5"` cell —
        // a child, else a sibling, else the cell itself — as `"x"`, which
        // tells the reader nothing of its size.
        let siblings = self.nodes[exposed]
            .parent
            .map(|p| self.children[p].as_slice())
            .unwrap_or_default();
        let small = self.children[exposed]
            .iter()
            .chain(siblings.iter().filter(|&&s| s != exposed))
            .chain(std::iter::once(&exposed))
            .copied()
            .find(|&i| states[i] == State::Small);
        if let Some(cell) = small {
            states[cell] = State::Withheld;
            withheld.push(cell);
        }
        withheld
    }

    /// The shown cell of `among` (but `except`) best withheld: the smallest
    /// of 6 or more (it can move either way), else the smallest of 5.
    fn candidate(&self, states: &[State], among: &[usize], except: Option<usize>) -> Option<usize> {
        let shown = among
            .iter()
            .copied()
            .filter(|&i| Some(i) != except && states[i] == State::Shown);
        let value = |i: &usize| self.nodes[*i].value;
        shown
            .clone()
            .filter(|i| value(i) >= 6)
            .min_by_key(|i| (value(i), *i))
            .or_else(|| shown.filter(|i| value(i) == 5).min_by_key(|i| *i))
    }

    /// Withholds `i`, and if its children would then give it away (all
    /// shown), one of them too, down the tree.
    fn withhold(&self, states: &mut [State], i: usize, withheld: &mut Vec<usize>) {
        states[i] = State::Withheld;
        withheld.push(i);
        let children = &self.children[i];
        if !children.is_empty() && children.iter().all(|&c| states[c] == State::Shown) {
            if let Some(child) = self.candidate(states, children, None) {
                self.withhold(states, child, withheld);
            }
        }
    }
}

fn is_hidden(state: State) -> bool {
    matches!(state, State::Small | State::Withheld)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The values each cell can take, given what the public sees: the
    /// shown counts, every node the sum of its children, `"<5"` between 1
    /// and 4, `"x"` and unpublished at least 0 (all capped at a
    /// bound, which can only make the reader stronger). Exact on trees: the
    /// sums a subtree can reach, then what the rest of the tree allows.
    fn possible_values(
        tree: &SumTree,
        shown: &[PublicCount],
    ) -> Vec<std::collections::BTreeSet<i64>> {
        use std::collections::BTreeSet;
        let n = tree.len();
        let bound: i64 = tree.nodes.iter().map(|x| x.value).max().unwrap_or(0) + 10;
        let domain = |i: usize| -> BTreeSet<i64> {
            if !tree.nodes[i].published {
                return (0..=bound).collect();
            }
            match shown[i] {
                PublicCount::FewerThanFive => (1..=4).collect(),
                PublicCount::Withheld => (0..=bound).collect(),
                PublicCount::Exact(v) => [v].into(),
            }
        };
        let plus = |a: &BTreeSet<i64>, b: &BTreeSet<i64>| -> BTreeSet<i64> {
            a.iter()
                .flat_map(|x| b.iter().map(move |y| x + y))
                .filter(|v| *v <= bound)
                .collect()
        };
        // Sums each subtree can reach (children after parents in index order).
        let mut below: Vec<BTreeSet<i64>> = vec![BTreeSet::new(); n];
        for i in (0..n).rev() {
            let own = domain(i);
            below[i] = if tree.children[i].is_empty() {
                own
            } else {
                let mut sums: BTreeSet<i64> = [0].into();
                for &c in &tree.children[i] {
                    sums = plus(&sums, &below[c]);
                }
                own.intersection(&sums).copied().collect()
            };
        }
        // What the rest of the tree allows each node to be.
        let mut outside: Vec<BTreeSet<i64>> = vec![BTreeSet::new(); n];
        for i in 0..n {
            match tree.nodes[i].parent {
                None => outside[i] = (0..=bound).collect(),
                Some(p) => {
                    let parent_values: BTreeSet<i64> =
                        outside[p].intersection(&below[p]).copied().collect();
                    let mut others: BTreeSet<i64> = [0].into();
                    for &s in tree.children[p].iter().filter(|&&s| s != i) {
                        others = plus(&others, &below[s]);
                    }
                    outside[i] = parent_values
                        .iter()
                        .flat_map(|x| others.iter().map(move |y| x - y))
                        .filter(|v| *v >= 0)
                        .collect();
                }
            }
        }
        (0..n)
            .map(|i| outside[i].intersection(&below[i]).copied().collect())
            .collect()
    }

    fn tree_of(shape: &[(Option<usize>, i64)]) -> SumTree {
        // Leaves carry values; inner nodes get the sum of their children.
        let mut tree = SumTree::default();
        for (parent, value) in shape {
            tree.add(*value, *parent, true);
        }
        for i in (0..tree.len()).rev() {
            if !tree.children[i].is_empty() {
                tree.nodes[i].value = tree.children[i].iter().map(|&c| tree.nodes[c].value).sum();
            }
        }
        tree
    }

    #[test]
    fn a_lone_small_part_under_a_shown_total_takes_a_sibling_with_it() {
        // Province 23 = district 3 + district 8 + district 12.
        let tree = tree_of(&[(None, 0), (Some(0), 3), (Some(0), 8), (Some(0), 12)]);
        let shown = tree.protect();
        assert_eq!(shown[0], PublicCount::Exact(23));
        assert_eq!(shown[1], PublicCount::FewerThanFive);
        assert_eq!(
            shown[2],
            PublicCount::Withheld,
            "the smallest sibling of 6 or more"
        );
        assert_eq!(shown[3], PublicCount::Exact(12));
    }

    #[test]
    fn counts_of_five_or_more_and_zeros_stand_when_nothing_is_small() {
        let tree = tree_of(&[(None, 0), (Some(0), 0), (Some(0), 5), (Some(0), 12)]);
        let shown = tree.protect();
        assert_eq!(
            shown,
            vec![
                PublicCount::Exact(17),
                PublicCount::Exact(0),
                PublicCount::Exact(5),
                PublicCount::Exact(12)
            ]
        );
    }

    #[test]
    fn two_small_parts_that_could_only_be_one_each_are_not_left_alone() {
        // 2 = 1 + 1 would give both away; so would 8 = 4 + 4.
        let tree = tree_of(&[(None, 0), (Some(0), 1), (Some(0), 1), (Some(0), 9)]);
        let shown = tree.protect();
        let seen = possible_values(&tree, &shown);
        for i in [1, 2] {
            assert!(seen[i].len() >= 2, "cell {i}: {:?} {:?}", shown, seen[i]);
        }
    }

    #[test]
    fn a_hidden_district_is_not_given_away_by_its_shown_communes() {
        // Province (31) → district A (3: communes 3, 0) and district B (28:
        // communes 10, 18). A is small; hiding B is not enough while B's
        // communes are shown: one of them must go too.
        let tree = tree_of(&[
            (None, 0),
            (Some(0), 0),
            (Some(0), 0),
            (Some(1), 3),
            (Some(1), 0),
            (Some(2), 10),
            (Some(2), 18),
        ]);
        let shown = tree.protect();
        let seen = possible_values(&tree, &shown);
        for (i, count) in shown.iter().enumerate() {
            if count.exact().is_none() {
                assert!(seen[i].len() >= 2, "cell {i} given away: {shown:?}");
            }
        }
    }

    /// Random trees of up to three levels (a root, 1 to 4 districts, each a
    /// leaf or 1 to 4 communes) with small counts, zeros included.
    fn random_tree() -> impl Strategy<Value = SumTree> {
        proptest::collection::vec((0i64..14, proptest::collection::vec(0i64..14, 0..5)), 1..5)
            .prop_map(|districts| {
                let mut shape: Vec<(Option<usize>, i64)> = vec![(None, 0)];
                for (own, communes) in &districts {
                    let district = shape.len();
                    shape.push((Some(0), *own));
                    for &value in communes {
                        shape.push((Some(district), value));
                    }
                }
                tree_of(&shape)
            })
    }

    #[test]
    fn a_lone_count_is_shown_at_0_and_from_5_and_hidden_from_1_to_4() {
        assert_eq!(protect_alone(0), PublicCount::Exact(0));
        for small in 1..=4 {
            assert_eq!(protect_alone(small), PublicCount::FewerThanFive);
        }
        assert_eq!(protect_alone(5), PublicCount::Exact(5));
    }

    #[test]
    fn only_an_exact_count_is_read_as_a_number() {
        assert_eq!(PublicCount::Exact(0).exact(), Some(0));
        assert_eq!(PublicCount::Exact(17).exact(), Some(17));
        assert_eq!(PublicCount::FewerThanFive.exact(), None);
        assert_eq!(PublicCount::Withheld.exact(), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        /// No suppressed cell can be derived from the published ones, no
        /// count from 1 to 4 is shown, and every shown count is exact.
        #[test]
        fn no_suppressed_cell_can_be_derived(tree in random_tree()) {
            let shown = tree.protect();
            let seen = possible_values(&tree, &shown);
            for (i, count) in shown.iter().enumerate() {
                let value = tree.nodes[i].value;
                match count {
                    PublicCount::Exact(v) => {
                        prop_assert_eq!(*v, value);
                        prop_assert!(!(1..5).contains(v), "a small count shown: {:?}", shown);
                    }
                    PublicCount::FewerThanFive => prop_assert!((1..5).contains(&value)),
                    // 5 or more, or a "<5" withheld where nothing else could be.
                    PublicCount::Withheld => prop_assert!(value >= 1),
                }
                if !matches!(count, PublicCount::Exact(_)) {
                    prop_assert!(seen[i].contains(&value));
                    prop_assert!(
                        seen[i].len() >= 2,
                        "cell {} ({}) can be worked out from {:?}: only {:?}",
                        i, value, shown, seen[i]
                    );
                }
            }
        }
    }
}
