//! Measuring the agent: question files in defog's CSV format run through the real agent path on
//! real databases and graded by comparing execution results, plus schema-linking recall on
//! Spider and BIRD.
//!
//! Why in the library: `querypad eval` (the CLI) and the test suite (the harness proving itself
//! with an oracle and a wrong generator) must grade with exactly the same rules.

pub mod compare;
pub mod csv;
pub mod gold;
pub mod linking;
pub mod run;

pub use csv::{BadRow, CsvError, EvalQuestion, load_questions, parse_questions};
pub use run::{
    EvalOptions, EvalTarget, Figures, QuestionReport, Summary, Verdict, evaluate, summarize,
};
