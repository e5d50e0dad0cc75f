//! The evaluation harness proves itself: an oracle generator (the fake LLM answering each
//! question's gold SQL through `submit_sql`) scores 100 % on a sample of the public defog
//! questions, on SQLite and on PostgreSQL, and a generator answering a fixed wrong query
//! scores 0 %. Both go through the real agent path and the same grading as `querypad eval`.
//!
//! PostgreSQL needs `QUERYPAD_TEST_PG_URL` and the defog databases (`scripts/load-defog.sh`).

mod common;

use querypad_agent::eval::{self, EvalOptions, EvalQuestion, EvalTarget, QuestionReport, Verdict};
use querypad_agent::{AgentLimits, Generator, LlmSettings};
use querypad_llm::{Provider, ProviderConfig, ProviderKind};
use querypad_testkit::fake_llm::{FakeLlm, Handler, Reply, Step};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Every `step`-th question of each database (a sample covering every database and category).
fn sample(file: &str, per_db: usize) -> Vec<EvalQuestion> {
    let path = querypad_testkit::datasets_dir()
        .join("defog/questions")
        .join(file);
    let rows = eval::load_questions(&path).expect("defog question file");
    let mut by_db: BTreeMap<String, Vec<EvalQuestion>> = BTreeMap::new();
    for q in rows.into_iter().map(|r| r.expect("well-formed row")) {
        by_db.entry(q.db_name.clone()).or_default().push(q);
    }
    let mut out = Vec::new();
    for qs in by_db.values() {
        let step = (qs.len() / per_db.min(qs.len())).max(1);
        out.extend(qs.iter().step_by(step).take(per_db).cloned());
    }
    out
}

/// The question a request asks: the first user message, after "Question: ".
fn asked(body: &Value) -> String {
    let content = &body["messages"][0]["content"];
    let text = match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    text.split_once("Question: ")
        .map(|(_, q)| q.trim().to_string())
        .unwrap_or_default()
}

/// A fake LLM that submits `answer(question)` through the `submit_sql` tool.
async fn answering(answer: impl Fn(&str) -> String + Send + Sync + 'static) -> FakeLlm {
    let handler: Handler = Arc::new(move |body: &Value| {
        let sql = answer(&asked(body));
        Step::now(Reply::ToolUse {
            name: "submit_sql".into(),
            input: json!({"sql": sql, "explanation": "gold"}),
            text: None,
        })
    });
    FakeLlm::anthropic_with(handler).await
}

fn generator(fake: &FakeLlm) -> Generator {
    let provider = Provider::new(ProviderConfig {
        kind: ProviderKind::Anthropic,
        base_url: Some(fake.base_url.clone()),
        api_key: Some("sk-test-not-a-key".into()),
        model: "oracle".into(),
        tools: true,
    })
    .expect("provider");
    Generator::llm(LlmSettings {
        provider,
        tools: true,
        permits: None,
        max_tokens: 1024,
        max_tool_rounds: 1,
    })
}

async fn run_all(
    questions: &[EvalQuestion],
    targets: &HashMap<String, EvalTarget>,
    fake: &FakeLlm,
    expect: Verdict,
) -> Vec<QuestionReport> {
    let opts = EvalOptions {
        limits: AgentLimits::default(),
        with_instructions: false,
    };
    let mut out = Vec::new();
    for q in questions {
        let mut g = generator(fake);
        let r = eval::evaluate(q, &targets[&q.db_name], &mut g, opts).await;
        if r.verdict != expect {
            eprintln!(
                "{:?} {} — {}\n   sql: {:?}\n   {}",
                r.verdict,
                q.db_name,
                q.question,
                r.sql,
                r.detail.clone().unwrap_or_else(|| r.message.clone())
            );
        }
        out.push(r);
    }
    out
}

async fn prove(engine: &str, questions: Vec<EvalQuestion>, targets: HashMap<String, EvalTarget>) {
    let n = questions.len();
    let golds: HashMap<String, String> = questions
        .iter()
        .map(|q| {
            (
                q.question.clone(),
                eval::gold::expand(&q.gold)
                    .into_iter()
                    .next()
                    .expect("a gold query"),
            )
        })
        .collect();
    let oracle = answering(move |q| {
        golds
            .get(q)
            .cloned()
            .unwrap_or_else(|| "SELECT 'unknown question'".into())
    })
    .await;
    let s = eval::summarize(&run_all(&questions, &targets, &oracle, Verdict::Correct).await);
    eprintln!(
        "{engine} oracle: {n} questions, {} graded, {} correct (EX {:.1} %)",
        s.overall.graded,
        s.overall.correct,
        s.overall.ex * 100.0
    );
    assert_eq!(s.overall.graded, n, "every gold query of the sample runs");
    assert_eq!(
        s.overall.correct, n,
        "the oracle scores 100 %: {:?}",
        s.verdicts
    );

    let wrong = answering(|_| "SELECT 'querypad: a wrong answer' AS wrong".into()).await;
    let s = eval::summarize(&run_all(&questions, &targets, &wrong, Verdict::Wrong).await);
    eprintln!(
        "{engine} fixed wrong query: {} answered, {} correct",
        s.overall.answered, s.overall.correct
    );
    assert_eq!(s.overall.answered, n, "the wrong query runs every time");
    assert_eq!(
        s.overall.correct, 0,
        "a fixed wrong query scores 0 %: {:?}",
        s.verdicts
    );
}

async fn sqlite_targets(questions: &[EvalQuestion]) -> HashMap<String, EvalTarget> {
    let mut targets = HashMap::new();
    for q in questions {
        if !targets.contains_key(&q.db_name) {
            let path = querypad_testkit::datasets_dir()
                .join(format!("defog/databases/{0}/{0}.sqlite", q.db_name));
            targets.insert(q.db_name.clone(), common::sqlite_target(&path).await);
        }
    }
    targets
}

async fn postgres_targets(questions: &[EvalQuestion]) -> HashMap<String, EvalTarget> {
    let mut targets = HashMap::new();
    for q in questions {
        if !targets.contains_key(&q.db_name) {
            let url = querypad_testkit::pg_url(&q.db_name).unwrap_or_default();
            targets.insert(q.db_name.clone(), common::url_target(&url).await);
        }
    }
    targets
}

#[tokio::test]
async fn the_harness_proves_itself_on_sqlite() {
    let questions = sample("questions_gen_sqlite.csv", 3);
    let targets = sqlite_targets(&questions).await;
    assert_eq!(targets.len(), 7, "every defog database is sampled");
    prove("SQLite", questions, targets).await;
}

#[tokio::test]
async fn the_harness_proves_itself_on_postgres() {
    if querypad_testkit::pg_url("postgres").is_none() {
        return;
    }
    let questions = sample("questions_gen_postgres.csv", 3);
    let targets = postgres_targets(&questions).await;
    prove("PostgreSQL", questions, targets).await;
}

/// The full run behind `bench/eval_oracle.sh`: every public question, on SQLite.
#[tokio::test]
#[ignore]
async fn full_oracle_run_on_sqlite() {
    let questions = sample("questions_gen_sqlite.csv", usize::MAX);
    let targets = sqlite_targets(&questions).await;
    prove("SQLite", questions, targets).await;
}

/// The full run behind `bench/eval_oracle.sh`: every public question, on PostgreSQL.
#[tokio::test]
#[ignore]
async fn full_oracle_run_on_postgres() {
    if querypad_testkit::pg_url("postgres").is_none() {
        return;
    }
    let questions = sample("questions_gen_postgres.csv", usize::MAX);
    let targets = postgres_targets(&questions).await;
    prove("PostgreSQL", questions, targets).await;
}
