//! `querypad eval`: runs a question file through the real agent path on real databases and
//! grades the answers by execution (defog's conventions), or measures schema linking alone on
//! Spider/BIRD (`querypad eval linking`).
//!
//! Why in the binary: it is an operator's tool — progress on stderr, a table on stdout, a JSON
//! report on request — while the grading rules live in `querypad_agent::eval`, shared with the
//! test suite.

use anyhow::{Context as _, bail};
use querypad::config::Config;
use querypad_agent::eval::{self, EvalOptions, EvalQuestion, EvalTarget, QuestionReport, Verdict};
use querypad_agent::{AgentLimits, Generator, LlmSettings, ValueIndex, ValueLimits};
use querypad_engines::{ConnectSpec, Database, Kind, PoolSettings, TlsMode};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Which generator answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GeneratorKind {
    /// The built-in offline generator.
    Builtin,
    /// Anthropic (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, llm.anthropic_model).
    Anthropic,
    /// An OpenAI-compatible server (llm.openai_base_url / OPENAI_BASE_URL).
    Openai,
}

/// What `querypad eval` was asked to do.
pub struct RunArgs {
    /// The question file (defog CSV).
    pub questions: PathBuf,
    /// A directory `<dir>/<db>/<db>.sqlite`, or a URL template with `{db}`.
    pub databases: String,
    /// The generator.
    pub generator: GeneratorKind,
    /// Questions at most (file order).
    pub limit: Option<usize>,
    /// Where to write the JSON report.
    pub report: Option<PathBuf>,
    /// Questions in flight at once.
    pub jobs: usize,
    /// Append each question's instructions (default: for LLM generators).
    pub instructions: Option<bool>,
}

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

fn llm(config: &Config, kind: GeneratorKind) -> anyhow::Result<Option<LlmSettings>> {
    let mut config = config.clone();
    config.llm.provider = match kind {
        GeneratorKind::Builtin => return Ok(None),
        GeneratorKind::Anthropic => "anthropic".into(),
        GeneratorKind::Openai => "openai".into(),
    };
    config.validate()?;
    let settings = querypad::agent_service::llm_settings(&config)?;
    Ok(settings)
}

/// Where a question's database is.
fn locate(databases: &str, db: &str) -> anyhow::Result<ConnectSpec> {
    if databases.contains("{db}") {
        let url = databases.replace("{db}", db);
        let mut spec =
            ConnectSpec::from_url(&url).with_context(|| format!("database URL for {db}"))?;
        spec.allow_writes = false;
        return Ok(spec);
    }
    let path = Path::new(databases).join(db).join(format!("{db}.sqlite"));
    if !path.is_file() {
        bail!("no SQLite file at {}", path.display());
    }
    Ok(ConnectSpec {
        kind: Kind::Sqlite,
        host: None,
        port: None,
        database: None,
        username: None,
        password: None,
        path: Some(path.display().to_string()),
        tls: TlsMode::Disable,
        allow_writes: false,
    })
}

async fn open(databases: &str, db: &str, timeout: Duration) -> anyhow::Result<EvalTarget> {
    let spec = locate(databases, db)?;
    let database = Database::connect(spec, PoolSettings::default()).await?;
    let catalog = database
        .introspect(timeout)
        .await
        .with_context(|| format!("reading the schema of {db}"))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let values = ValueIndex::build(&database, &catalog, ValueLimits::default(), deadline).await;
    Ok(EvalTarget {
        db: database,
        catalog: Arc::new(catalog),
        values: Some(Arc::new(values)),
    })
}

struct Progress {
    total: usize,
    done: usize,
    correct: usize,
    tty: bool,
    last_decile: usize,
}

impl Progress {
    fn tick(&mut self, r: &QuestionReport) {
        self.done += 1;
        if r.verdict == Verdict::Correct {
            self.correct += 1;
        }
        let mut err = std::io::stderr();
        if self.tty {
            let width = 30;
            let filled = (self.done * width).checked_div(self.total).unwrap_or(width);
            let _ = write!(
                err,
                "\r[{}{}] {}/{} correct {}",
                "#".repeat(filled),
                ".".repeat(width - filled),
                self.done,
                self.total,
                self.correct
            );
            if self.done == self.total {
                let _ = writeln!(err);
            }
        } else {
            let decile = (self.done * 10).checked_div(self.total).unwrap_or(10);
            if decile > self.last_decile || self.done == self.total {
                self.last_decile = decile;
                let _ = writeln!(
                    err,
                    "eval: {}/{} done, {} correct",
                    self.done, self.total, self.correct
                );
            }
        }
        let _ = err.flush();
    }
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

fn print_summary(s: &eval::Summary) {
    let o = &s.overall;
    println!(
        "questions  graded  answered  declined  correct  EX        precision  coverage  median ms"
    );
    println!(
        "{:<10} {:<7} {:<9} {:<9} {:<8} {:<9} {:<10} {:<9} {:.1}",
        o.questions,
        o.graded,
        o.answered,
        o.declined,
        o.correct,
        pct(o.ex),
        pct(o.precision),
        pct(o.coverage),
        s.median_ms
    );
    println!();
    println!(
        "{:<18} {:>9} {:>8} {:>7} {:>9} {:>10}",
        "category", "questions", "answered", "correct", "EX", "precision"
    );
    for (cat, f) in &s.by_category {
        println!(
            "{:<18} {:>9} {:>8} {:>7} {:>9} {:>10}",
            cat,
            f.questions,
            f.answered,
            f.correct,
            pct(f.ex),
            pct(f.precision)
        );
    }
    println!();
    let verdicts: Vec<String> = s.verdicts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("verdicts: {}", verdicts.join(", "));
}

/// Runs `querypad eval`.
pub async fn run(config: Config, args: RunArgs) -> anyhow::Result<()> {
    let rows = eval::load_questions(&args.questions)?;
    let settings = llm(&config, args.generator)?;
    let with_instructions = args
        .instructions
        .unwrap_or(args.generator != GeneratorKind::Builtin);
    let opts = EvalOptions {
        limits: limits(&config),
        with_instructions,
    };
    let rows: Vec<_> = rows
        .into_iter()
        .take(args.limit.unwrap_or(usize::MAX))
        .collect();
    // Open each database once; a database that fails is reported on each of its questions.
    let mut targets: HashMap<String, Result<EvalTarget, String>> = HashMap::new();
    for q in rows.iter().flatten() {
        if !targets.contains_key(&q.db_name) {
            let t = open(&args.databases, &q.db_name, opts.limits.statement_timeout)
                .await
                .map_err(|e| format!("{e:#}"));
            targets.insert(q.db_name.clone(), t);
        }
    }
    let mut progress = Progress {
        total: rows.len(),
        done: 0,
        correct: 0,
        tty: std::io::stderr().is_terminal(),
        last_decile: 0,
    };
    let sem = Arc::new(tokio::sync::Semaphore::new(args.jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut reports: Vec<QuestionReport> = Vec::with_capacity(rows.len());
    for row in rows {
        let q: EvalQuestion = match row {
            Ok(q) => q,
            Err(bad) => {
                let r = QuestionReport::not_run(
                    bad.index,
                    "",
                    "",
                    Verdict::BadInput,
                    format!("line {}: {}", bad.line, bad.message),
                );
                progress.tick(&r);
                reports.push(r);
                continue;
            }
        };
        let target = match targets.get(&q.db_name) {
            Some(Ok(t)) => t.clone(),
            Some(Err(e)) => {
                let mut r = QuestionReport::not_run(
                    q.index,
                    &q.db_name,
                    &q.question,
                    Verdict::DatabaseError,
                    e.clone(),
                );
                r.category = q.category.clone();
                progress.tick(&r);
                reports.push(r);
                continue;
            }
            None => continue,
        };
        let permit = sem.clone().acquire_owned().await?;
        let mut generator = match &settings {
            Some(s) => Generator::llm(s.clone()),
            None => Generator::builtin(),
        };
        set.spawn(async move {
            let _permit = permit;
            eval::evaluate(&q, &target, &mut generator, opts).await
        });
        while let Some(done) = set.try_join_next() {
            let r = done?;
            progress.tick(&r);
            reports.push(r);
        }
    }
    while let Some(done) = set.join_next().await {
        let r = done?;
        progress.tick(&r);
        reports.push(r);
    }
    reports.sort_by_key(|r| r.index);
    let summary = eval::summarize(&reports);
    print_summary(&summary);
    if let Some(path) = &args.report {
        let json = serde_json::json!({
            "questions_file": args.questions.display().to_string(),
            "databases": args.databases,
            "generator": format!("{:?}", args.generator).to_lowercase(),
            "summary": summary,
            "questions": reports,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    Ok(())
}

/// What `querypad eval linking` was asked to do.
pub struct LinkingArgs {
    /// Spider/BIRD `tables.json`.
    pub tables: PathBuf,
    /// Spider `dev.json` or BIRD `mini_dev_*.json`.
    pub questions: PathBuf,
    /// Share of the schema's columns the context may hold.
    pub share: f64,
    /// Leave BIRD's evidence out of the question.
    pub no_evidence: bool,
    /// Link against all databases merged into one schema, with this column budget.
    pub merged: Option<usize>,
    /// Where to write the JSON report.
    pub report: Option<PathBuf>,
}

/// Runs `querypad eval linking`.
pub fn linking(args: LinkingArgs) -> anyhow::Result<()> {
    if !(args.share > 0.0 && args.share <= 1.0) {
        bail!("--share must be in (0, 1], got {}", args.share);
    }
    let (catalogs, questions) =
        eval::linking::load(&args.tables, &args.questions, !args.no_evidence)?;
    let started = std::time::Instant::now();
    let (s, results) = match args.merged {
        Some(max_columns) => {
            let tables: usize = catalogs.values().map(|c| c.tables.len()).sum();
            let columns: usize = catalogs
                .values()
                .flat_map(|c| &c.tables)
                .map(|t| t.columns.len())
                .sum();
            eprintln!(
                "one schema of {tables} tables and {columns} columns, {max_columns} columns in context at most"
            );
            eval::linking::evaluate_merged(&catalogs, &questions, max_columns)
        }
        None => eval::linking::evaluate(&catalogs, &questions, args.share),
    };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    println!(
        "questions  table recall  all tables  column recall  columns in context (mean / max)  tokens (linked / full)"
    );
    println!(
        "{:<10} {:<13.4} {:<11} {:<14.4} {:<32} {:.0} / {:.0}",
        s.questions,
        s.table_recall,
        pct(s.all_tables),
        s.column_recall,
        format!("{} / {}", pct(s.column_share), pct(s.max_column_share)),
        s.tokens,
        s.full_tokens
    );
    if s.unknown_db > 0 {
        println!(
            "{} questions name a database missing from {}",
            s.unknown_db,
            args.tables.display()
        );
    }
    eprintln!(
        "linked {} questions in {:.0} ms ({:.2} ms each)",
        s.questions,
        ms,
        ms / s.questions.max(1) as f64
    );
    if let Some(path) = &args.report {
        let json = serde_json::json!({ "summary": s, "share": args.share, "questions": results });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    Ok(())
}
