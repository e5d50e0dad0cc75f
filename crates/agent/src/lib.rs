//! The text-to-SQL workflow, free of HTTP: the server, MCP and `querypad eval` all drive it.
//!
//! A run builds a context (schema linking, sample values, notebook examples), asks a generator
//! for SQL, checks it read-only, runs it under the statement timeout, and feeds errors back —
//! all inside one workflow deadline, degrading to the last SQL that worked when time runs out.

pub mod builtin;
pub mod context;
pub mod derived;
pub mod eval;
pub mod events;
pub mod exec;
pub mod generator;
pub mod linking;
pub mod runner;
pub mod tools;
pub mod values;

pub use builtin::{BuiltinGenerator, Declined, Translation, translate};
pub use context::Example;
pub use events::{Event, EventSink};
pub use generator::{Generator, LlmSettings};
pub use runner::{AgentLimits, Attempt, Outcome, RunInput, Status, Timings, run};
pub use values::{ValueIndex, ValueLimits};
