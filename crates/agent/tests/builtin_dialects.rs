//! The built-in generator works from the catalog, so the same questions work on PostgreSQL's
//! snake_case Chinook (`invoice_line`, `unit_price`) and MariaDB's PascalCase one, with each
//! dialect's quoting and date functions. Answers are graded against the gold results on the
//! demo SQLite database (same data), skipping questions whose results hold dates (each engine
//! prints them differently) and the catalog questions (names differ by design).

mod common;

use querypad_agent::eval::compare::{Cell, Table, matches, order_matters};
use querypad_agent::eval::{self, EvalTarget};
use querypad_agent::{AgentLimits, Generator, RunInput, Status};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn has_dates(t: &Table) -> bool {
    t.rows.iter().flatten().any(|c| matches!(c, Cell::Text(s) if s.len() >= 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-'))
}

async fn answers(target: &EvalTarget, quote: char) -> (usize, usize) {
    let sqlite = common::sqlite_target(&querypad_testkit::demo_sqlite()).await;
    let questions =
        eval::load_questions(&common::data("chinook_questions.csv")).expect("question file");
    let (mut asked, mut right) = (0, 0);
    for q in questions.into_iter().flatten() {
        if q.category == "list_tables" || q.category == "describe" {
            continue;
        }
        let gold = eval::run::execute(&sqlite.db, &q.gold, Duration::from_secs(10))
            .await
            .expect("gold runs on SQLite");
        if has_dates(&gold) {
            continue;
        }
        asked += 1;
        let input = RunInput {
            question: q.question.clone(),
            db: target.db.clone(),
            catalog: target.catalog.clone(),
            examples: Vec::new(),
            limits: AgentLimits::default(),
            cancel: CancellationToken::new(),
            sink: querypad_agent::events::discard(),
            values: target.values.clone(),
        };
        let outcome = querypad_agent::run(input, &mut Generator::builtin()).await;
        let Some(sql) = outcome.sql.filter(|_| outcome.status == Status::Succeeded) else {
            eprintln!("not answered: {} — {}", q.question, outcome.message);
            continue;
        };
        assert!(
            sql.contains(quote),
            "identifiers are quoted for the dialect: {sql}"
        );
        match eval::run::execute(&target.db, &sql, Duration::from_secs(10)).await {
            Ok(pred) if matches(&gold, &pred, order_matters(&q.category, &q.question)) => {
                right += 1
            }
            Ok(_) => eprintln!("wrong: {} — {sql}", q.question),
            Err(e) => eprintln!("error: {} — {sql}: {e}", q.question),
        }
    }
    (asked, right)
}

#[tokio::test]
async fn the_builtin_generator_adapts_to_postgres_naming() {
    let Some(url) = querypad_testkit::pg_url("chinook") else {
        return;
    };
    let target = common::url_target(&url).await;
    let (asked, right) = answers(&target, '"').await;
    eprintln!("PostgreSQL: {right} of {asked} right");
    assert!(asked >= 35, "{asked} questions compared");
    assert!(
        right * 10 >= asked * 9,
        "{right} of {asked} right on PostgreSQL"
    );
}

#[tokio::test]
async fn the_builtin_generator_adapts_to_mysql_quoting() {
    let Some(url) = querypad_testkit::mysql_url("Chinook") else {
        return;
    };
    let target = common::url_target(&url).await;
    let (asked, right) = answers(&target, '`').await;
    eprintln!("MariaDB: {right} of {asked} right");
    assert!(asked >= 35, "{asked} questions compared");
    assert!(
        right * 10 >= asked * 9,
        "{right} of {asked} right on MariaDB"
    );
}
