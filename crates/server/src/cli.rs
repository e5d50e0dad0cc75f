//! Command-line interface (clap): `serve`, `mcp`, `config check`, `token create|list|revoke`,
//! `eval`.

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use querypad::config::{Config, Overrides};
use std::path::PathBuf;
use std::process::ExitCode;

#[path = "eval.rs"]
mod eval;

/// SQL notebooks and a text-to-SQL agent in one server.
#[derive(Debug, Parser)]
#[command(name = "querypad", version, about)]
struct Cli {
    /// Configuration file (TOML). Default: ./querypad.toml when present.
    #[arg(long, global = true, env = "QUERYPAD_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (metadata database, key file, demo database).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Serve MCP (Model Context Protocol) on stdin/stdout, for Claude Desktop, Claude Code and
    /// other MCP clients that start the server themselves. Logs go to stderr.
    Mcp(McpArgs),
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Measure the agent: run a question file (defog CSV) through the agent on real databases
    /// and grade the answers by execution; `eval linking` measures schema linking alone.
    Eval(EvalArgs),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct EvalArgs {
    #[command(subcommand)]
    command: Option<EvalCommand>,
    /// Question file in defog's CSV format (db_name, query_category, query, question).
    #[arg(long, value_name = "FILE.csv", required = true)]
    questions: Option<PathBuf>,
    /// Databases: a directory laid out as <dir>/<db>/<db>.sqlite, or a URL template with {db},
    /// e.g. postgres://127.0.0.1/{db}.
    #[arg(long, value_name = "DIR_OR_URL_TEMPLATE", required = true)]
    databases: Option<String>,
    /// Which generator answers.
    #[arg(long, value_enum, default_value = "builtin")]
    generator: eval::GeneratorKind,
    /// Evaluate only the first N questions.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Write a JSON report with every question's SQL, status and verdict.
    #[arg(long, value_name = "FILE.json")]
    report: Option<PathBuf>,
    /// Questions evaluated at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    jobs: usize,
    /// Append each question's instructions to it (default: yes for LLMs, no for builtin).
    #[arg(long, value_name = "BOOL")]
    instructions: Option<bool>,
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// Schema-linking recall on Spider or BIRD: gold tables and columns in context, and the
    /// share of the schema placed there.
    Linking {
        /// tables.json (Spider or BIRD format).
        #[arg(long, value_name = "FILE")]
        tables: PathBuf,
        /// Questions: Spider dev.json or BIRD mini_dev_*.json.
        #[arg(long, value_name = "FILE")]
        questions: PathBuf,
        /// Share of the schema's columns the context may hold.
        #[arg(long, default_value_t = 1.0 / 3.0)]
        share: f64,
        /// Leave BIRD's evidence out of the questions.
        #[arg(long)]
        no_evidence: bool,
        /// Link against one schema holding every database of the file (hundreds of tables),
        /// with the context builder's column budget (--max-columns) instead of --share.
        #[arg(long)]
        merged: bool,
        /// Column budget with --merged.
        #[arg(long, value_name = "N", default_value_t = 400)]
        max_columns: usize,
        /// Write a JSON report with every question's figures.
        #[arg(long, value_name = "FILE.json")]
        report: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8000].
    #[arg(long)]
    bind: Option<String>,
    /// Deadline for a whole request, in seconds [default: 60].
    #[arg(long, value_name = "SECS")]
    request_timeout: Option<f64>,
    /// Idle seconds a kept-alive connection may wait for its next request [default: 75].
    #[arg(long, value_name = "SECS")]
    keep_alive: Option<f64>,
    /// Client connections served at once [default: 10000].
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// At shutdown, seconds for requests and agent runs to finish before runs are cancelled
    /// [default: 45].
    #[arg(long, value_name = "SECS")]
    drain_timeout: Option<f64>,
    /// Statement timeout for user databases, in seconds (DB_QUERY_TIMEOUT) [default: 30].
    #[arg(long, value_name = "SECS")]
    query_timeout: Option<f64>,
    /// Rows returned when a request does not say [default: 1000].
    #[arg(long, value_name = "N")]
    max_rows: Option<usize>,
    /// Do not register the bundled demo database on a fresh data directory.
    #[arg(long)]
    no_demo: bool,
    /// Access log: a file (rotated daily), `-` for stderr, or `off` [default: -].
    #[arg(long, value_name = "FILE")]
    access_log: Option<String>,
    /// Application/error log: a file (rotated daily) or `-` for stderr [default: -].
    #[arg(long, value_name = "FILE")]
    error_log: Option<String>,
    /// Rotated log files kept [default: 14].
    #[arg(long, value_name = "N")]
    log_retention: Option<usize>,
    /// Log level (error, warn, info, debug, trace) or a tracing filter (QUERYPAD_LOG) [default: info].
    #[arg(long)]
    log_level: Option<String>,
    /// Log format (QUERYPAD_LOG_FORMAT) [default: text].
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
}

#[derive(Debug, Args)]
struct McpArgs {
    /// Statement timeout for user databases, in seconds (DB_QUERY_TIMEOUT) [default: 30].
    #[arg(long, value_name = "SECS")]
    query_timeout: Option<f64>,
    /// Do not register the bundled demo database on a fresh data directory.
    #[arg(long)]
    no_demo: bool,
    /// Log level (error, warn, info, debug, trace) or a tracing filter (QUERYPAD_LOG) [default: info].
    #[arg(long)]
    log_level: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Print the effective configuration (secrets redacted); exit 1 on any invalid value.
    Check,
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Create a token and print it once.
    Create {
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
    },
    /// List tokens (names and dates, never secrets).
    List,
    /// Delete a token.
    Revoke {
        /// The token's name.
        #[arg(long)]
        name: String,
    },
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn load(cli: &Cli, overrides: Overrides) -> anyhow::Result<Config> {
    let mut overrides = overrides;
    if overrides.data_dir.is_none() {
        overrides.data_dir = cli.data_dir.clone();
    }
    Ok(Config::load(cli.config.as_deref(), &env, &overrides)?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match &cli.command {
        Command::Serve(args) => {
            let overrides = Overrides {
                bind: args.bind.clone(),
                data_dir: None,
                request_timeout_secs: args.request_timeout,
                query_timeout_secs: args.query_timeout,
                default_max_rows: args.max_rows,
                no_demo: args.no_demo,
                keep_alive_secs: args.keep_alive,
                max_connections: args.max_connections,
                drain_timeout_secs: args.drain_timeout,
                log_level: args.log_level.clone(),
                log_format: args.log_format.map(|f| match f {
                    LogFormat::Text => "text".to_string(),
                    LogFormat::Json => "json".to_string(),
                }),
                app_log: args.error_log.clone(),
                access_log: args.access_log.clone(),
                log_retention: args.log_retention,
            };
            let config = load(&cli, overrides)?;
            let _guards = querypad::logging::init(&config.log)?;
            runtime()?.block_on(serve(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mcp(args) => {
            let overrides = Overrides {
                query_timeout_secs: args.query_timeout,
                no_demo: args.no_demo,
                log_level: args.log_level.clone(),
                ..Overrides::default()
            };
            let mut config = load(&cli, overrides)?;
            // stdout is the protocol channel: every log line goes to stderr or a file, never
            // to stdout.
            config.log.access_log = "off".into();
            let _guards = querypad::logging::init(&config.log)?;
            runtime()?.block_on(mcp(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            action: ConfigAction::Check,
        } => {
            let config = load(&cli, Overrides::default())?;
            print!("{}", config.redacted_toml());
            eprintln!("configuration is valid");
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { action } => {
            let config = load(&cli, Overrides::default())?;
            runtime()?.block_on(token(config, action))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval(args) => {
            if let Some(EvalCommand::Linking {
                tables,
                questions,
                share,
                no_evidence,
                merged,
                max_columns,
                report,
            }) = &args.command
            {
                eval::linking(eval::LinkingArgs {
                    tables: tables.clone(),
                    questions: questions.clone(),
                    share: *share,
                    no_evidence: *no_evidence,
                    merged: merged.then_some(*max_columns),
                    report: report.clone(),
                })?;
                return Ok(ExitCode::SUCCESS);
            }
            let config = load(&cli, Overrides::default())?;
            let (Some(questions), Some(databases)) = (&args.questions, &args.databases) else {
                anyhow::bail!("querypad eval needs --questions and --databases");
            };
            runtime()?.block_on(eval::run(
                config,
                eval::RunArgs {
                    questions: questions.clone(),
                    databases: databases.clone(),
                    generator: args.generator,
                    limit: args.limit,
                    report: args.report.clone(),
                    jobs: args.jobs,
                    instructions: args.instructions,
                },
            ))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let server = querypad::start(config).await?;
    let addr = server.local_addr()?;
    tracing::info!(%addr, "querypad listening on http://{addr}/");
    server.serve(shutdown_signal()).await?;
    Ok(())
}

/// `querypad mcp`: the same state as `serve` (store, demo, pools, agent), one MCP session on
/// stdio; when the client closes stdin, runs in flight get the drain timeout to finish.
async fn mcp(config: Config) -> anyhow::Result<()> {
    let state = querypad::build_state(config).await?;
    tracing::info!("querypad MCP server on stdio");
    let served = querypad::mcp::serve_stdio(state.clone()).await;
    state.tasks.close();
    let drain = std::time::Duration::from_secs_f64(state.config.server.drain_timeout_secs);
    if tokio::time::timeout(drain, state.tasks.wait())
        .await
        .is_err()
    {
        state.runs.shutdown.cancel();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), state.tasks.wait()).await;
    }
    state.databases.close_all().await;
    state.store.close().await;
    served?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn token(config: Config, action: &TokenAction) -> anyhow::Result<()> {
    let store = querypad::open_store(&config).await?;
    match action {
        TokenAction::Create { name } => {
            let t = store.create_token(name).await?;
            println!("{}", t.secret);
            eprintln!(
                "token {:?} created; it is shown only once — store it now",
                t.record.name
            );
        }
        TokenAction::List => {
            for t in store.list_tokens().await? {
                println!("{}\t{}\tcreated {}", t.id, t.name, t.created_at);
            }
        }
        TokenAction::Revoke { name } => {
            if !store.revoke_token(name).await? {
                anyhow::bail!("no token named {name:?}");
            }
            eprintln!("token {name:?} revoked");
        }
    }
    store.close().await;
    Ok(())
}
