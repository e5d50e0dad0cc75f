//! The command line as a user meets it: one-line errors with exit codes, secrets redacted,
//! tokens shown once.

use std::process::Command;

fn querypad(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_querypad"));
    cmd.args(args)
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("DB_QUERY_TIMEOUT");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("querypad runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = querypad_testkit::temp_dir();
    let data = dir.dir().display().to_string();
    let (code, out, err) = querypad(
        &["config", "check", "--data-dir", &data],
        &[
            ("ANTHROPIC_API_KEY", "sk-ant-very-secret"),
            ("DB_QUERY_TIMEOUT", "12"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("query_timeout_secs = 12.0"), "{out}");
    assert!(out.contains("anthropic_api_key = \"***\""), "{out}");
    assert!(!out.contains("sk-ant-very-secret") && !err.contains("sk-ant-very-secret"));
}

#[test]
fn an_invalid_value_is_one_line_and_exit_code_1() {
    let (code, out, err) = querypad(&["config", "check"], &[("DB_QUERY_TIMEOUT", "soon")]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(
        err.trim(),
        "querypad: DB_QUERY_TIMEOUT=\"soon\" is not a valid number"
    );

    let dir = querypad_testkit::temp_dir();
    let file = dir.dir().join("q.toml");
    std::fs::write(&file, "[server]\nbind = \"nowhere\"\n").unwrap();
    let (code, _, err) = querypad(
        &["config", "check", "--config", &file.display().to_string()],
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("server.bind"), "{err}");

    let (code, _, err) = querypad(
        &[
            "serve",
            "--bind",
            "0.0.0.0:0",
            "--data-dir",
            &dir.dir().display().to_string(),
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without API tokens"),
        "{err}"
    );
}

#[test]
fn a_token_is_printed_once_and_only_its_name_is_listed() {
    let dir = querypad_testkit::temp_dir();
    let data = dir.dir().display().to_string();
    let (code, out, err) = querypad(
        &["token", "create", "--name", "ci", "--data-dir", &data],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let token = out.trim();
    assert!(token.starts_with("qp_") && token.len() > 40, "{out}");
    assert!(err.contains("shown only once"));
    let (code, out, _) = querypad(&["token", "list", "--data-dir", &data], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("\tci\t"), "{out}");
    assert!(!out.contains(token));
    let (code, _, err) = querypad(
        &["token", "create", "--name", "ci", "--data-dir", &data],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, _) = querypad(
        &["token", "revoke", "--name", "ci", "--data-dir", &data],
        &[],
    );
    assert_eq!(code, 0);
    let (code, _, err) = querypad(
        &["token", "revoke", "--name", "ci", "--data-dir", &data],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no token named"), "{err}");
}
