//! The tables a statement reads or writes, for the UI and for schema linking.
//!
//! Why CTE-aware: `WITH recent AS (SELECT * FROM orders) SELECT * FROM recent` references the
//! table `orders`, not a table called `recent`. CTE names are in scope only where SQL puts them
//! (later CTEs and the main body; every CTE of a `WITH RECURSIVE`), so
//! `WITH orders AS (SELECT * FROM orders) ...` still reports the real `orders` it reads.

use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{ObjectName, ObjectNamePart, Query, TableFactor, Visit, Visitor};
use sqlparser::tokenizer::Location;

/// Table names as written (unquoted, qualifiers joined by '.'), deduplicated, in the order
/// they appear in the text.
pub(crate) fn referenced(node: &impl Visit) -> Vec<String> {
    let mut collector = Collector::default();
    // The collector never breaks.
    let _ = node.visit(&mut collector);
    let mut found = collector.found;
    found.sort_by_key(|(location, _)| (location.line, location.column));
    let mut names: Vec<String> = Vec::with_capacity(found.len());
    for (_, name) in found {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Walks the tree keeping the CTE names visible at each point.
#[derive(Default)]
struct Collector {
    /// CTE names (lowercase) visible in the query being visited, innermost last.
    scopes: Vec<Vec<String>>,
    /// The names visible inside a CTE body, keyed by the body's address, set up by the query
    /// that declares the CTE before the visitor reaches the body.
    cte_bodies: HashMap<*const Query, Vec<String>>,
    /// Table-function names (`FROM generate_series(1, 3)`), which are not tables.
    functions: Vec<*const ObjectName>,
    /// Every table reference with where it starts.
    found: Vec<(Location, String)>,
}

impl Visitor for Collector {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let outer = self.scopes.last().cloned().unwrap_or_default();
        let visible = self
            .cte_bodies
            .remove(&(query as *const Query))
            .unwrap_or(outer);
        let mut scope = visible.clone();
        if let Some(with) = &query.with {
            let names: Vec<String> = with
                .cte_tables
                .iter()
                .map(|cte| cte.alias.name.value.to_lowercase())
                .collect();
            for (i, cte) in with.cte_tables.iter().enumerate() {
                let mut inside = visible.clone();
                let in_scope = if with.recursive {
                    &names[..]
                } else {
                    &names[..i]
                };
                inside.extend(in_scope.iter().cloned());
                self.cte_bodies.insert(&*cte.query as *const Query, inside);
            }
            scope.extend(names);
        }
        self.scopes.push(scope);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name,
            args: Some(_),
            ..
        } = factor
        {
            self.functions.push(name as *const ObjectName);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        if self.functions.contains(&(relation as *const ObjectName)) {
            return ControlFlow::Continue(());
        }
        let parts: Vec<&ObjectNamePart> = relation.0.iter().collect();
        if let [ObjectNamePart::Identifier(only)] = parts.as_slice() {
            let lower = only.value.to_lowercase();
            if self.scopes.last().is_some_and(|s| s.contains(&lower)) {
                return ControlFlow::Continue(());
            }
        }
        let name = parts
            .iter()
            .map(|part| match part {
                ObjectNamePart::Identifier(ident) => ident.value.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".");
        let start = relation
            .0
            .first()
            .and_then(|p| p.as_ident())
            .map(|i| i.span.start)
            .unwrap_or(Location { line: 0, column: 0 });
        self.found.push((start, name));
        ControlFlow::Continue(())
    }
}
