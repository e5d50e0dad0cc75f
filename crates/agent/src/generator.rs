//! Generators propose SQL for a question. The LLM generator keeps the conversation of a run
//! (tool-use turns included) so every repair sees what was tried and why it failed.

use crate::builtin::BuiltinGenerator;
use crate::context::{Context, dialect_name};
use crate::events::{Event, EventSink};
use crate::tools::{self, ToolContext};
use querypad_llm::{
    CallLimits, ChatRequest, LlmError, Message, Part, Provider, Role, SystemPart, ToolSpec, Usage,
};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Name of the tool through which the model submits its answer.
pub const SUBMIT_TOOL: &str = "submit_sql";

/// Exploration tools offered to the model next to `submit_sql`.
pub const EXPLORATION_TOOLS: &[&str] = &["describe_table", "sample_values"];

/// SQL proposed by a generator.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The SQL (may be empty when the generator says it cannot answer).
    pub sql: String,
    /// One sentence on what it does.
    pub explanation: Option<String>,
    /// The `submit_sql` call to answer, when it came as a tool call.
    pub tool_use_id: Option<String>,
}

/// What the loop tells the generator after a proposal failed.
#[derive(Debug, Clone)]
pub struct Feedback {
    /// The call to answer (tool-use conversations).
    pub tool_use_id: Option<String>,
    /// What happened, for the model.
    pub text: String,
    /// Whether it was an error (an empty result is not).
    pub is_error: bool,
}

/// Why a generator produced nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The provider failed (after retries).
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// No generator is available; the message says what to configure.
    #[error("{0}")]
    Unavailable(String),
    /// The reply held no SQL; the text goes back to the model.
    #[error("the reply contained no SQL")]
    NoSql {
        /// What the model said.
        reply: String,
    },
    /// The generator declined the question (the message names what it could not map).
    #[error("{0}")]
    Declined(String),
}

/// Per-run accounting a generator adds to.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenStats {
    /// Tokens used.
    pub usage: Usage,
    /// Generator calls made.
    pub calls: u32,
    /// Milliseconds spent in generator calls (including waits for a provider slot).
    pub ms: f64,
}

/// Settings of the LLM generator.
#[derive(Clone)]
pub struct LlmSettings {
    /// The provider.
    pub provider: Provider,
    /// Whether to use tool calls (else SQL is read from a fenced block in the text).
    pub tools: bool,
    /// Bound on concurrent calls to this provider across all runs.
    pub permits: Option<Arc<Semaphore>>,
    /// Output token cap per call.
    pub max_tokens: u32,
    /// Exploration rounds allowed within one iteration.
    pub max_tool_rounds: u32,
}

/// A generator for one run.
pub enum Generator {
    /// An LLM provider.
    Llm(LlmGenerator),
    /// The built-in offline generator.
    Builtin(BuiltinGenerator),
    /// Nothing configured; every run fails with this message.
    Unavailable(String),
}

/// The LLM generator's per-run state.
pub struct LlmGenerator {
    settings: LlmSettings,
    messages: Vec<Message>,
    started: bool,
    /// Answers instead when the provider cannot be reached (`agent.fallback = "builtin"`).
    fallback: Option<BuiltinGenerator>,
    fell_back: bool,
}

/// Whether an LLM error means the provider could not be reached or could not serve (the
/// built-in fallback applies), as opposed to a configuration or request problem.
pub fn unreachable(e: &LlmError) -> bool {
    matches!(
        e,
        LlmError::Network(_)
            | LlmError::Timeout(_)
            | LlmError::Overloaded(_)
            | LlmError::Server(_)
            | LlmError::RateLimited(_)
    )
}

impl Generator {
    /// An LLM generator with an empty conversation.
    pub fn llm(settings: LlmSettings) -> Generator {
        Generator::Llm(LlmGenerator {
            settings,
            messages: Vec::new(),
            started: false,
            fallback: None,
            fell_back: false,
        })
    }

    /// An LLM generator that falls back to the built-in one when the provider is unreachable.
    pub fn llm_with_fallback(settings: LlmSettings) -> Generator {
        Generator::Llm(LlmGenerator {
            settings,
            messages: Vec::new(),
            started: false,
            fallback: Some(BuiltinGenerator::new()),
            fell_back: false,
        })
    }

    /// The built-in offline generator.
    pub fn builtin() -> Generator {
        Generator::Builtin(BuiltinGenerator::new())
    }

    /// Gives the built-in generator (or fallback) the run's sampled values.
    pub fn set_values(&mut self, values: Option<Arc<crate::values::ValueIndex>>) {
        match self {
            Generator::Builtin(b) => b.set_values(values),
            Generator::Llm(LlmGenerator {
                fallback: Some(b), ..
            }) => b.set_values(values),
            _ => {}
        }
    }

    /// Whether the LLM was unreachable and the built-in fallback answered.
    pub fn fell_back(&self) -> bool {
        matches!(self, Generator::Llm(g) if g.fell_back)
    }

    /// Provider name for the run record.
    pub fn provider_name(&self) -> &str {
        match self {
            Generator::Llm(g) => g.settings.provider.name(),
            Generator::Builtin(_) => "builtin",
            Generator::Unavailable(_) => "none",
        }
    }

    /// Model name for the run record.
    pub fn model(&self) -> &str {
        match self {
            Generator::Llm(g) => g.settings.provider.model(),
            Generator::Builtin(_) | Generator::Unavailable(_) => "",
        }
    }

    /// Proposes SQL for iteration `iteration`, given the feedback on the previous proposal.
    #[allow(clippy::too_many_arguments)]
    pub async fn propose(
        &mut self,
        question: &str,
        ctx: &Context,
        feedback: Option<Feedback>,
        tool_ctx: &ToolContext,
        per_call_timeout: Duration,
        iteration: u32,
        sink: &EventSink,
        stats: &mut GenStats,
    ) -> Result<Proposal, GenError> {
        match self {
            Generator::Unavailable(msg) => Err(GenError::Unavailable(msg.clone())),
            Generator::Builtin(b) => {
                b.propose(question, ctx, feedback, tool_ctx, iteration, sink, stats)
                    .await
            }
            Generator::Llm(g) => {
                if g.fell_back
                    && let Some(b) = g.fallback.as_mut()
                {
                    return b
                        .propose(question, ctx, feedback, tool_ctx, iteration, sink, stats)
                        .await;
                }
                // With a fallback, the provider (retries included) gets one call's time, so
                // an unreachable one leaves the run time to answer offline.
                let mut limited;
                let call_ctx = if g.fallback.is_some() {
                    limited = tool_ctx.clone();
                    limited.deadline = limited.deadline.min(Instant::now() + per_call_timeout);
                    &limited
                } else {
                    tool_ctx
                };
                match g
                    .propose(
                        question,
                        ctx,
                        feedback,
                        call_ctx,
                        per_call_timeout,
                        iteration,
                        sink,
                        stats,
                    )
                    .await
                {
                    Err(GenError::Llm(e)) if unreachable(&e) && g.fallback.is_some() => {
                        g.fell_back = true;
                        sink(Event::IterationFailed {
                            iteration,
                            reason: format!(
                                "{e}; answering with the built-in generator (agent.fallback = \"builtin\")"
                            ),
                        });
                        match g.fallback.as_mut() {
                            Some(b) => {
                                b.propose(question, ctx, None, tool_ctx, iteration, sink, stats)
                                    .await
                            }
                            None => Err(GenError::Llm(e)),
                        }
                    }
                    other => other,
                }
            }
        }
    }
}

fn instructions(ctx: &Context, tools: bool) -> String {
    let dialect = dialect_name(ctx.kind);
    let answer = if tools {
        "Answer by calling the submit_sql tool with the SQL and a one-sentence explanation. You may first call describe_table or sample_values when you need exact column values. If the question cannot be answered from this schema, call submit_sql with an empty sql and say why in the explanation."
    } else {
        "Answer with the SQL in one ```sql fenced block, followed by one sentence explaining it. If the question cannot be answered from this schema, reply without a code block and say why."
    };
    format!(
        "You are Querypad's SQL assistant. Write one read-only SQL query in the {dialect} dialect that answers the user's question on the database described below.\n\
         Rules: use only the tables and columns listed; a single SELECT (or WITH … SELECT) statement; never modify data; name the columns you return; add ORDER BY when the question implies an order; add LIMIT only when the question asks for a number of results.\n\
         When a query fails or returns nothing, you will be told why: fix it rather than repeating it.\n{answer}"
    )
}

fn submit_spec() -> ToolSpec {
    ToolSpec {
        name: SUBMIT_TOOL.into(),
        description: "Submit the SQL query that answers the question. It is run read-only; errors come back to you.".into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "sql": {"type": "string", "description": "One read-only SQL statement"},
                "explanation": {"type": "string", "description": "One sentence on what the query returns"}
            },
            "required": ["sql"],
            "additionalProperties": false
        }),
    }
}

/// Extracts SQL from free text: a ```sql block, any fenced block, or text that starts like SQL.
pub fn sql_from_text(text: &str) -> Option<(String, Option<String>)> {
    let fenced = |marker: &str| -> Option<(String, String)> {
        let start = text.find(marker)?;
        let body_start = start + marker.len();
        let rest = &text[body_start..];
        let rest = rest.strip_prefix('\n').unwrap_or(rest);
        let end = rest.find("```")?;
        let sql = rest[..end].trim().to_string();
        let after = rest[end + 3..].trim().to_string();
        let before = text[..start].trim().to_string();
        Some((sql, if after.is_empty() { before } else { after }))
    };
    let found = fenced("```sql")
        .or_else(|| fenced("```SQL"))
        .or_else(|| fenced("```"));
    if let Some((sql, note)) = found
        && !sql.is_empty()
    {
        return Some((sql, Some(note).filter(|n| !n.is_empty())));
    }
    let t = text.trim();
    let upper = t.get(..6).unwrap_or("").to_ascii_uppercase();
    if upper.starts_with("SELECT") || upper.starts_with("WITH") {
        return Some((t.trim_end_matches(';').to_string(), None));
    }
    None
}

impl LlmGenerator {
    #[allow(clippy::too_many_arguments)]
    async fn propose(
        &mut self,
        question: &str,
        ctx: &Context,
        feedback: Option<Feedback>,
        tool_ctx: &ToolContext,
        per_call_timeout: Duration,
        iteration: u32,
        sink: &EventSink,
        stats: &mut GenStats,
    ) -> Result<Proposal, GenError> {
        let tools_on = self.settings.tools;
        if !self.started {
            self.started = true;
            let mut text = String::new();
            if !ctx.examples.is_empty() {
                text.push_str(
                    "Earlier questions in this notebook and the SQL that answered them:\n",
                );
                for ex in &ctx.examples {
                    text.push_str(&format!("Q: {}\n```sql\n{}\n```\n", ex.question, ex.sql));
                }
                text.push('\n');
            }
            text.push_str("Question: ");
            text.push_str(question);
            self.messages.push(Message {
                role: Role::User,
                content: vec![Part::Text { text }],
            });
        } else if let Some(fb) = feedback {
            let part = match fb.tool_use_id {
                Some(id) => Part::ToolResult {
                    tool_use_id: id,
                    content: fb.text,
                    is_error: fb.is_error,
                },
                None => Part::Text { text: fb.text },
            };
            self.push_user(part);
        }
        let system = vec![
            SystemPart {
                text: instructions(ctx, tools_on),
                cache: false,
            },
            SystemPart {
                text: ctx.schema_text.clone(),
                cache: true,
            },
        ];
        let mut tool_specs = Vec::new();
        if tools_on {
            tool_specs.push(submit_spec());
            tool_specs.extend(tools::specs(EXPLORATION_TOOLS));
        }
        let mut rounds = 0;
        loop {
            let req = ChatRequest {
                system: system.clone(),
                messages: self.messages.clone(),
                tools: tool_specs.clone(),
                max_tokens: self.settings.max_tokens,
                temperature: Some(0.0),
            };
            let started = Instant::now();
            let limits = CallLimits {
                per_call_timeout,
                deadline: tool_ctx.deadline,
            };
            let result = self.call(&req, limits).await;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            stats.calls += 1;
            stats.ms += ms;
            let resp = match result {
                Ok(r) => r,
                Err(e) => {
                    sink(Event::LlmCall {
                        iteration,
                        ms,
                        usage: Usage::default(),
                        attempts: 0,
                        error: Some(e.to_string()),
                    });
                    return Err(e.into());
                }
            };
            stats.usage.add(resp.usage);
            sink(Event::LlmCall {
                iteration,
                ms,
                usage: resp.usage,
                attempts: resp.attempts,
                error: None,
            });
            self.messages.push(Message {
                role: Role::Assistant,
                content: resp.content.clone(),
            });

            let mut text = String::new();
            let mut submit: Option<Proposal> = None;
            let mut explore: Vec<(String, String, serde_json::Value)> = Vec::new();
            for part in &resp.content {
                match part {
                    Part::Text { text: t } => {
                        text.push_str(t);
                    }
                    Part::ToolUse { id, name, input } if name == SUBMIT_TOOL => {
                        submit = Some(Proposal {
                            sql: input
                                .get("sql")
                                .and_then(|v| v.as_str())
                                .unwrap_or("")
                                .trim()
                                .to_string(),
                            explanation: input
                                .get("explanation")
                                .and_then(|v| v.as_str())
                                .map(str::to_string)
                                .filter(|s| !s.is_empty()),
                            tool_use_id: Some(id.clone()),
                        });
                    }
                    Part::ToolUse { id, name, input } => {
                        explore.push((id.clone(), name.clone(), input.clone()))
                    }
                    Part::ToolResult { .. } => {}
                }
            }
            // Every tool call gets an answer in the next user turn; exploration ones now.
            let mut results = Vec::new();
            for (id, name, input) in &explore {
                let t0 = Instant::now();
                let allowed = EXPLORATION_TOOLS.contains(&name.as_str());
                let out = if allowed {
                    tools::call(name, input, tool_ctx).await
                } else {
                    Err(tools::ToolError::UnknownTool(name.clone()))
                };
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                let (content, is_error) = match out {
                    Ok(v) => (v.to_string(), false),
                    Err(e) => (e.to_string(), true),
                };
                sink(Event::ToolCalled {
                    iteration,
                    tool: name.clone(),
                    ms,
                    error: is_error.then(|| content.clone()),
                });
                results.push(Part::ToolResult {
                    tool_use_id: id.clone(),
                    content,
                    is_error,
                });
            }
            if let Some(mut p) = submit {
                if !results.is_empty() {
                    // Answer the exploration calls alongside the coming submit result.
                    self.pending_results(results);
                }
                if p.explanation.is_none() && !text.trim().is_empty() {
                    p.explanation = Some(text.trim().to_string());
                }
                return Ok(p);
            }
            if !results.is_empty() && rounds < self.settings.max_tool_rounds {
                rounds += 1;
                self.messages.push(Message {
                    role: Role::User,
                    content: results,
                });
                continue;
            }
            if !results.is_empty() {
                self.messages.push(Message {
                    role: Role::User,
                    content: results,
                });
            }
            return match sql_from_text(&text) {
                Some((sql, explanation)) => Ok(Proposal {
                    sql,
                    explanation,
                    tool_use_id: None,
                }),
                None => Err(GenError::NoSql { reply: text }),
            };
        }
    }

    /// Parts to send with the next user turn (tool results that must precede new text).
    fn pending_results(&mut self, parts: Vec<Part>) {
        self.messages.push(Message {
            role: Role::User,
            content: parts,
        });
    }

    /// Adds a user part, merging into a trailing user message (tool results and feedback must
    /// share the turn that follows the assistant's tool calls).
    fn push_user(&mut self, part: Part) {
        if let Some(last) = self.messages.last_mut()
            && last.role == Role::User
        {
            // Tool results come first in a user turn.
            if matches!(part, Part::ToolResult { .. }) {
                last.content.insert(0, part);
            } else {
                last.content.push(part);
            }
            return;
        }
        self.messages.push(Message {
            role: Role::User,
            content: vec![part],
        });
    }

    async fn call(
        &self,
        req: &ChatRequest,
        limits: CallLimits,
    ) -> Result<querypad_llm::ChatResponse, LlmError> {
        let _permit = match &self.settings.permits {
            Some(sem) => {
                match tokio::time::timeout_at(limits.deadline, sem.clone().acquire_owned()).await {
                    Ok(Ok(p)) => Some(p),
                    Ok(Err(_)) => {
                        return Err(LlmError::Config("the provider is shutting down".into()));
                    }
                    Err(_) => {
                        return Err(LlmError::Timeout(0));
                    }
                }
            }
            None => None,
        };
        self.settings.provider.chat(req, limits).await
    }
}

#[cfg(test)]
mod tests {
    use super::sql_from_text;

    #[test]
    fn sql_is_found_in_the_usual_reply_shapes() {
        let (sql, note) =
            sql_from_text("Here you go:\n```sql\nSELECT 1\n```\nIt returns one.").unwrap();
        assert_eq!(sql, "SELECT 1");
        assert_eq!(note.as_deref(), Some("It returns one."));
        assert_eq!(sql_from_text("```\nSELECT 2\n```").unwrap().0, "SELECT 2");
        assert_eq!(sql_from_text("select 3;").unwrap().0, "select 3");
        assert!(sql_from_text("I cannot answer that from this schema.").is_none());
    }
}
