//! The built-in generator through the server (the fallback when the LLM is unreachable), and
//! `querypad eval` as an operator runs it: the table, the JSON report, and bad input reported
//! per question instead of aborting.

mod common;

use common::start_with;
use querypad::config::{Config, Overrides};
use querypad_testkit::fake_llm::{FakeLlm, Handler, Reply, Step};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

fn querypad(args: &[&str], dir: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_querypad"))
        .args(args)
        .current_dir(dir)
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("QUERYPAD_CONFIG")
        .output()
        .expect("run querypad")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A databases directory holding the demo database as `chinook/chinook.sqlite`.
fn demo_databases(root: &Path) -> std::path::PathBuf {
    let dbs = root.join("dbs");
    std::fs::create_dir_all(dbs.join("chinook")).unwrap();
    std::fs::copy(
        querypad_testkit::demo_sqlite(),
        dbs.join("chinook/chinook.sqlite"),
    )
    .unwrap();
    dbs
}

#[tokio::test]
async fn an_unreachable_llm_falls_back_to_the_builtin_generator() {
    // Every call fails with 500: the provider is down.
    let fake = FakeLlm::anthropic(vec![]).await;
    let base = fake.base_url.clone();
    let s = start_with(move |c| {
        c.llm.anthropic_api_key = Some("sk-test-key-not-real".into());
        c.llm.anthropic_base_url = Some(base);
        c.agent.llm_call_timeout_secs = 1.5;
        c.agent.fallback = "builtin".into();
    })
    .await;
    let r = s
        .post(
            "/mcp_agent/text-to-sql/",
            json!({"query": "How many tracks are there?", "connection_id": 1}),
        )
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.text);
    assert_eq!(r.body["rows"], json!([[3503]]), "{}", r.text);
    let warnings = r.body["warnings"].to_string();
    assert!(
        warnings.contains("built-in generator answered"),
        "{}",
        r.text
    );
    assert!(fake.request_count() >= 1, "the provider was tried first");
    s.stop().await;
}

#[tokio::test]
async fn without_the_fallback_an_unreachable_llm_fails_the_run() {
    let fake = FakeLlm::anthropic(vec![]).await;
    let base = fake.base_url.clone();
    let s = start_with(move |c| {
        c.llm.anthropic_api_key = Some("sk-test-key-not-real".into());
        c.llm.anthropic_base_url = Some(base);
        c.agent.llm_call_timeout_secs = 1.0;
        c.agent.workflow_timeout_secs = 3.0;
    })
    .await;
    let r = s
        .post(
            "/mcp_agent/text-to-sql/",
            json!({"query": "How many tracks are there?", "connection_id": 1}),
        )
        .await;
    assert_eq!(r.body["status"], "failed", "{}", r.text);
    s.stop().await;
}

#[test]
fn eval_runs_a_question_file_and_writes_the_report() {
    let tmp = querypad_testkit::temp_dir();
    let dbs = demo_databases(tmp.dir());
    let questions =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent/tests/data/chinook_questions.csv");
    let report = tmp.dir().join("report.json");
    let o = querypad(
        &[
            "eval",
            "--questions",
            questions.to_str().unwrap(),
            "--databases",
            dbs.to_str().unwrap(),
            "--generator",
            "builtin",
            "--report",
            report.to_str().unwrap(),
        ],
        tmp.dir(),
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("precision") && out.contains("coverage") && out.contains("median ms"),
        "{out}"
    );
    assert!(out.contains("top_n"), "per-category lines: {out}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let qs = r["questions"].as_array().unwrap();
    assert!(qs.len() >= 40);
    assert!(
        qs.iter()
            .all(|q| q["sql"].is_string() || q["verdict"] != "correct"),
        "every answer has its SQL"
    );
    assert!(
        r["summary"]["overall"]["ex"].as_f64().unwrap() >= 0.9,
        "{}",
        r["summary"]
    );
}

#[test]
fn bad_input_is_reported_per_question() {
    let tmp = querypad_testkit::temp_dir();
    let dbs = demo_databases(tmp.dir());
    let csv = tmp.dir().join("q.csv");
    std::fs::write(
        &csv,
        "db_name,query_category,question,query\n\
         chinook,count,How many tracks are there?,SELECT COUNT(*) FROM Track\n\
         chinook,count,How many genres are there?,SELECT COUNT(*) FROM NoSuchTable\n\
         chinook,count,A row with a missing field\n\
         nowhere,count,How many tracks are there?,SELECT COUNT(*) FROM Track\n",
    )
    .unwrap();
    let report = tmp.dir().join("r.json");
    let o = querypad(
        &[
            "eval",
            "--questions",
            csv.to_str().unwrap(),
            "--databases",
            dbs.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        tmp.dir(),
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let verdicts: Vec<&str> = r["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        vec!["correct", "gold_error", "bad_input", "database_error"],
        "{r}"
    );
    let details: Vec<String> = r["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["detail"].to_string())
        .collect();
    assert!(
        details[1].contains("NoSuchTable"),
        "the failing gold query is named: {}",
        details[1]
    );
    assert!(
        details[2].contains("line 4"),
        "the bad row is located: {}",
        details[2]
    );
    assert!(
        details[3].contains("nowhere"),
        "the missing database is named: {}",
        details[3]
    );

    // A file that cannot be read, or lacks a required column, fails with one clear line.
    let o = querypad(
        &[
            "eval",
            "--questions",
            "/no/such/file.csv",
            "--databases",
            dbs.to_str().unwrap(),
        ],
        tmp.dir(),
    );
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("cannot read /no/such/file.csv"), "{err}");
    std::fs::write(&csv, "db_name,question\nchinook,How many?\n").unwrap();
    let o = querypad(
        &[
            "eval",
            "--questions",
            csv.to_str().unwrap(),
            "--databases",
            dbs.to_str().unwrap(),
        ],
        tmp.dir(),
    );
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("no \"query\" column"), "{err}");
}

#[test]
fn eval_linking_reports_recall_and_context_share() {
    let tmp = querypad_testkit::temp_dir();
    let tables = tmp.dir().join("tables.json");
    let dev = tmp.dir().join("dev.json");
    std::fs::write(
        &tables,
        json!([{
            "db_id": "concert",
            "table_names_original": ["singer", "concert", "singer_in_concert", "stadium"],
            "table_names": ["singer", "concert", "singer in concert", "stadium"],
            "column_names_original": [[-1, "*"], [0, "Singer_ID"], [0, "Name"], [0, "Country"], [0, "Age"], [1, "concert_ID"], [1, "concert_Name"], [1, "Year"], [1, "Stadium_ID"], [2, "concert_ID"], [2, "Singer_ID"], [3, "Stadium_ID"], [3, "Location"], [3, "Capacity"]],
            "column_names": [[-1, "*"], [0, "singer id"], [0, "name"], [0, "country"], [0, "age"], [1, "concert id"], [1, "concert name"], [1, "year"], [1, "stadium id"], [2, "concert id"], [2, "singer id"], [3, "stadium id"], [3, "location"], [3, "capacity"]],
            "column_types": ["text", "number", "text", "text", "number", "number", "text", "text", "number", "number", "number", "number", "text", "number"],
            "primary_keys": [1, 5, 11],
            "foreign_keys": [[9, 5], [10, 1], [8, 11]]
        }])
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        &dev,
        json!([
            {"db_id": "concert", "question": "How many singers are from France?", "query": "SELECT count(*) FROM singer WHERE Country = 'France'"},
            {"db_id": "concert", "question": "What is the capacity of the stadium of each concert?", "query": "SELECT T1.concert_Name, T2.Capacity FROM concert AS T1 JOIN stadium AS T2 ON T1.Stadium_ID = T2.Stadium_ID"}
        ])
        .to_string(),
    )
    .unwrap();
    let o = querypad(
        &[
            "eval",
            "linking",
            "--tables",
            tables.to_str().unwrap(),
            "--questions",
            dev.to_str().unwrap(),
        ],
        tmp.dir(),
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("table recall"), "{out}");
    let figures = out.lines().nth(1).unwrap_or_default().to_string();
    assert!(
        figures.starts_with("2 ") && figures.contains("1.0000"),
        "both questions keep their tables: {out}"
    );
}

#[tokio::test]
async fn eval_drives_an_llm_generator_too() {
    // A "model" that answers every question with the same query: right for one, wrong for the
    // other, and the report says which.
    let handler: Handler = std::sync::Arc::new(|_| {
        Step::now(Reply::ToolUse {
            name: "submit_sql".into(),
            input: json!({"sql": "SELECT COUNT(*) FROM Track", "explanation": "count"}),
            text: None,
        })
    });
    let fake = FakeLlm::anthropic_with(handler).await;
    let tmp = querypad_testkit::temp_dir();
    let dbs = demo_databases(tmp.dir());
    let csv = tmp.dir().join("q.csv");
    std::fs::write(
        &csv,
        "db_name,query_category,question,query\n\
         chinook,count,How many tracks are there?,SELECT COUNT(*) FROM Track\n\
         chinook,count,How many albums are there?,SELECT COUNT(*) FROM Album\n",
    )
    .unwrap();
    let report = tmp.dir().join("r.json");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_querypad"));
    cmd.args(["eval", "--generator", "anthropic", "--questions"])
        .arg(&csv)
        .arg("--databases")
        .arg(&dbs)
        .arg("--report")
        .arg(&report)
        .current_dir(tmp.dir())
        .env("ANTHROPIC_API_KEY", "sk-test-key-not-real")
        .env("ANTHROPIC_BASE_URL", &fake.base_url)
        .env_remove("QUERYPAD_CONFIG");
    let o = cmd.output().await.expect("run querypad");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let verdicts: Vec<&str> = r["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, vec!["correct", "wrong"], "{r}");
    assert!(fake.request_count() >= 2);
    assert!(!out.contains("sk-test-key-not-real") && !err.contains("sk-test-key-not-real"));
}

#[test]
fn agent_fallback_accepts_none_or_builtin() {
    let env =
        |v: &'static str| move |k: &str| (k == "QUERYPAD_AGENT_FALLBACK").then(|| v.to_string());
    let c = Config::load(None, &env("builtin"), &Overrides::default()).expect("builtin is valid");
    assert_eq!(c.agent.fallback, "builtin");
    assert_eq!(Config::default().agent.fallback, "none");
    let err = Config::load(None, &env("sometimes"), &Overrides::default()).unwrap_err();
    assert!(err.to_string().contains("agent.fallback"), "{err}");
}
