//! The built-in generator on the demo database: a set of simple questions written for this
//! project (with gold SQL, `tests/data/chinook_questions.csv`), run through the real agent path
//! and graded by execution like `querypad eval` does. It must answer at least 90 % correctly.

mod common;

use querypad_agent::eval::{self, EvalOptions, Verdict};
use querypad_agent::{AgentLimits, Generator};

#[tokio::test]
async fn the_builtin_generator_answers_the_chinook_questions() {
    let target = common::sqlite_target(&querypad_testkit::demo_sqlite()).await;
    let questions =
        eval::load_questions(&common::data("chinook_questions.csv")).expect("question file");
    assert!(questions.len() >= 40, "at least 40 questions");
    let opts = EvalOptions {
        limits: AgentLimits::default(),
        with_instructions: false,
    };
    let mut reports = Vec::new();
    for q in questions {
        let q = q.expect("every row is well formed");
        let mut generator = Generator::builtin();
        let r = eval::evaluate(&q, &target, &mut generator, opts).await;
        if r.verdict != Verdict::Correct {
            eprintln!(
                "{:?}: {}\n   sql: {:?}\n   {} {}",
                r.verdict,
                r.question,
                r.sql,
                r.message,
                r.detail.clone().unwrap_or_default()
            );
        }
        reports.push(r);
    }
    let s = eval::summarize(&reports);
    eprintln!(
        "chinook: {} of {} correct ({:.1} %)",
        s.overall.correct,
        s.overall.questions,
        s.overall.ex * 100.0
    );
    assert_eq!(
        s.overall.graded, s.overall.questions,
        "every gold query runs"
    );
    assert!(
        s.overall.ex >= 0.9,
        "the built-in generator answered {:.1} % correctly",
        s.overall.ex * 100.0
    );
}
