//! What a run reports while it works. One typed event per step, with timings, so the same
//! stream feeds SSE clients, logs and metrics without any of them reaching into the loop.

use querypad_llm::Usage;
use serde::Serialize;
use std::sync::Arc;

/// A step of a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The context for the generator is ready.
    ContextBuilt {
        /// Tables placed in the context.
        tables_in_context: usize,
        /// Tables in the schema.
        tables_total: usize,
        /// Columns placed in the context.
        columns_in_context: usize,
        /// Columns in the schema.
        columns_total: usize,
        /// Whether anything was left out.
        truncated: bool,
        /// Tables left out (first few), so a user can see what the model could not.
        left_out: Vec<String>,
        /// Notebook examples included.
        examples: usize,
        /// Milliseconds spent.
        ms: f64,
    },
    /// One generator call finished (an LLM call, or the built-in generator).
    LlmCall {
        /// Iteration (1-based).
        iteration: u32,
        /// Milliseconds spent.
        ms: f64,
        /// Tokens used.
        usage: Usage,
        /// HTTP attempts (retries + 1).
        attempts: u32,
        /// Error text when the call failed.
        error: Option<String>,
    },
    /// A tool the model asked for ran (exploration, not the answer).
    ToolCalled {
        /// Iteration.
        iteration: u32,
        /// Tool name.
        tool: String,
        /// Milliseconds spent.
        ms: f64,
        /// Error text when it failed.
        error: Option<String>,
    },
    /// The proposed SQL was checked.
    SqlChecked {
        /// Iteration.
        iteration: u32,
        /// The SQL as proposed.
        sql: String,
        /// Whether it passed.
        ok: bool,
        /// Why not.
        error: Option<String>,
    },
    /// The SQL ran (or failed on the database).
    SqlExecuted {
        /// Iteration.
        iteration: u32,
        /// The SQL as executed (with any LIMIT added).
        sql: String,
        /// Milliseconds spent.
        ms: f64,
        /// Rows returned.
        rows: Option<u64>,
        /// Database error text.
        error: Option<String>,
    },
    /// An iteration did not produce an answer; the reason goes back to the generator.
    IterationFailed {
        /// Iteration.
        iteration: u32,
        /// Why, as told to the generator.
        reason: String,
    },
    /// The run ended.
    Finished {
        /// `succeeded`, `degraded` or `failed`.
        status: String,
        /// A sentence for people.
        message: String,
    },
}

impl Event {
    /// The event's type name, used as the SSE `event:` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ContextBuilt { .. } => "context_built",
            Event::LlmCall { .. } => "llm_call",
            Event::ToolCalled { .. } => "tool_called",
            Event::SqlChecked { .. } => "sql_checked",
            Event::SqlExecuted { .. } => "sql_executed",
            Event::IterationFailed { .. } => "iteration_failed",
            Event::Finished { .. } => "finished",
        }
    }
}

/// Where events go. The server appends them to the run's log and wakes SSE readers.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// A sink that drops everything (evaluation, tests that only look at the outcome).
pub fn discard() -> EventSink {
    Arc::new(|_| {})
}
