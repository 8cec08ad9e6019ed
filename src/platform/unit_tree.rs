//! The administrative-unit tree, read from the database once per change
//! and shared by every request of the process.
//!
//! Scope checks (a district officer's units), `?admin_unit=` filters and
//! the statistics' grouping all walk this tree; reading its ten thousand
//! rows on each request was most of a whole-country statistic's time
//! (README "Benchmarks"). The tree changes only when units are imported
//! (the 2025 reform, a new province), so a copy is kept per process under
//! the database's *tree stamp*: a random word that a trigger renews in the
//! same transaction as any change to `admin_units` (migration 000022).
//! Each use reads the stamp (one indexed row) and reloads the tree when it
//! differs, so an import through any instance is seen by every instance on
//! its next request, and a rolled-back import never was. Two databases
//! with the same stamp (copies of one template) hold the same tree.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use diesel::prelude::*;

use crate::platform::db::schema::{admin_unit_tree_stamp, admin_units};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::Failure;

/// Deeper than any real tree: a longer walk is a parent loop in the data.
const MAX_DEPTH: usize = 8;
/// Trees kept at once (a process serving one database needs one; tests
/// start many databases in one process).
const KEPT: usize = 8;

/// One administrative unit.
#[derive(Debug, Clone)]
pub struct UnitNode {
    pub code: String,
    pub parent_code: Option<String>,
    /// `province`, `district` or `commune`.
    pub level: String,
    pub name: String,
}

/// Every unit, and each unit's children.
#[derive(Debug, Default)]
pub struct UnitTree {
    nodes: HashMap<String, UnitNode>,
    children: HashMap<String, Vec<String>>,
    /// The most units on one way from a leaf to its top (3 in the
    /// 2008 tree: commune, district, province).
    levels: usize,
}

impl UnitTree {
    fn new(nodes: Vec<UnitNode>) -> Self {
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        for node in &nodes {
            if let Some(parent) = &node.parent_code {
                children
                    .entry(parent.clone())
                    .or_default()
                    .push(node.code.clone());
            }
        }
        let nodes: HashMap<String, UnitNode> =
            nodes.into_iter().map(|n| (n.code.clone(), n)).collect();
        let levels = nodes
            .values()
            .map(|node| {
                std::iter::successors(Some(node), |n| {
                    n.parent_code.as_deref().and_then(|p| nodes.get(p))
                })
                .take(MAX_DEPTH + 1)
                .count()
            })
            .max()
            .unwrap_or(0);
        Self {
            nodes,
            children,
            levels,
        }
    }

    /// The most units on one way from a leaf to its top (more than
    /// [`MAX_DEPTH`] for a parent loop).
    pub fn levels(&self) -> usize {
        self.levels
    }

    pub fn get(&self, code: &str) -> Option<&UnitNode> {
        self.nodes.get(code)
    }

    pub fn contains(&self, code: &str) -> bool {
        self.nodes.contains_key(code)
    }

    /// Every unit of the country.
    pub fn all(&self) -> impl Iterator<Item = &UnitNode> {
        self.nodes.values()
    }

    /// `root` and every unit below it (just `root` for a code the tree
    /// does not hold); an error for a parent loop.
    pub fn subtree<'a>(&'a self, root: &'a str) -> Result<HashSet<&'a str>, Failure> {
        let mut all: HashSet<&str> = HashSet::new();
        let mut frontier: Vec<&str> = vec![root];
        for _ in 0..MAX_DEPTH {
            let mut next = Vec::new();
            for code in frontier {
                if all.insert(code) {
                    if let Some(children) = self.children.get(code) {
                        next.extend(children.iter().map(String::as_str));
                    }
                }
            }
            if next.is_empty() {
                return Ok(all);
            }
            frontier = next;
        }
        Err(Failure::internal(format!(
            "admin unit {root} has a parent loop"
        )))
    }

    /// The unit `unit` counts under in `root`'s subtree: the child of
    /// `root` (of the country: the province) on the way up from `unit`,
    /// or `root` itself for a record directly at the root.
    pub fn part_of<'a>(&'a self, root: Option<&str>, unit: &'a str) -> &'a str {
        let mut current = unit;
        for _ in 0..MAX_DEPTH {
            if root == Some(current) {
                return current;
            }
            match self
                .nodes
                .get(current)
                .and_then(|n| n.parent_code.as_deref())
            {
                Some(parent) if Some(parent) == root => return current,
                Some(parent) => current = parent,
                None => return current,
            }
        }
        current
    }
}

/// The trees this process holds, by stamp, the most recent use last.
static TREES: Mutex<Vec<(String, Arc<UnitTree>)>> = Mutex::new(Vec::new());

/// Read on every use of the tree, so it is a query diesel prepares once
/// per connection (a `sql_query` would be parsed anew each time).
fn stamp(conn: &mut DbConn) -> Result<String, Failure> {
    Ok(with_conn!(conn, |c| admin_unit_tree_stamp::table
        .select(admin_unit_tree_stamp::stamp)
        .first(c))?)
}

/// The tree as the database holds it now.
pub fn current(conn: &mut DbConn) -> Result<Arc<UnitTree>, Failure> {
    let before = stamp(conn)?;
    {
        let mut trees = TREES.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = trees.iter().position(|(s, _)| *s == before) {
            let entry = trees.remove(at);
            let tree = entry.1.clone();
            trees.push(entry);
            return Ok(tree);
        }
    }
    let rows: Vec<(String, Option<String>, String, String)> = with_conn!(conn, |c| {
        admin_units::table
            .select((
                admin_units::code,
                admin_units::parent_code,
                admin_units::level,
                admin_units::name,
            ))
            .load(c)
    })?;
    let tree = Arc::new(UnitTree::new(
        rows.into_iter()
            .map(|(code, parent_code, level, name)| UnitNode {
                code,
                parent_code,
                level,
                name,
            })
            .collect(),
    ));
    // Kept only if nothing changed the tree while it was read: the stamp
    // then names exactly these rows.
    if stamp(conn)? == before {
        let mut trees = TREES.lock().unwrap_or_else(|e| e.into_inner());
        if trees.len() >= KEPT {
            trees.remove(0);
        }
        trees.push((before, tree.clone()));
    }
    Ok(tree)
}
