//! Finds anything with a side effect anywhere inside a query: nested data-modifying
//! statements (`WITH d AS (DELETE ... RETURNING *)`), `SELECT ... INTO`, row locks
//! (`FOR UPDATE`/`FOR SHARE`) and calls to denylisted functions.
//!
//! Why a visitor: these can hide at any depth — in CTEs, subqueries, function arguments,
//! lateral joins — and sqlparser's visitor reaches every node, so nothing is missed when the
//! grammar grows a new place for an expression.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, LockType, Query, Select, Statement, TableFactor, Visit, Visitor};

use crate::CheckError;
use crate::functions::forbidden;
use crate::names::statement_name;

/// Checks a query (and everything inside it) for side effects.
pub(crate) fn check(query: &Query) -> Result<(), CheckError> {
    match query.visit(&mut SideEffects) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(error) => Err(error),
    }
}

/// Stops at the first side effect found, in tree order.
struct SideEffects;

impl Visitor for SideEffects {
    type Break = CheckError;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<CheckError> {
        // Only reachable for statements nested inside the query: CTE bodies and
        // set-expression operands that are INSERT/UPDATE/DELETE/MERGE.
        match statement {
            Statement::Query(_) => ControlFlow::Continue(()),
            other => ControlFlow::Break(CheckError::NotReadOnly(statement_name(other))),
        }
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<CheckError> {
        match query.locks.first() {
            None => ControlFlow::Continue(()),
            Some(lock) => ControlFlow::Break(CheckError::NotReadOnly(
                match lock.lock_type {
                    LockType::Update => "FOR UPDATE",
                    LockType::Share => "FOR SHARE",
                }
                .to_owned(),
            )),
        }
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<CheckError> {
        if select.into.is_some() {
            return ControlFlow::Break(CheckError::NotReadOnly("SELECT ... INTO".to_owned()));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<CheckError> {
        match expr {
            Expr::Function(function) => deny(&function.name),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<CheckError> {
        // Table functions: `FROM dblink(...)`, `FROM pg_catalog.pg_ls_dir('.')`.
        match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => deny(name),
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Breaks when `name` is a denylisted function.
fn deny(name: &sqlparser::ast::ObjectName) -> ControlFlow<CheckError> {
    match forbidden(name) {
        Some(function) => ControlFlow::Break(CheckError::ForbiddenFunction(function)),
        None => ControlFlow::Continue(()),
    }
}
