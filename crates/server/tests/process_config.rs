//! The shipped deployment files agree with the binary and with each other, so that deploying
//! is copying them: the example configuration is accepted by `querypad config check` and
//! documents every key; the environment example names only variables the binary reads; the
//! systemd unit, the nginx site and the configuration agree on paths, ports, sizes and time
//! limits.

mod common;

use querypad::config::Config;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn shipped(path: &str) -> String {
    let full: PathBuf = common::repo_file(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
}

fn example_config() -> Config {
    toml::from_str(&shipped("deploy/querypad.toml"))
        .expect("deploy/querypad.toml parses as a Config")
}

/// `section.key` for every key of a configuration (with `None` values kept).
fn keys_of(config: &Config) -> BTreeSet<String> {
    let v = serde_json::to_value(config).expect("config as JSON");
    let mut out = BTreeSet::new();
    for (section, table) in v.as_object().expect("object") {
        for key in table.as_object().expect("section").keys() {
            out.insert(format!("{section}.{key}"));
        }
    }
    out
}

/// A unit or nginx duration like `75s` or `2min`, in seconds.
fn seconds(v: &str) -> f64 {
    let v = v.trim().trim_end_matches(';');
    if let Some(n) = v.strip_suffix("min") {
        n.parse::<f64>().expect("number") * 60.0
    } else if let Some(n) = v.strip_suffix('s') {
        n.parse().expect("number")
    } else {
        v.parse().expect("number")
    }
}

/// The value of the first `name value;` directive in `text` after `from`.
fn directive<'a>(text: &'a str, from: &str, name: &str) -> &'a str {
    let start = text
        .find(from)
        .unwrap_or_else(|| panic!("{from:?} not found"));
    text[start..]
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(name).filter(|r| r.starts_with(' ')))
        .unwrap_or_else(|| panic!("no {name} after {from:?}"))
        .trim()
        .trim_end_matches(';')
}

#[test]
fn the_example_configuration_is_valid_and_documents_every_key() {
    let sandbox = common::Sandbox::new("config-check");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_querypad"))
        .env_clear()
        .current_dir(sandbox.root())
        .arg("--config")
        .arg(common::repo_file("deploy/querypad.toml"))
        .args(["config", "check"])
        .output()
        .expect("run querypad config check");
    assert!(
        out.status.success(),
        "config check: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Every key appears, set or commented out (`# key = ...`), in its section.
    let text = shipped("deploy/querypad.toml");
    let mut documented = BTreeSet::new();
    let mut section = String::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.to_string();
        } else if let Some((key, _)) = l.trim_start_matches('#').trim_start().split_once(" = ")
            && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            documented.insert(format!("{section}.{key}"));
        }
    }
    let missing: Vec<_> = keys_of(&Config::default())
        .difference(&documented)
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "deploy/querypad.toml does not document {missing:?}"
    );

    // No secret is set in the file.
    let c = example_config();
    assert!(c.llm.anthropic_api_key.is_none() && c.llm.openai_api_key.is_none());
}

#[test]
fn the_environment_example_names_only_variables_the_binary_reads() {
    let read = format!(
        "{}{}",
        include_str!("../src/config.rs"),
        include_str!("../src/cli.rs")
    );
    let text = shipped("deploy/querypad.env.example");
    let mut names = Vec::new();
    for line in text.lines() {
        let l = line.trim().trim_start_matches('#');
        if let Some((name, _)) = l.split_once('=')
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        {
            names.push(name.to_string());
            assert!(
                read.contains(&format!("\"{name}\"")),
                "deploy/querypad.env.example names {name}, which the binary does not read"
            );
        }
    }
    assert!(names.iter().any(|n| n == "ANTHROPIC_API_KEY"), "{names:?}");
}

#[test]
fn the_unit_the_site_and_the_configuration_agree() {
    let c = example_config();
    let unit = shipped("deploy/querypad.service");
    let site = shipped("deploy/nginx/querypad.conf");
    let unit_value = |key: &str| -> String {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("the unit has no {key}="))
            .to_string()
    };

    // systemd starts the binary with this file, gives it the data and log directories, and
    // waits long enough for the drain.
    assert!(unit_value("ExecStart").contains("serve --config /etc/querypad/querypad.toml"));
    assert_eq!(unit_value("Type"), "notify");
    assert!(unit.contains("Environment=QUERYPAD_DATA_DIR=/var/lib/querypad"));
    assert_eq!(c.server.data_dir, PathBuf::from("/var/lib/querypad"));
    assert_eq!(unit_value("StateDirectory"), "querypad");
    assert_eq!(unit_value("LogsDirectory"), "querypad");
    assert!(
        c.log.access_log.starts_with("/var/log/querypad/"),
        "{}",
        c.log.access_log
    );
    assert!(
        seconds(&unit_value("TimeoutStopSec")) >= c.server.drain_timeout_secs + 15.0,
        "TimeoutStopSec must exceed the drain timeout plus the cancel and close time"
    );
    assert!(
        seconds(&unit_value("WatchdogSec")) >= 10.0,
        "the watchdog pings every WatchdogSec/2"
    );

    // nginx proxies to the bound address, with the same body limit, and waits longer than the
    // server's own deadlines (so the server, not nginx, answers a slow request).
    assert!(
        site.contains(&format!("server {};", c.server.bind)),
        "upstream must be {}",
        c.server.bind
    );
    let max_body = directive(&site, "server {", "client_max_body_size");
    let max_body_bytes = match max_body.strip_suffix('m') {
        Some(n) => n.parse::<usize>().expect("size") * 1024 * 1024,
        None => max_body.parse().expect("size"),
    };
    assert_eq!(
        max_body_bytes, c.server.max_body_bytes,
        "client_max_body_size vs server.max_body_bytes"
    );
    assert!(
        seconds(directive(&site, "server {", "proxy_read_timeout")) > c.server.request_timeout_secs
    );
    let sse = directive(
        &site,
        "location ~ ^/api/v1/agent/runs/",
        "proxy_read_timeout",
    );
    assert!(
        seconds(sse) > c.agent.workflow_timeout_secs + 15.0,
        "SSE read timeout vs workflow deadline and 15 s keep-alives"
    );
    let seed = directive(
        &site,
        "location /mcp_agent/text-to-sql",
        "proxy_read_timeout",
    );
    assert!(seconds(seed) > c.agent.workflow_timeout_secs + 1.0);
    for location in [
        "location ~ ^/api/v1/agent/runs/",
        "location /mcp_agent/text-to-sql",
        "location = /mcp ",
    ] {
        assert_eq!(
            directive(&site, location, "proxy_buffering"),
            "off",
            "{location}"
        );
    }
}
