//! The loop: build the context, ask the generator, check, run, feed errors back — all inside one
//! workflow deadline. When time, the iteration cap or the token budget runs out, the run answers
//! the last SQL that executed successfully (`degraded`), or says in plain words why nothing did
//! (`failed`). Every wait races the deadline and the cancel token, so an answer is never late:
//! dropping the in-flight LLM request or query future cancels it (the engine cancels queries on
//! the database server).

use crate::context::{Context, ContextLimits, Example, Samples, quoted_table_ref, table_ref};
use crate::events::{Event, EventSink};
use crate::exec;
use crate::generator::{Feedback, GenError, GenStats, Generator, Proposal};
use crate::tools::ToolContext;
use crate::values::ValueIndex;
use querypad_engines::{Catalog, Database, ResultSet};
use querypad_llm::Usage;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Limits of one run.
#[derive(Debug, Clone, Copy)]
pub struct AgentLimits {
    /// The whole workflow (default 40 s).
    pub workflow_timeout: Duration,
    /// Each LLM HTTP attempt (default 20 s).
    pub llm_call_timeout: Duration,
    /// Each SQL statement (`DB_QUERY_TIMEOUT`, default 30 s).
    pub statement_timeout: Duration,
    /// Generator proposals at most (default 5).
    pub max_iterations: u32,
    /// Rows kept in the answer's preview.
    pub preview_rows: usize,
    /// Tokens a run may spend; `None` for no budget.
    pub token_budget: Option<u64>,
    /// Schema columns allowed in the prompt.
    pub context_columns: usize,
    /// Tables whose first rows are shown as sample values.
    pub sample_tables: usize,
}

impl Default for AgentLimits {
    fn default() -> Self {
        AgentLimits {
            workflow_timeout: Duration::from_secs(40),
            llm_call_timeout: Duration::from_secs(20),
            statement_timeout: Duration::from_secs(30),
            max_iterations: 5,
            preview_rows: 100,
            token_budget: Some(200_000),
            context_columns: 400,
            sample_tables: 5,
        }
    }
}

/// Everything a run needs.
pub struct RunInput {
    /// The question in plain words.
    pub question: String,
    /// The user database.
    pub db: Database,
    /// Its cached schema.
    pub catalog: Arc<Catalog>,
    /// Earlier question→SQL pairs from the notebook (oldest first).
    pub examples: Vec<Example>,
    /// Limits.
    pub limits: AgentLimits,
    /// Cancelled by the user or at shutdown.
    pub cancel: CancellationToken,
    /// Where events go.
    pub sink: EventSink,
    /// Sampled column values (value index), when the caller has them: schema linking and the
    /// built-in generator use them to recognise values such as "France".
    pub values: Option<Arc<ValueIndex>>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The answer ran successfully.
    Succeeded,
    /// Time, iterations or budget ran out; the last SQL that worked is the answer.
    Degraded,
    /// Nothing ran successfully.
    Failed,
}

impl Status {
    /// `succeeded`, `degraded` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Degraded => "degraded",
            Status::Failed => "failed",
        }
    }
}

/// One proposal and what became of it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Attempt {
    /// Iteration (1-based).
    pub iteration: u32,
    /// SQL as proposed.
    pub sql: String,
    /// `ok`, `empty`, `refused`, `error`, `repeated`.
    pub outcome: String,
    /// Rows returned.
    pub rows: Option<u64>,
    /// Error code and message.
    pub error: Option<String>,
    /// Milliseconds running the SQL.
    pub sql_ms: f64,
}

/// Time spent per iteration.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct IterationTiming {
    /// Iteration.
    pub iteration: u32,
    /// Generator time.
    pub llm: f64,
    /// SQL time.
    pub sql: f64,
}

/// Where the time went, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Timings {
    /// Building the context (incl. sample values).
    pub context: f64,
    /// Generator calls.
    pub llm: f64,
    /// SQL execution.
    pub sql: f64,
    /// The whole run.
    pub total: f64,
    /// Per iteration.
    pub per_iteration: Vec<IterationTiming>,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// The answer's SQL as the generator wrote it.
    pub sql: Option<String>,
    /// The SQL as executed (with the preview LIMIT).
    pub executed_sql: Option<String>,
    /// The generator's explanation.
    pub explanation: Option<String>,
    /// The answer's preview.
    pub result: Option<ResultSet>,
    /// Iterations used.
    pub iterations: u32,
    /// Every proposal.
    pub attempts: Vec<Attempt>,
    /// Timings.
    pub timings: Timings,
    /// Token usage.
    pub usage: Usage,
    /// A sentence for people.
    pub message: String,
    /// Things a user should know (context truncated, …).
    pub warnings: Vec<String>,
    /// Machine-readable reason for `degraded`/`failed` (`deadline`, `cancelled`,
    /// `max_iterations`, `token_budget`, `llm_auth`, …).
    pub reason: Option<String>,
}

struct Good {
    proposal: Proposal,
    executed: String,
    result: ResultSet,
    iteration: u32,
}

enum Stop {
    Deadline,
    Cancelled,
}

/// Awaits `fut` unless the deadline passes or the run is cancelled first (then `fut` is dropped,
/// which cancels what it was doing).
async fn race<T>(
    fut: impl std::future::Future<Output = T>,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<T, Stop> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Stop::Cancelled),
        _ = tokio::time::sleep_until(deadline) => Err(Stop::Deadline),
        v = fut => Ok(v),
    }
}

fn normalize(sql: &str) -> String {
    sql.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(';')
        .trim()
        .to_lowercase()
}

/// The first rows of the best-ranked tables as sample values: reused from earlier runs on the
/// same schema (see [`crate::derived`]), else read in parallel, bounded by a short budget inside
/// the deadline (they help, but are never worth waiting for).
async fn fetch_samples(
    input: &RunInput,
    ranked: &[crate::linking::Ranked],
    deadline: Instant,
) -> Samples {
    let kind = input.db.kind();
    let derived = crate::derived::for_catalog(&input.catalog);
    let wanted: Vec<String> = ranked
        .iter()
        .take(input.limits.sample_tables)
        .map(|r| table_ref(&input.catalog.tables[r.index]))
        .collect();
    let (mut samples, missing) = derived.cached_samples(&wanted);
    if missing.is_empty() {
        return samples;
    }
    let budget = (Instant::now() + Duration::from_secs(2)).min(deadline);
    let mut tasks = Vec::new();
    for r in ranked.iter().take(input.limits.sample_tables) {
        let t = &input.catalog.tables[r.index];
        let name = table_ref(t);
        if !missing.contains(&name) {
            continue;
        }
        let sql = format!("SELECT * FROM {} LIMIT 3", quoted_table_ref(kind, t));
        let db = input.db.clone();
        let stmt = input.limits.statement_timeout;
        tasks.push(async move {
            let rows = match exec::check_read_only(&db, &sql, 3) {
                Ok(checked) => exec::run(&db, &checked, 3, stmt, budget)
                    .await
                    .map(|rs| rs.rows)
                    .map_err(exec::ExecError::from),
                Err(e) => Err(e.into()),
            };
            (name, rows)
        });
    }
    // Concurrently: five round trips one after another were most of a run's own overhead
    // (1.3 ms of 2 ms on a 100-table schema in the agent_overhead benchmark).
    let all = futures_util::future::join_all(tasks);
    if let Ok(results) = race(all, budget, &input.cancel).await {
        for (name, rows) in results {
            match rows {
                Ok(rows) => {
                    derived.store_sample(name.clone(), Some(rows.clone()));
                    samples.insert(name, rows);
                }
                // The table itself refused (no privilege, a view that fails): remembered.
                // Time-outs and unreachable servers say nothing about it: read again next run.
                Err(exec::ExecError::Check(_))
                | Err(exec::ExecError::Engine(querypad_engines::EngineError::Query(_))) => {
                    derived.store_sample(name, None)
                }
                Err(_) => {}
            }
        }
    }
    samples
}

/// Runs the workflow to its end. Never returns later than the workflow deadline plus the time
/// to drop what was in flight.
pub async fn run(input: RunInput, generator: &mut Generator) -> Outcome {
    let started = Instant::now();
    let deadline = started + input.limits.workflow_timeout;
    let sink = input.sink.clone();
    let mut timings = Timings::default();
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut warnings = Vec::new();
    let mut stats = GenStats::default();
    generator.set_values(input.values.clone());

    // Context.
    // One linking per run: its ranking picks the sample tables, its selection the context.
    let context_limits = ContextLimits {
        max_columns: input.limits.context_columns,
        ..Default::default()
    };
    let prepared = crate::linking::prepared_for(&input.catalog);
    let linking = crate::linking::link_with(
        &input.catalog,
        &prepared,
        &input.question,
        input.values.as_deref(),
        crate::linking::LinkBudget {
            max_columns: context_limits.max_columns,
        },
    );
    let samples = race(
        fetch_samples(&input, &linking.ranked, deadline),
        deadline,
        &input.cancel,
    )
    .await
    .unwrap_or_default();
    let ctx = Context::build_linked(
        input.db.kind(),
        &input.catalog,
        &linking,
        &input.examples,
        &samples,
        context_limits,
    );
    timings.context = started.elapsed().as_secs_f64() * 1000.0;
    if !ctx.left_out.is_empty() {
        warnings.push(format!(
            "the schema is large: {} of {} tables were given to the model (the most relevant ones)",
            ctx.tables.len(),
            ctx.tables_total
        ));
    }
    sink(Event::ContextBuilt {
        tables_in_context: ctx.tables.len(),
        tables_total: ctx.tables_total,
        columns_in_context: ctx.columns_in_context,
        columns_total: ctx.columns_total,
        truncated: !ctx.left_out.is_empty(),
        left_out: ctx.left_out.iter().take(20).cloned().collect(),
        examples: ctx.examples.len(),
        ms: timings.context,
    });

    let tool_ctx = ToolContext {
        db: input.db.clone(),
        catalog: input.catalog.clone(),
        statement_timeout: input.limits.statement_timeout,
        deadline,
        max_rows: 20,
    };
    let mut last_good: Option<Good> = None;
    let mut failed_sql: HashMap<String, String> = HashMap::new();
    let mut empty_sql: Option<String> = None;
    let mut feedback: Option<Feedback> = None;
    let mut iteration = 0u32;
    let mut final_status: Option<(Status, String, Option<String>)> = None;
    let mut last_llm_error: Option<querypad_llm::LlmError> = None;

    while iteration < input.limits.max_iterations {
        iteration += 1;
        let mut it = IterationTiming {
            iteration,
            ..Default::default()
        };
        let llm_before = stats.ms;
        let proposed = race(
            generator.propose(
                &input.question,
                &ctx,
                feedback.take(),
                &tool_ctx,
                input.limits.llm_call_timeout,
                iteration,
                &sink,
                &mut stats,
            ),
            deadline,
            &input.cancel,
        )
        .await;
        it.llm = stats.ms - llm_before;
        let proposal = match proposed {
            Err(Stop::Deadline) => {
                timings.per_iteration.push(it);
                final_status = Some(stop_status(
                    Stop::Deadline,
                    &input.limits,
                    last_good.is_some(),
                ));
                break;
            }
            Err(Stop::Cancelled) => {
                timings.per_iteration.push(it);
                final_status = Some(stop_status(
                    Stop::Cancelled,
                    &input.limits,
                    last_good.is_some(),
                ));
                break;
            }
            Ok(Err(GenError::NoSql { reply })) => {
                let reason = "the reply contained no SQL".to_string();
                sink(Event::IterationFailed {
                    iteration,
                    reason: reason.clone(),
                });
                timings.per_iteration.push(it);
                let _ = reply;
                feedback = Some(Feedback {
                    tool_use_id: None,
                    text: "Your reply contained no SQL. Reply with one read-only SQL query that answers the question.".into(),
                    is_error: true,
                });
                continue;
            }
            Ok(Err(GenError::Llm(e))) if e.is_transient() && Instant::now() < deadline => {
                // A slow or overloaded provider costs an iteration, not the run: ask again
                // (the conversation still ends with our last message) while time remains.
                sink(Event::IterationFailed {
                    iteration,
                    reason: e.to_string(),
                });
                attempts.push(Attempt {
                    iteration,
                    sql: String::new(),
                    outcome: "llm_error".into(),
                    rows: None,
                    error: Some(e.to_string()),
                    sql_ms: 0.0,
                });
                timings.per_iteration.push(it);
                last_llm_error = Some(e);
                continue;
            }
            Ok(Err(e)) => {
                timings.per_iteration.push(it);
                let (reason, message) = generator_failure(&e);
                final_status = Some((Status::Failed, message, Some(reason)));
                break;
            }
            Ok(Ok(p)) => p,
        };
        if let Some(budget) = input.limits.token_budget
            && stats.usage.total() > budget
        {
            warnings.push(format!(
                "the run used {} tokens, over its budget of {budget}",
                stats.usage.total()
            ));
        }
        if proposal.sql.trim().is_empty() {
            timings.per_iteration.push(it);
            let why = proposal
                .explanation
                .clone()
                .unwrap_or_else(|| "no reason given".into());
            final_status = Some((
                Status::Failed,
                format!("The model could not answer this question from the schema: {why}"),
                Some("declined".into()),
            ));
            attempts.push(Attempt {
                iteration,
                sql: String::new(),
                outcome: "declined".into(),
                rows: None,
                error: Some(why),
                sql_ms: 0.0,
            });
            break;
        }
        let key = normalize(&proposal.sql);
        // An empty result resubmitted as is: the model confirms that empty is the answer.
        if empty_sql.as_deref() == Some(key.as_str())
            && let Some(good) = &last_good
            && normalize(&good.proposal.sql) == key
        {
            timings.per_iteration.push(it);
            attempts.push(Attempt {
                iteration,
                sql: proposal.sql.clone(),
                outcome: "confirmed_empty".into(),
                rows: Some(0),
                error: None,
                sql_ms: 0.0,
            });
            final_status = Some((Status::Succeeded, "The query ran and returned no rows; the model confirmed that an empty result answers the question.".into(), None));
            break;
        }
        if let Some(prev) = failed_sql.get(&key) {
            let reason = format!("this exact SQL was already tried and failed: {prev}");
            sink(Event::IterationFailed {
                iteration,
                reason: reason.clone(),
            });
            attempts.push(Attempt {
                iteration,
                sql: proposal.sql.clone(),
                outcome: "repeated".into(),
                rows: None,
                error: Some(prev.clone()),
                sql_ms: 0.0,
            });
            timings.per_iteration.push(it);
            feedback = Some(Feedback {
                tool_use_id: proposal.tool_use_id.clone(),
                text: format!(
                    "You already submitted this exact SQL and it failed with: {prev}. It was not run again. Write a different query."
                ),
                is_error: true,
            });
            continue;
        }
        // Check.
        let checked = match exec::check_read_only(
            &input.db,
            &proposal.sql,
            input.limits.preview_rows,
        ) {
            Ok(c) => {
                sink(Event::SqlChecked {
                    iteration,
                    sql: proposal.sql.clone(),
                    ok: true,
                    error: None,
                });
                c
            }
            Err(e) => {
                let msg = format!("{} ({})", e, e.code());
                sink(Event::SqlChecked {
                    iteration,
                    sql: proposal.sql.clone(),
                    ok: false,
                    error: Some(msg.clone()),
                });
                sink(Event::IterationFailed {
                    iteration,
                    reason: msg.clone(),
                });
                attempts.push(Attempt {
                    iteration,
                    sql: proposal.sql.clone(),
                    outcome: "refused".into(),
                    rows: None,
                    error: Some(msg.clone()),
                    sql_ms: 0.0,
                });
                failed_sql.insert(key, msg.clone());
                timings.per_iteration.push(it);
                feedback = Some(Feedback {
                    tool_use_id: proposal.tool_use_id.clone(),
                    text: format!(
                        "The SQL was refused before running: {msg}. Write a single read-only SELECT."
                    ),
                    is_error: true,
                });
                continue;
            }
        };
        // Execute.
        let t0 = Instant::now();
        let ran = race(
            exec::run(
                &input.db,
                &checked,
                input.limits.preview_rows,
                input.limits.statement_timeout,
                deadline,
            ),
            deadline,
            &input.cancel,
        )
        .await;
        let sql_ms = t0.elapsed().as_secs_f64() * 1000.0;
        it.sql = sql_ms;
        timings.sql += sql_ms;
        timings.per_iteration.push(it);
        match ran {
            Err(stop) => {
                sink(Event::SqlExecuted {
                    iteration,
                    sql: checked.sql.clone(),
                    ms: sql_ms,
                    rows: None,
                    error: Some("stopped: the run's time ran out".into()),
                });
                attempts.push(Attempt {
                    iteration,
                    sql: proposal.sql.clone(),
                    outcome: "error".into(),
                    rows: None,
                    error: Some("interrupted".into()),
                    sql_ms,
                });
                final_status = Some(stop_status(stop, &input.limits, last_good.is_some()));
                break;
            }
            Ok(Err(e)) => {
                let msg = format!("{} ({})", e, e.code());
                sink(Event::SqlExecuted {
                    iteration,
                    sql: checked.sql.clone(),
                    ms: sql_ms,
                    rows: None,
                    error: Some(msg.clone()),
                });
                sink(Event::IterationFailed {
                    iteration,
                    reason: msg.clone(),
                });
                attempts.push(Attempt {
                    iteration,
                    sql: proposal.sql.clone(),
                    outcome: "error".into(),
                    rows: None,
                    error: Some(msg.clone()),
                    sql_ms,
                });
                failed_sql.insert(key, msg.clone());
                feedback = Some(Feedback {
                    tool_use_id: proposal.tool_use_id.clone(),
                    text: format!("The database returned an error: {msg}. Fix the query."),
                    is_error: true,
                });
            }
            Ok(Ok(rs)) => {
                sink(Event::SqlExecuted {
                    iteration,
                    sql: checked.sql.clone(),
                    ms: sql_ms,
                    rows: Some(rs.row_count),
                    error: None,
                });
                let empty = rs.row_count == 0;
                attempts.push(Attempt {
                    iteration,
                    sql: proposal.sql.clone(),
                    outcome: if empty { "empty".into() } else { "ok".into() },
                    rows: Some(rs.row_count),
                    error: None,
                    sql_ms,
                });
                let tool_use_id = proposal.tool_use_id.clone();
                last_good = Some(Good {
                    proposal,
                    executed: checked.sql.clone(),
                    result: rs,
                    iteration,
                });
                if !empty {
                    final_status = Some((
                        Status::Succeeded,
                        format!(
                            "Answered in {iteration} iteration{}.",
                            if iteration == 1 { "" } else { "s" }
                        ),
                        None,
                    ));
                    break;
                }
                let reason = "the query returned no rows".to_string();
                sink(Event::IterationFailed {
                    iteration,
                    reason: reason.clone(),
                });
                empty_sql = Some(key);
                feedback = Some(Feedback {
                    tool_use_id,
                    text: "The query ran but returned no rows. Check the filter values (exact spelling and case; use sample_values) and the joins. If an empty result really answers the question, submit the same SQL again.".into(),
                    is_error: false,
                });
            }
        }
        if let Some(budget) = input.limits.token_budget
            && stats.usage.total() >= budget
        {
            final_status = Some(if last_good.is_some() {
                (
                    Status::Degraded,
                    format!(
                        "The run reached its token budget ({budget} tokens); showing the last query that ran successfully."
                    ),
                    Some("token_budget".into()),
                )
            } else {
                (
                    Status::Failed,
                    format!(
                        "The run reached its token budget ({budget} tokens) before any query ran successfully."
                    ),
                    Some("token_budget".into()),
                )
            });
            break;
        }
    }

    let (mut status, mut message, mut reason) = final_status.unwrap_or_else(|| {
        if last_good.is_some() {
            (
                Status::Degraded,
                format!("Stopped after {} attempts without a confirmed answer; showing the last query that ran successfully.", input.limits.max_iterations),
                Some("max_iterations".into()),
            )
        } else if let Some(e) = &last_llm_error
            && attempts.iter().all(|a| a.outcome == "llm_error")
        {
            let (reason, message) = generator_failure(&GenError::Llm(e.clone()));
            (Status::Failed, message, Some(reason))
        } else {
            (
                Status::Failed,
                format!("No working query after {} attempts. The last error: {}", input.limits.max_iterations,
                    attempts.last().and_then(|a| a.error.clone()).unwrap_or_else(|| "none".into())),
                Some("max_iterations".into()),
            )
        }
    });
    // A degraded status needs something to show; a failed one must not show a stale answer.
    if status == Status::Degraded && last_good.is_none() {
        status = Status::Failed;
    }
    if status == Status::Failed && reason.is_none() {
        reason = Some("failed".into());
    }
    if status == Status::Succeeded && last_good.is_none() {
        status = Status::Failed;
        message = "The run ended without a result.".into();
        reason = Some("failed".into());
    }
    if generator.fell_back() {
        warnings.push("the LLM provider was unreachable; the built-in generator answered (agent.fallback = \"builtin\")".into());
    }
    timings.llm = stats.ms;
    timings.total = started.elapsed().as_secs_f64() * 1000.0;
    sink(Event::Finished {
        status: status.as_str().into(),
        message: message.clone(),
    });
    let keep = status != Status::Failed;
    let (sql, executed_sql, explanation, result) = match last_good.filter(|_| keep) {
        Some(g) => {
            let _ = g.iteration;
            (
                Some(g.proposal.sql),
                Some(g.executed),
                g.proposal.explanation,
                Some(g.result),
            )
        }
        None => (None, None, None, None),
    };
    Outcome {
        status,
        sql,
        executed_sql,
        explanation,
        result,
        iterations: iteration,
        attempts,
        timings,
        usage: stats.usage,
        message,
        warnings,
        reason,
    }
}

fn stop_status(
    stop: Stop,
    limits: &AgentLimits,
    have_good: bool,
) -> (Status, String, Option<String>) {
    let secs = limits.workflow_timeout.as_secs_f64();
    match (stop, have_good) {
        (Stop::Deadline, true) => (
            Status::Degraded,
            format!(
                "Time ran out after {secs:.0} s (agent.workflow_timeout_secs); showing the last query that ran successfully."
            ),
            Some("deadline".into()),
        ),
        (Stop::Deadline, false) => (
            Status::Failed,
            format!(
                "Time ran out after {secs:.0} s before any query ran successfully. The LLM provider or the database may be slow; try again, or raise agent.workflow_timeout_secs."
            ),
            Some("deadline".into()),
        ),
        (Stop::Cancelled, true) => (
            Status::Degraded,
            "The run was cancelled; showing the last query that ran successfully.".into(),
            Some("cancelled".into()),
        ),
        (Stop::Cancelled, false) => (
            Status::Failed,
            "The run was cancelled before any query ran.".into(),
            Some("cancelled".into()),
        ),
    }
}

fn generator_failure(e: &GenError) -> (String, String) {
    use querypad_llm::LlmError;
    match e {
        GenError::Unavailable(m) => ("no_generator".into(), m.clone()),
        GenError::Declined(m) => ("declined".into(), m.clone()),
        GenError::NoSql { .. } => ("no_sql".into(), "The model did not write any SQL.".into()),
        GenError::Llm(l) => {
            let hint = match l {
                LlmError::Auth(_) => {
                    " Check the API key (ANTHROPIC_API_KEY or llm.openai_api_key)."
                }
                LlmError::Config(_) => " Check the [llm] settings.",
                LlmError::RateLimited(_) | LlmError::Overloaded(_) | LlmError::Server(_) => {
                    " The provider is busy; try again in a moment."
                }
                LlmError::Timeout(_) => {
                    " The provider did not answer in time; try again, or raise agent.llm_call_timeout_secs."
                }
                LlmError::Network(_) => " Check the network path to the provider (llm base URL).",
                LlmError::BadRequest(_) | LlmError::Malformed(_) => "",
            };
            (l.code().into(), format!("{l}.{hint}"))
        }
    }
}
