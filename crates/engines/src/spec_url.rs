//! Parsing connection URLs into a [`ConnectSpec`].
//!
//! Why hand-written: the URL forms users paste (libpq `postgres://`, `mysql://`, `mariadb://`,
//! `sqlite:` in three spellings) are simple, but the rules that matter here are ours: passwords
//! may contain unencoded `@`, `/`, `?` or `:`, percent-encoding is decoded, TLS parameters are
//! accepted under both the libpq and the MySQL name, and no error message ever echoes the URL
//! (it may hold a password).

use crate::{ConnectSpec, EngineError, Kind, TlsMode};

/// Parses a connection URL; see [`ConnectSpec::from_url`] for the accepted forms.
pub(crate) fn parse(url: &str) -> Result<ConnectSpec, EngineError> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(invalid(
            "expected a URL such as postgres://…, mysql://…, mariadb://… or sqlite:path",
        ));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => parse_sqlite(rest),
        "postgres" | "postgresql" => parse_server(Kind::Postgres, rest),
        "mysql" | "mariadb" => parse_server(Kind::Mysql, rest),
        _ => Err(invalid(
            "unsupported URL scheme; use postgres://, postgresql://, mysql://, mariadb:// or sqlite:",
        )),
    }
}

fn invalid(msg: &str) -> EngineError {
    EngineError::InvalidSpec(msg.to_owned())
}

fn empty_spec(kind: Kind) -> ConnectSpec {
    ConnectSpec {
        kind,
        host: None,
        port: None,
        database: None,
        username: None,
        password: None,
        path: None,
        tls: TlsMode::default(),
        allow_writes: false,
    }
}

/// `sqlite:///abs/path`, `sqlite://relative/path`, `sqlite:path` (optionally `?mode=ro`).
fn parse_sqlite(rest: &str) -> Result<ConnectSpec, EngineError> {
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if let Some(query) = query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                // Read-only is the default and writes are a separate switch; `ro`/`rw`/`rwc`
                // are accepted so URLs copied from other tools still parse.
                "mode" if matches!(value, "ro" | "rw" | "rwc") => {}
                "mode" => return Err(invalid("sqlite URL: mode must be ro, rw or rwc")),
                _ => {
                    return Err(EngineError::InvalidSpec(format!(
                        "sqlite URL: unsupported parameter `{}` (only `mode` is accepted)",
                        printable(key)
                    )));
                }
            }
        }
    }
    let path = decode(path, "sqlite path")?;
    if path.is_empty() {
        return Err(invalid("sqlite URL: the file path is empty"));
    }
    let mut spec = empty_spec(Kind::Sqlite);
    spec.path = Some(path);
    Ok(spec)
}

/// `scheme://[user[:password]@]host[:port][/database][?params]`.
fn parse_server(kind: Kind, rest: &str) -> Result<ConnectSpec, EngineError> {
    let Some(rest) = rest.strip_prefix("//") else {
        return Err(invalid("expected `//` after the URL scheme"));
    };
    let mut spec = empty_spec(kind);

    // The user info ends at the last `@`, so unencoded `@ / ? :` in a password still work.
    let (userinfo, after) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        let user = decode(user, "user name")?;
        if !user.is_empty() {
            spec.username = Some(user);
        }
        if let Some(password) = password {
            // Never echo the password, not even in a decoding error.
            spec.password = Some(decode(password, "password")?);
        }
    }

    let (location, query) = match after.split_once('?') {
        Some((l, q)) => (l, Some(q)),
        None => (after, None),
    };
    let (hostport, database) = match location.split_once('/') {
        Some((h, d)) => (h, Some(d)),
        None => (location, None),
    };
    parse_host_port(hostport, &mut spec)?;
    if let Some(database) = database {
        let database = decode(database.trim_end_matches('/'), "database name")?;
        if !database.is_empty() {
            spec.database = Some(database);
        }
    }
    if let Some(query) = query {
        parse_params(query, &mut spec)?;
    }
    Ok(spec)
}

fn parse_host_port(hostport: &str, spec: &mut ConnectSpec) -> Result<(), EngineError> {
    if hostport.is_empty() {
        return Ok(());
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let Some((host, tail)) = v6.split_once(']') else {
            return Err(invalid("unterminated `[` in an IPv6 host"));
        };
        let port = match tail {
            "" => None,
            t => Some(
                t.strip_prefix(':')
                    .ok_or_else(|| invalid("unexpected text after an IPv6 host"))?,
            ),
        };
        (host.to_owned(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (decode(h, "host")?, Some(p)),
            None => (decode(hostport, "host")?, None),
        }
    };
    if !host.is_empty() {
        spec.host = Some(host);
    }
    if let Some(port) = port.filter(|p| !p.is_empty()) {
        spec.port = Some(parse_port(port)?);
    }
    Ok(())
}

fn parse_port(port: &str) -> Result<u16, EngineError> {
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(EngineError::InvalidSpec(format!(
            "invalid port `{}` (expected 1-65535)",
            printable(port)
        ))),
    }
}

fn parse_params(query: &str, spec: &mut ConnectSpec) -> Result<(), EngineError> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" | "ssl-mode" | "ssl_mode" => {
                spec.tls = tls_mode(&decode(value, "sslmode")?)?;
            }
            "user" => spec.username = Some(decode(value, "user name")?),
            "password" => spec.password = Some(decode(value, "password")?),
            "dbname" => spec.database = Some(decode(value, "database name")?),
            "host" => spec.host = Some(decode(value, "host")?),
            "port" => spec.port = Some(parse_port(value)?),
            // Harmless client settings other tools put in URLs; our own values apply instead.
            "application_name"
            | "connect_timeout"
            | "charset"
            | "timezone"
            | "fallback_application_name" => {}
            _ => {
                return Err(EngineError::InvalidSpec(format!(
                    "unsupported URL parameter `{}` (supported: sslmode / ssl-mode, user, \
                     password, dbname, host, port)",
                    printable(key)
                )));
            }
        }
    }
    Ok(())
}

/// Maps libpq `sslmode` names and MySQL `ssl-mode` names (any case) to [`TlsMode`].
fn tls_mode(value: &str) -> Result<TlsMode, EngineError> {
    Ok(
        match value.to_ascii_lowercase().replace('_', "-").as_str() {
            "disable" | "disabled" => TlsMode::Disable,
            "allow" | "prefer" | "preferred" => TlsMode::Prefer,
            "require" | "required" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" | "verify-identity" => TlsMode::VerifyFull,
            _ => {
                return Err(EngineError::InvalidSpec(format!(
                    "unknown TLS mode `{}` (use disable, prefer, require, verify-ca or verify-full; \
                 MySQL names DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY also work)",
                    printable(value)
                )));
            }
        },
    )
}

/// Percent-decodes `s`; `what` names the part for the error message (the text itself is not shown).
fn decode(s: &str, what: &str) -> Result<String, EngineError> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => out.push(b),
                None => {
                    return Err(EngineError::InvalidSpec(format!(
                        "invalid percent-encoding in the {what}"
                    )));
                }
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        EngineError::InvalidSpec(format!("the {what} is not valid UTF-8 once decoded"))
    })
}

/// A short, safe rendering of a URL fragment that is not a secret (a key, a port).
fn printable(s: &str) -> String {
    s.chars().take(40).filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_full() {
        let s = parse("postgres://alice:s3cr%40t@db.example.com:6543/sales?sslmode=verify-full")
            .unwrap();
        assert_eq!(s.kind, Kind::Postgres);
        assert_eq!(s.username.as_deref(), Some("alice"));
        assert_eq!(s.password.as_deref(), Some("s3cr@t"));
        assert_eq!(s.host.as_deref(), Some("db.example.com"));
        assert_eq!(s.port, Some(6543));
        assert_eq!(s.database.as_deref(), Some("sales"));
        assert_eq!(s.tls, TlsMode::VerifyFull);
        assert!(!s.allow_writes);
    }

    #[test]
    fn postgresql_scheme_and_defaults() {
        let s = parse("postgresql://localhost").unwrap();
        assert_eq!(s.kind, Kind::Postgres);
        assert_eq!(s.host.as_deref(), Some("localhost"));
        assert_eq!(s.port, None);
        assert_eq!(s.database, None);
        assert_eq!(s.username, None);
        assert_eq!(s.tls, TlsMode::Prefer);
    }

    #[test]
    fn unencoded_specials_in_password() {
        let s = parse("mysql://bob:p@ss/w?rd:x@127.0.0.1:3306/shop").unwrap();
        assert_eq!(s.password.as_deref(), Some("p@ss/w?rd:x"));
        assert_eq!(s.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(s.database.as_deref(), Some("shop"));
    }

    #[test]
    fn mysql_and_mariadb_tls_names() {
        let s = parse("mariadb://root@h/db?ssl-mode=REQUIRED").unwrap();
        assert_eq!(s.kind, Kind::Mysql);
        assert_eq!(s.tls, TlsMode::Require);
        let s = parse("mysql://root@h/db?ssl-mode=VERIFY_IDENTITY").unwrap();
        assert_eq!(s.tls, TlsMode::VerifyFull);
        let s = parse("mysql://root@h/db?ssl-mode=verify_ca").unwrap();
        assert_eq!(s.tls, TlsMode::VerifyCa);
        let s = parse("postgres://h/db?sslmode=disable").unwrap();
        assert_eq!(s.tls, TlsMode::Disable);
    }

    #[test]
    fn ipv6_host() {
        let s = parse("postgres://u@[::1]:5433/x").unwrap();
        assert_eq!(s.host.as_deref(), Some("::1"));
        assert_eq!(s.port, Some(5433));
    }

    #[test]
    fn sqlite_forms() {
        assert_eq!(
            parse("sqlite:///abs/path.db").unwrap().path.as_deref(),
            Some("/abs/path.db")
        );
        assert_eq!(
            parse("sqlite://rel/path.db").unwrap().path.as_deref(),
            Some("rel/path.db")
        );
        assert_eq!(
            parse("sqlite:data.db").unwrap().path.as_deref(),
            Some("data.db")
        );
        assert_eq!(
            parse("sqlite:/abs.db?mode=ro").unwrap().path.as_deref(),
            Some("/abs.db")
        );
        assert_eq!(
            parse("sqlite:my%20file.db").unwrap().path.as_deref(),
            Some("my file.db")
        );
        assert_eq!(parse("SQLite:x.db").unwrap().kind, Kind::Sqlite);
    }

    #[test]
    fn errors_never_echo_the_password() {
        let secret = "hunter2-Secret";
        for url in [
            format!("postgres://u:{secret}@h:notaport/db"),
            format!("postgres://u:{secret}@h/db?sslmode=bogus"),
            format!("postgres://u:{secret}@h/db?bogus=1"),
            format!("postgres://u:{secret}%zz@h/db"),
            format!("ftp://u:{secret}@h/db"),
            format!("postgres:u:{secret}@h/db"),
            format!("mysql://u:{secret}@[::1/db"),
        ] {
            let err = parse(&url).unwrap_err();
            assert!(matches!(err, EngineError::InvalidSpec(_)), "{url}: {err:?}");
            assert!(!err.to_string().contains(secret), "{err}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse("no scheme at all").is_err());
        assert!(parse("sqlite:").is_err());
        assert!(parse("sqlite:x.db?cache=shared").is_err());
        assert!(parse("postgres://h:0/db").is_err());
        assert!(parse("postgres://h:70000/db").is_err());
    }

    #[test]
    fn query_overrides() {
        let s = parse("postgres://h/db?user=carol&password=a%26b&dbname=other&port=7000").unwrap();
        assert_eq!(s.username.as_deref(), Some("carol"));
        assert_eq!(s.password.as_deref(), Some("a&b"));
        assert_eq!(s.database.as_deref(), Some("other"));
        assert_eq!(s.port, Some(7000));
    }

    #[test]
    fn debug_hides_password() {
        let s = parse("postgres://u:topsecret@h/db").unwrap();
        assert!(!format!("{s:?}").contains("topsecret"));
    }
}
