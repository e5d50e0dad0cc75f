//! Evaluating one question end to end: the real agent path (context, generator, check, run)
//! on a real database, then the gold queries and the comparison.
//!
//! Why the agent path and not the generator alone: what users get is the loop's answer — with
//! its repairs, read-only check and row cap — so that is what is measured.

use super::compare::{Table, matches, order_matters};
use super::csv::EvalQuestion;
use super::gold::expand;
use crate::events;
use crate::exec;
use crate::generator::Generator;
use crate::runner::{AgentLimits, RunInput, Status, run};
use crate::values::ValueIndex;
use querypad_engines::{Catalog, Database, QueryOptions};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Rows read from a gold or predicted query at most when comparing.
pub const MAX_COMPARE_ROWS: usize = 100_000;

/// A database to evaluate on, with its schema and value index.
#[derive(Clone)]
pub struct EvalTarget {
    /// The database.
    pub db: Database,
    /// Its schema.
    pub catalog: Arc<Catalog>,
    /// Its value index.
    pub values: Option<Arc<ValueIndex>>,
}

/// How a question ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The answer matches a gold result.
    Correct,
    /// The answer ran but matches no gold result.
    Wrong,
    /// The generator declined.
    Declined,
    /// The run failed otherwise (time, errors, provider).
    Failed,
    /// The answer's SQL failed when re-run for comparison.
    PredictionError,
    /// No gold query ran on the database: the question cannot be graded.
    GoldError,
    /// The question's row was malformed.
    BadInput,
    /// The question's database could not be opened.
    DatabaseError,
}

impl Verdict {
    /// Whether the question counts in accuracy figures (it could be graded).
    pub fn graded(self) -> bool {
        !matches!(
            self,
            Verdict::GoldError | Verdict::BadInput | Verdict::DatabaseError
        )
    }
}

/// One question's outcome in the report.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionReport {
    /// Position in the question file.
    pub index: usize,
    /// Database name.
    pub db_name: String,
    /// Category.
    pub category: String,
    /// The question.
    pub question: String,
    /// The run's status (`succeeded`, `degraded`, `failed`), or `not_run`.
    pub status: String,
    /// The run's reason for `degraded`/`failed`.
    pub reason: Option<String>,
    /// The run's message.
    pub message: String,
    /// The answer's SQL.
    pub sql: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, when not correct (prediction error, gold errors, bad input).
    pub detail: Option<String>,
    /// Gold variants that failed on the database.
    pub gold_errors: Vec<String>,
    /// Milliseconds for the agent run.
    pub ms: f64,
}

impl QuestionReport {
    /// A question that never ran (bad input, database unavailable).
    pub fn not_run(
        index: usize,
        db_name: &str,
        question: &str,
        verdict: Verdict,
        detail: String,
    ) -> QuestionReport {
        QuestionReport {
            index,
            db_name: db_name.into(),
            category: String::new(),
            question: question.into(),
            status: "not_run".into(),
            reason: None,
            message: String::new(),
            sql: None,
            verdict,
            detail: Some(detail),
            gold_errors: Vec::new(),
            ms: 0.0,
        }
    }

    /// Whether the agent answered (succeeded or degraded with SQL).
    pub fn answered(&self) -> bool {
        self.sql.is_some() && (self.status == "succeeded" || self.status == "degraded")
    }
}

/// Options of an evaluation run.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Agent limits per question.
    pub limits: AgentLimits,
    /// Append the question's `instructions` to it (useful for LLMs; the built-in generator would
    /// decline words it cannot map).
    pub with_instructions: bool,
}

/// Runs `sql` read-only and normalises the result (at most [`MAX_COMPARE_ROWS`] rows).
pub async fn execute(
    db: &Database,
    sql: &str,
    statement_timeout: Duration,
) -> Result<Table, String> {
    let deadline = Instant::now() + statement_timeout + Duration::from_secs(1);
    let opts = QueryOptions {
        max_rows: MAX_COMPARE_ROWS,
        statement_timeout,
        deadline,
    };
    let stream = db.query(sql, opts).await.map_err(|e| e.to_string())?;
    let width = stream.columns.len();
    let rs = stream.collect().await.map_err(|e| e.to_string())?;
    if rs.truncated {
        return Err(format!("more than {MAX_COMPARE_ROWS} rows"));
    }
    Ok(Table::from_json(width, &rs.rows))
}

/// Runs every expanded gold variant: the results that ran and the errors of those that did not.
pub async fn gold_results(
    db: &Database,
    gold: &str,
    statement_timeout: Duration,
) -> (Vec<Table>, Vec<String>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for variant in expand(gold) {
        match execute(db, &variant, statement_timeout).await {
            Ok(t) => ok.push(t),
            Err(e) => errors.push(format!("{e} — in: {variant}")),
        }
    }
    (ok, errors)
}

/// Grades `pred` against the gold results.
pub fn grade(golds: &[Table], pred: &Table, category: &str, question: &str) -> bool {
    let ordered = order_matters(category, question);
    golds.iter().any(|g| matches(g, pred, ordered))
}

/// Runs one question through the agent with `generator` and grades the answer.
pub async fn evaluate(
    q: &EvalQuestion,
    target: &EvalTarget,
    generator: &mut Generator,
    opts: EvalOptions,
) -> QuestionReport {
    let question = if opts.with_instructions && !q.instructions.is_empty() {
        format!("{}\n\nInstructions: {}", q.question, q.instructions)
    } else {
        q.question.clone()
    };
    let input = RunInput {
        question,
        db: target.db.clone(),
        catalog: target.catalog.clone(),
        examples: Vec::new(),
        limits: opts.limits,
        cancel: CancellationToken::new(),
        sink: events::discard(),
        values: target.values.clone(),
    };
    let outcome = run(input, generator).await;
    let mut report = QuestionReport {
        index: q.index,
        db_name: q.db_name.clone(),
        category: q.category.clone(),
        question: q.question.clone(),
        status: outcome.status.as_str().into(),
        reason: outcome.reason.clone(),
        message: outcome.message.clone(),
        sql: outcome.sql.clone(),
        verdict: Verdict::Failed,
        detail: None,
        gold_errors: Vec::new(),
        ms: outcome.timings.total,
    };
    let (golds, gold_errors) =
        gold_results(&target.db, &q.gold, opts.limits.statement_timeout).await;
    report.gold_errors = gold_errors;
    if golds.is_empty() {
        report.verdict = Verdict::GoldError;
        report.detail = Some(format!(
            "no gold query ran on {}: {}",
            q.db_name,
            report.gold_errors.join("; ")
        ));
        return report;
    }
    let Some(sql) = outcome
        .sql
        .as_deref()
        .filter(|_| outcome.status != Status::Failed)
    else {
        report.verdict = if outcome.reason.as_deref() == Some("declined") {
            Verdict::Declined
        } else {
            Verdict::Failed
        };
        return report;
    };
    let checked = match exec::check_read_only(&target.db, sql, MAX_COMPARE_ROWS) {
        Ok(c) => c,
        Err(e) => {
            report.verdict = Verdict::PredictionError;
            report.detail = Some(e.to_string());
            return report;
        }
    };
    match execute(&target.db, &checked.sql, opts.limits.statement_timeout).await {
        Ok(pred) => {
            report.verdict = if grade(&golds, &pred, &q.category, &q.question) {
                Verdict::Correct
            } else {
                Verdict::Wrong
            };
        }
        Err(e) => {
            report.verdict = Verdict::PredictionError;
            report.detail = Some(e);
        }
    }
    report
}

/// Figures for a set of questions.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Figures {
    /// Questions.
    pub questions: usize,
    /// Questions that could be graded (no bad input, a gold query ran, the database opened).
    pub graded: usize,
    /// Answered (succeeded or degraded with SQL).
    pub answered: usize,
    /// Declined by the generator.
    pub declined: usize,
    /// Correct.
    pub correct: usize,
    /// Execution accuracy over graded questions.
    pub ex: f64,
    /// Correct among answered (precision).
    pub precision: f64,
    /// Answered among graded (coverage).
    pub coverage: f64,
}

impl Figures {
    fn add(&mut self, r: &QuestionReport) {
        self.questions += 1;
        if !r.verdict.graded() {
            return;
        }
        self.graded += 1;
        if r.answered() {
            self.answered += 1;
        }
        if r.verdict == Verdict::Declined {
            self.declined += 1;
        }
        if r.verdict == Verdict::Correct {
            self.correct += 1;
        }
    }

    fn finish(&mut self) {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        self.ex = ratio(self.correct, self.graded);
        self.precision = ratio(self.correct, self.answered);
        self.coverage = ratio(self.answered, self.graded);
    }
}

/// The summary of a run.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Summary {
    /// Over all questions.
    pub overall: Figures,
    /// Per category (`query_category`, or `(none)`).
    pub by_category: BTreeMap<String, Figures>,
    /// Verdict counts.
    pub verdicts: BTreeMap<String, usize>,
    /// Median agent run time, milliseconds (questions that ran).
    pub median_ms: f64,
}

/// Summarises reports.
pub fn summarize(reports: &[QuestionReport]) -> Summary {
    let mut s = Summary::default();
    let mut times: Vec<f64> = Vec::new();
    for r in reports {
        s.overall.add(r);
        let cat = if r.category.is_empty() {
            "(none)".to_string()
        } else {
            r.category.clone()
        };
        s.by_category.entry(cat).or_default().add(r);
        let v = serde_json::to_value(r.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *s.verdicts.entry(v).or_default() += 1;
        if r.status != "not_run" {
            times.push(r.ms);
        }
    }
    s.overall.finish();
    for f in s.by_category.values_mut() {
        f.finish();
    }
    times.sort_by(f64::total_cmp);
    s.median_ms = match times.len() {
        0 => 0.0,
        n if n % 2 == 1 => times[n / 2],
        n => (times[n / 2 - 1] + times[n / 2]) / 2.0,
    };
    s
}
