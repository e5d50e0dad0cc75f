//! Starting agent runs from the HTTP layer: validation, the concurrency cap, the generator from
//! configuration, and what happens when a run ends (the seed's response shape, a new notebook
//! cell headed by the question, the stored run record, metrics and one log line).
//!
//! A run is a task of its own: a client that disconnects does not lose the answer — it is stored
//! and can be read at `GET /api/v1/agent/runs/{id}`.

use crate::config::Config;
use crate::error::ApiError;
use crate::runs::RunHandle;
use crate::state::SharedState;
use axum::http::StatusCode;
use querypad_agent::{AgentLimits, Event, Example, Generator, LlmSettings, Outcome, RunInput};
use querypad_llm::{Provider, ProviderConfig, ProviderKind};
use querypad_store::{AnswerCell, CellKind, FinishedRun, NewRun};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// What starts a run (the seed's body, kept verbatim).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// The question in plain words.
    pub query: String,
    /// The connection to answer on.
    pub connection_id: i64,
    /// The notebook to append the answer to.
    pub notebook_id: Option<i64>,
}

/// Builds the LLM settings from configuration, or `None` when no provider is configured.
pub fn llm_settings(config: &Config) -> Result<Option<LlmSettings>, querypad_llm::LlmError> {
    let llm = &config.llm;
    let chosen = match llm.provider.as_str() {
        "none" => None,
        "anthropic" => Some(ProviderKind::Anthropic),
        "openai" => Some(ProviderKind::OpenAi),
        _ if llm.anthropic_api_key.is_some() => Some(ProviderKind::Anthropic),
        _ if llm.openai_base_url.is_some() => Some(ProviderKind::OpenAi),
        _ => None,
    };
    let Some(kind) = chosen else { return Ok(None) };
    let pc = match kind {
        ProviderKind::Anthropic => ProviderConfig {
            kind,
            base_url: llm.anthropic_base_url.clone(),
            api_key: llm.anthropic_api_key.clone(),
            model: llm.anthropic_model.clone(),
            tools: true,
        },
        ProviderKind::OpenAi => ProviderConfig {
            kind,
            base_url: llm.openai_base_url.clone(),
            api_key: llm.openai_api_key.clone(),
            model: llm.openai_model.clone(),
            tools: llm.openai_tools,
        },
    };
    let tools = pc.tools;
    Ok(Some(LlmSettings {
        provider: Provider::new(pc)?,
        tools,
        permits: Some(Arc::new(tokio::sync::Semaphore::new(
            config.agent.max_concurrent_llm_calls,
        ))),
        max_tokens: llm.max_tokens,
        max_tool_rounds: 3,
    }))
}

/// The message for runs when no generator is configured.
pub const NO_PROVIDER: &str = "No LLM provider is configured, so questions cannot be turned into SQL yet. Set ANTHROPIC_API_KEY (or llm.provider = \"openai\" with llm.openai_base_url) and restart querypad.";

fn limits(config: &Config) -> AgentLimits {
    AgentLimits {
        workflow_timeout: Duration::from_secs_f64(config.agent.workflow_timeout_secs),
        llm_call_timeout: Duration::from_secs_f64(config.agent.llm_call_timeout_secs),
        statement_timeout: config.query_timeout(),
        max_iterations: config.agent.max_iterations,
        preview_rows: config.agent.preview_rows,
        token_budget: (config.agent.token_budget > 0).then_some(config.agent.token_budget),
        context_columns: config.agent.context_columns,
        sample_tables: 5,
    }
}

/// Question→SQL pairs from agent-made cells of the notebook (`-- question` first line).
fn examples_from(cells: &[querypad_store::Cell]) -> Vec<Example> {
    cells
        .iter()
        .filter(|c| c.kind == CellKind::Sql)
        .filter(|c| c.last_run.as_ref().is_some_and(|r| r["error"].is_null()))
        .filter_map(|c| {
            let (first, rest) = c.source.split_once('\n')?;
            let q = first.strip_prefix("-- ")?.trim();
            let sql = rest.trim();
            (!q.is_empty() && !sql.is_empty()).then(|| Example {
                question: q.into(),
                sql: sql.into(),
            })
        })
        .collect()
}

/// When a run's `running` record must be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Before `start` returns: the caller hands out the run id as a resource (202 + URL), which
    /// must survive a crash.
    BeforeStart,
    /// While the run goes on: the caller waits for the answer anyway, and the run's first LLM
    /// call need not wait for a commit (the finished record is queued after it).
    Alongside,
}

/// Validates and starts a run; returns its live handle.
pub async fn start(
    state: &SharedState,
    req: StartRun,
    record: Record,
) -> Result<Arc<RunHandle>, ApiError> {
    if !state.config.agent.enabled {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "agent_disabled",
            "the text-to-SQL agent is disabled on this server (agent.enabled = false); notebooks still run SQL by hand",
        ));
    }
    let question = req.query.trim().to_string();
    if question.is_empty() {
        return Err(ApiError::invalid("query must not be empty"));
    }
    if question.chars().count() > 4000 {
        return Err(ApiError::invalid("query must be at most 4000 characters"));
    }
    let conn = state.store.get_connection(req.connection_id).await?;
    // `Some(nb.connection_id)` when a notebook is named: its default connection decides
    // whether the answer cell names its own.
    let (notebook_conn, cells) = match req.notebook_id {
        Some(id) => {
            let (nb, cells) = state.store.recent_sql_cells(id, 50).await?;
            (Some(nb.connection_id), cells)
        }
        None => (None, Vec::new()),
    };
    let permit = state.runs.permits.clone().try_acquire_owned().map_err(|_| {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_runs",
            format!(
                "{} agent runs are in progress, the most this server allows (agent.max_concurrent_runs); retry shortly",
                state.config.agent.max_concurrent_runs
            ),
        );
        e.retry_after = Some(2);
        e
    })?;
    let db = state.databases.get(&state.store, &conn).await?;
    // Without a provider the built-in generator answers; with one, it can be the fallback.
    let mut generator = match &state.llm {
        Some(settings) if state.config.agent.fallback == "builtin" => {
            Generator::llm_with_fallback(settings.clone())
        }
        Some(settings) => Generator::llm(settings.clone()),
        None => Generator::builtin(),
    };
    let handle = state.runs.create();
    let queued = async {
        let pending = state
            .store
            .queue_insert_run(&NewRun {
                id: handle.id.clone(),
                connection_id: conn.id,
                notebook_id: req.notebook_id,
                question: question.clone(),
                provider: generator.provider_name().into(),
                model: generator.model().into(),
            })
            .await?;
        match record {
            Record::BeforeStart => pending.wait().await.map(|()| None),
            Record::Alongside => Ok(Some(pending)),
        }
    };
    let recorded = match queued.await {
        Ok(recorded) => recorded,
        Err(e) => {
            // Never started: it must not linger in the registry as a run in progress.
            state.runs.forget(&handle.id);
            return Err(e.into());
        }
    };
    metrics::gauge!("querypad_agent_runs_in_progress").increment(1.0);
    let state2 = state.clone();
    let h = handle.clone();
    let examples = examples_from(&cells);
    let span =
        tracing::info_span!(parent: tracing::Span::current(), "agent_run", run_id = %handle.id);
    state.tasks.spawn(tracing::Instrument::instrument(
        async move {
            let _permit = permit;
            let limits = limits(&state2.config);
            let sink_handle = h.clone();
            let sink: querypad_agent::EventSink = Arc::new(move |e: Event| {
                match &e {
                    Event::LlmCall { ms, .. } => {
                        metrics::histogram!("querypad_llm_call_seconds").record(ms / 1000.0)
                    }
                    Event::SqlExecuted { ms, .. } => {
                        metrics::histogram!("querypad_sql_execution_seconds").record(ms / 1000.0)
                    }
                    _ => {}
                }
                sink_handle.push(&e);
            });
            let deadline = tokio::time::Instant::now() + limits.workflow_timeout;
            // The awaits below are boxed: the task lives as long as the run (thousands may
            // wait on their LLM at once), and unboxed its state reserved room for every one of
            // these futures at once: 40 KB per run, most of it for the store's and the schema
            // cache's, which are done within milliseconds (now 1.3 KB + the run's own 5.5 KB).
            let outcome = match tokio::time::timeout_at(
                deadline,
                Box::pin(state2.databases.catalog(
                    &state2.store,
                    &conn,
                    false,
                    limits.workflow_timeout,
                )),
            )
            .await
            {
                Ok(Ok(catalog)) => {
                    // Sampled values help; waiting for them is worth a moment once per schema,
                    // never the run (sampling goes on in the background).
                    let values_deadline = (tokio::time::Instant::now()
                        + Duration::from_secs(2).min(limits.workflow_timeout / 4))
                    .min(deadline);
                    let values = Box::pin(state2.databases.values(
                        conn.id,
                        &catalog.catalog,
                        values_deadline,
                    ))
                    .await;
                    let input = RunInput {
                        question: question.clone(),
                        db,
                        catalog: catalog.catalog.clone(),
                        examples,
                        limits,
                        cancel: h.cancel.clone(),
                        sink,
                        values,
                    };
                    Box::pin(querypad_agent::run(input, &mut generator)).await
                }
                Ok(Err(e)) => failed_outcome(
                    format!("Could not read the database schema: {}", e.message),
                    "schema_unavailable",
                ),
                Err(_) => failed_outcome(
                    "Time ran out while reading the database schema.".into(),
                    "deadline",
                ),
            };
            let answer = match (req.notebook_id, &outcome.sql) {
                (Some(nb), Some(sql)) => Some(answer_cell(
                    nb,
                    conn.id,
                    &notebook_conn,
                    &question,
                    sql,
                    &outcome,
                )),
                _ => None,
            };
            let response = response_json(
                &h.id,
                &question,
                conn.id,
                req.notebook_id,
                &generator,
                &outcome,
                None,
            );
            metrics::histogram!("querypad_workflow_seconds").record(outcome.timings.total / 1000.0);
            metrics::histogram!("querypad_agent_iterations").record(f64::from(outcome.iterations));
            metrics::counter!("querypad_agent_runs_total", "status" => outcome.status.as_str())
                .increment(1);
            metrics::counter!("querypad_llm_tokens_total", "kind" => "input")
                .increment(outcome.usage.input_tokens);
            metrics::counter!("querypad_llm_tokens_total", "kind" => "output")
                .increment(outcome.usage.output_tokens);
            metrics::gauge!("querypad_agent_runs_in_progress").decrement(1.0);
            tracing::info!(
                run_id = %h.id,
                status = outcome.status.as_str(),
                reason = outcome.reason.as_deref().unwrap_or(""),
                iterations = outcome.iterations,
                llm_ms = outcome.timings.llm,
                sql_ms = outcome.timings.sql,
                total_ms = outcome.timings.total,
                input_tokens = outcome.usage.input_tokens,
                output_tokens = outcome.usage.output_tokens,
                "agent run finished"
            );
            if let Some(pending) = recorded
                && let Err(e) = Box::pin(pending.wait()).await
            {
                tracing::error!(run_id = %h.id, error = %e, "could not record the run's start");
            }
            // Durable first (the run record and its answer cell in one group-committed
            // transaction), then answered: a client never sees a run the store could lose.
            let events = h.events_json();
            let mut response = response;
            match Box::pin(state2.store.finish_run(FinishedRun {
                id: h.id.clone(),
                status: outcome.status.as_str().into(),
                response: response.clone(),
                events,
                answer,
            }))
            .await
            {
                Ok(cell_id) => response["cell_id"] = cell_id.into(),
                Err(e) => {
                    tracing::error!(run_id = %h.id, error = %e, "could not store the finished run");
                }
            }
            h.finish(response);
            state2.runs.expire_later(h.id.clone());
        },
        span,
    ));
    Ok(handle)
}

fn failed_outcome(message: String, reason: &str) -> Outcome {
    Outcome {
        status: querypad_agent::Status::Failed,
        sql: None,
        executed_sql: None,
        explanation: None,
        result: None,
        iterations: 0,
        attempts: Vec::new(),
        timings: Default::default(),
        usage: Default::default(),
        message,
        warnings: Vec::new(),
        reason: Some(reason.into()),
    }
}

/// The notebook cell that records a run's answer: the question as a comment line, then the SQL,
/// with its execution summary; the connection is named only when it is not the notebook's own.
fn answer_cell(
    notebook_id: i64,
    connection_id: i64,
    notebook_conn: &Option<Option<i64>>,
    question: &str,
    sql: &str,
    outcome: &Outcome,
) -> AnswerCell {
    let one_line = question.replace(['\n', '\r'], " ");
    AnswerCell {
        notebook_id,
        source: format!("-- {one_line}\n{sql}"),
        connection_id: (notebook_conn.flatten() != Some(connection_id)).then_some(connection_id),
        last_run: outcome.result.as_ref().map(|rs| {
            json!({
                "ran_at": crate::time::now_iso(), "connection_id": connection_id,
                "row_count": rs.row_count, "truncated": rs.truncated,
                "elapsed_ms": rs.elapsed_ms, "error": null,
            })
        }),
    }
}

/// The seed's response shape, kept verbatim and extended.
pub fn response_json(
    run_id: &str,
    question: &str,
    connection_id: i64,
    notebook_id: Option<i64>,
    generator: &Generator,
    o: &Outcome,
    cell_id: Option<i64>,
) -> Value {
    let (columns, rows, row_count, truncated) = match &o.result {
        Some(rs) => (
            json!(rs.columns),
            json!(rs.rows),
            json!(rs.row_count),
            json!(rs.truncated),
        ),
        None => (json!([]), json!([]), json!(0), json!(false)),
    };
    json!({
        "run_id": run_id,
        "status": o.status.as_str(),
        "question": question,
        "connection_id": connection_id,
        "notebook_id": notebook_id,
        "sql": o.sql,
        "executed_sql": o.executed_sql,
        "explanation": o.explanation,
        "columns": columns,
        "rows": rows,
        "row_count": row_count,
        "truncated": truncated,
        "cell_id": cell_id,
        "iterations": o.iterations,
        "attempts": o.attempts,
        "timings_ms": {
            "context": o.timings.context,
            "llm": o.timings.llm,
            "sql": o.timings.sql,
            "total": o.timings.total,
            "per_iteration": o.timings.per_iteration,
        },
        "usage": {
            "input": o.usage.input_tokens,
            "output": o.usage.output_tokens,
            "cache_read": o.usage.cache_read_tokens,
            "cache_write": o.usage.cache_write_tokens,
        },
        "provider": generator.provider_name(),
        "model": generator.model(),
        "message": o.message,
        "reason": o.reason,
        "warnings": o.warnings,
    })
}
