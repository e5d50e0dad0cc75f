//! The built-in generator: offline and deterministic, it turns common questions into SQL from
//! the cached schema and the value index alone.
//!
//! Why it exists: a newcomer with no API key must still get honest answers on the demo
//! database, and a server whose LLM is unreachable can fall back to it. It handles listing
//! tables, describing one, showing rows, counts, filters on stored values, numbers and dates,
//! aggregates overall and per group, top-N by a column or by a count/sum over related rows, and
//! distinct values. It never invents a table or column, and when it is not sure it declines,
//! naming the words it could not map.

mod analyze;
mod lexicon;
mod plan;
mod query;
mod schema;

use crate::context::Context;
use crate::events::{Event, EventSink};
use crate::generator::{Feedback, GenError, GenStats, Proposal};
use crate::tools::ToolContext;
use crate::values::ValueIndex;
use querypad_engines::{Catalog, Kind};
use std::sync::Arc;
use tokio::time::Instant;

/// How to configure an LLM, for decline messages.
pub const CONFIGURE_LLM: &str = "configure an LLM for anything else: set ANTHROPIC_API_KEY (or llm.provider = \"openai\" with llm.openai_base_url) and restart querypad";

/// SQL the built-in generator wrote, with a sentence about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    /// The SQL, in the connection's dialect.
    pub sql: String,
    /// What it computes, in words.
    pub explanation: String,
}

/// Why the built-in generator declined a question.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Declined {
    /// Words it could not map or place.
    pub words: Vec<String>,
    /// The message for people (names the words and how to configure an LLM).
    pub message: String,
}

/// Translates `question` for `kind` over `catalog` (and `values` when sampled). Pure and
/// synchronous: the same inputs always give the same SQL.
pub fn translate(
    kind: Kind,
    catalog: &Catalog,
    values: Option<&ValueIndex>,
    question: &str,
) -> Result<Translation, Declined> {
    let model = schema::Model::new(kind, catalog, values);
    let reading = analyze::analyze(&model, question);
    match plan::plan(&model, &reading) {
        Ok(p) => {
            let sql = query::render(&model, &p);
            Ok(Translation {
                explanation: explain(&model, &p),
                sql,
            })
        }
        Err(d) => Err(declined(d)),
    }
}

fn declined(d: plan::Decline) -> Declined {
    let words = d.words;
    let named = if words.is_empty() {
        String::new()
    } else {
        format!(
            ": {}",
            words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let message = format!(
        "The built-in generator could not answer this question ({}{named}). It answers simple questions — list or describe tables, show rows, counts, filters on stored values, numbers and dates, averages/totals/min/max overall or per group, top N, distinct values — using the table and column names; rephrase, or {CONFIGURE_LLM}.",
        d.reason
    );
    Declined { words, message }
}

fn explain(model: &schema::Model, p: &query::Plan) -> String {
    match p {
        query::Plan::Meta(query::Meta::ListTables) => "Lists the tables of the database.".into(),
        query::Plan::Meta(query::Meta::Describe(t)) => {
            format!("Describes the columns of {}.", model.tables[*t].name)
        }
        query::Plan::Query(q) => {
            let mut s = format!("Built-in generator: reads {}", model.tables[q.base].name);
            if !q.joins.is_empty() {
                let names: Vec<&str> = q
                    .joins
                    .iter()
                    .map(|j| model.tables[j.to].name.as_str())
                    .collect();
                s.push_str(&format!(" joined with {}", names.join(", ")));
            }
            if !q.conds.is_empty() {
                s.push_str(&format!(
                    " with {} filter{}",
                    q.conds.len(),
                    if q.conds.len() == 1 { "" } else { "s" }
                ));
            }
            if !q.group.is_empty() {
                s.push_str(", grouped");
            }
            if !q.order.is_empty() {
                s.push_str(", ordered");
            }
            if let Some(n) = q.limit {
                s.push_str(&format!(", first {n}"));
            }
            s.push('.');
            s
        }
    }
}

/// The built-in generator's per-run state.
#[derive(Debug, Default)]
pub struct BuiltinGenerator {
    values: Option<Arc<ValueIndex>>,
    last: Option<Proposal>,
}

impl BuiltinGenerator {
    /// A generator without sampled values (they are attached per run by the runner).
    pub fn new() -> BuiltinGenerator {
        BuiltinGenerator::default()
    }

    /// Uses `values` for filters on stored values.
    pub fn set_values(&mut self, values: Option<Arc<ValueIndex>>) {
        self.values = values;
    }

    /// Proposes SQL: the translation on the first call; after an empty result the same SQL
    /// again (confirming that empty is the answer); after an error, a decline.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn propose(
        &mut self,
        question: &str,
        ctx: &Context,
        feedback: Option<Feedback>,
        tool_ctx: &ToolContext,
        iteration: u32,
        sink: &EventSink,
        stats: &mut GenStats,
    ) -> Result<Proposal, GenError> {
        let started = Instant::now();
        let result = match (&self.last, feedback) {
            (Some(last), Some(fb)) if !fb.is_error => Ok(last.clone()),
            (Some(_), Some(fb)) => Err(GenError::Declined(format!(
                "The built-in generator's query failed and it has no other reading of the question: {}. Rephrase, or {CONFIGURE_LLM}.",
                fb.text
            ))),
            _ => match translate(
                ctx.kind,
                &tool_ctx.catalog,
                self.values.as_deref(),
                question,
            ) {
                Ok(t) => {
                    let p = Proposal {
                        sql: t.sql,
                        explanation: Some(t.explanation),
                        tool_use_id: None,
                    };
                    self.last = Some(p.clone());
                    Ok(p)
                }
                Err(d) => Err(GenError::Declined(d.message)),
            },
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        stats.calls += 1;
        stats.ms += ms;
        sink(Event::LlmCall {
            iteration,
            ms,
            usage: Default::default(),
            attempts: 1,
            error: result.as_ref().err().map(ToString::to_string),
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use querypad_engines::{ColumnInfo, ForeignKey, TableInfo, TableKind};

    fn table(name: &str, cols: &[(&str, &str)], fks: &[(&str, &str, &str)]) -> TableInfo {
        TableInfo {
            schema: Some("public".into()),
            name: name.into(),
            kind: TableKind::Table,
            columns: cols
                .iter()
                .map(|(c, t)| ColumnInfo {
                    name: (*c).into(),
                    data_type: (*t).into(),
                    nullable: true,
                    default: None,
                    comment: None,
                })
                .collect(),
            primary_key: vec![cols[0].0.to_string()],
            foreign_keys: fks
                .iter()
                .map(|(c, t, rc)| ForeignKey {
                    columns: vec![(*c).into()],
                    ref_schema: Some("public".into()),
                    ref_table: (*t).into(),
                    ref_columns: vec![(*rc).into()],
                })
                .collect(),
            row_estimate: None,
            comment: None,
        }
    }

    /// Chinook as PostgreSQL names it (snake_case).
    fn pg_chinook() -> Catalog {
        Catalog {
            tables: vec![
                table(
                    "customer",
                    &[
                        ("customer_id", "integer"),
                        ("first_name", "character varying(40)"),
                        ("last_name", "character varying(20)"),
                        ("country", "character varying(40)"),
                    ],
                    &[],
                ),
                table(
                    "genre",
                    &[("genre_id", "integer"), ("name", "character varying(120)")],
                    &[],
                ),
                table(
                    "track",
                    &[
                        ("track_id", "integer"),
                        ("name", "character varying(200)"),
                        ("genre_id", "integer"),
                        ("milliseconds", "integer"),
                        ("unit_price", "numeric(10,2)"),
                    ],
                    &[("genre_id", "genre", "genre_id")],
                ),
                table(
                    "invoice",
                    &[
                        ("invoice_id", "integer"),
                        ("customer_id", "integer"),
                        ("invoice_date", "timestamp without time zone"),
                        ("total", "numeric(10,2)"),
                    ],
                    &[("customer_id", "customer", "customer_id")],
                ),
            ],
        }
    }

    #[test]
    fn sql_follows_the_catalog_names_and_the_dialect() {
        let c = pg_chinook();
        let t = translate(
            Kind::Postgres,
            &c,
            None,
            "How many tracks are there in each genre?",
        )
        .unwrap();
        assert_eq!(
            t.sql,
            "SELECT t1.\"name\", t1.\"genre_id\", COUNT(*) AS \"count\" FROM \"track\" AS t0 JOIN \"genre\" AS t1 ON t1.\"genre_id\" = t0.\"genre_id\" GROUP BY t1.\"name\", t1.\"genre_id\""
        );
        let t = translate(
            Kind::Mysql,
            &c,
            None,
            "What is the average unit price of tracks?",
        )
        .unwrap();
        assert_eq!(
            t.sql,
            "SELECT AVG(`unit_price`) AS `average_unit_price` FROM `track`"
        );
        let t = translate(
            Kind::Postgres,
            &c,
            None,
            "How many invoices were issued in 2023?",
        )
        .unwrap();
        assert!(
            t.sql
                .contains("\"invoice_date\" >= '2023-01-01' AND \"invoice_date\" < '2024-01-01'"),
            "{}",
            t.sql
        );
    }

    #[test]
    fn stored_values_become_filters_with_their_exact_spelling() {
        let c = pg_chinook();
        let values =
            ValueIndex::from_values([(0, 3, vec!["France".into(), "Côte d'Ivoire".into()])]);
        let t = translate(Kind::Postgres, &c, Some(&values), "customers in france").unwrap();
        assert!(t.sql.ends_with("WHERE \"country\" = 'France'"), "{}", t.sql);
        let t = translate(
            Kind::Sqlite,
            &c,
            Some(&values),
            "How many customers are from Côte d'Ivoire?",
        )
        .unwrap();
        assert!(
            t.sql.ends_with("WHERE \"country\" = 'Côte d''Ivoire'"),
            "{}",
            t.sql
        );
    }

    #[test]
    fn it_declines_naming_the_words_it_cannot_map() {
        let c = pg_chinook();
        let d = translate(Kind::Postgres, &c, None, "Which planets have rings?").unwrap_err();
        assert_eq!(d.words, vec!["planets", "rings"]);
        assert!(
            d.message.contains("\"planets\", \"rings\""),
            "{}",
            d.message
        );
        assert!(d.message.contains("ANTHROPIC_API_KEY"), "{}", d.message);
        // Words it knows it cannot express are declined too, not ignored.
        let d = translate(
            Kind::Postgres,
            &c,
            None,
            "What is the ratio of tracks to genres?",
        )
        .unwrap_err();
        assert_eq!(d.words, vec!["ratio"]);
        let d = translate(Kind::Postgres, &c, None, "How many tracks are not rock?").unwrap_err();
        assert!(d.words.contains(&"not".to_string()), "{d:?}");
    }

    #[test]
    fn rankings_join_through_foreign_keys() {
        let c = pg_chinook();
        let t = translate(Kind::Postgres, &c, None, "Which genre has the most tracks?").unwrap();
        assert!(
            t.sql.contains("ORDER BY COUNT(*) DESC NULLS LAST LIMIT 1"),
            "{}",
            t.sql
        );
        assert!(t.sql.contains("JOIN \"track\""), "{}", t.sql);
        let t = translate(
            Kind::Sqlite,
            &c,
            None,
            "Who are the top 3 customers by total invoice amount?",
        )
        .unwrap();
        assert!(
            t.sql.contains("SUM(t1.\"total\")") && t.sql.ends_with("LIMIT 3"),
            "{}",
            t.sql
        );
    }
}

#[cfg(test)]
mod debug {
    //! `QP_DB=path.sqlite QP_Q="question" cargo test -p querypad-agent debug_reading -- --ignored --nocapture`
    //! prints how a question is read and planned.

    #[tokio::test]
    #[ignore]
    async fn debug_reading() {
        let (Ok(path), Ok(q)) = (std::env::var("QP_DB"), std::env::var("QP_Q")) else {
            return;
        };
        let url = if path.contains("://") {
            path.clone()
        } else {
            format!("sqlite://{path}")
        };
        let spec = querypad_engines::ConnectSpec::from_url(&url).unwrap();
        let db = querypad_engines::Database::connect(spec, Default::default())
            .await
            .unwrap();
        let catalog = db
            .introspect(std::time::Duration::from_secs(10))
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let values =
            crate::values::ValueIndex::build(&db, &catalog, Default::default(), deadline).await;
        let model = super::schema::Model::new(db.kind(), &catalog, Some(&values));
        let a = super::analyze::analyze(&model, &q);
        for p in &a.pieces {
            println!("{:>24}  {:?}", p.text, p.item);
        }
        println!("unmapped {:?} unsupported {:?}", a.unmapped, a.unsupported);
        match super::plan::plan(&model, &a) {
            Ok(p) => println!("{}", super::query::render(&model, &p)),
            Err(d) => println!("DECLINED {d:?}"),
        }
    }
}
