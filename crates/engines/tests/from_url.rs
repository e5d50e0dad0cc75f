//! `ConnectSpec::from_url` through the public API.

use querypad_engines::{ConnectSpec, EngineError, Kind, TlsMode};

#[test]
fn server_urls() {
    let s = ConnectSpec::from_url(
        "postgresql://reader:p%2Fw%3Ad@10.0.0.5:5433/analytics?sslmode=require",
    )
    .unwrap();
    assert_eq!(s.kind, Kind::Postgres);
    assert_eq!(s.username.as_deref(), Some("reader"));
    assert_eq!(s.password.as_deref(), Some("p/w:d"));
    assert_eq!(s.host.as_deref(), Some("10.0.0.5"));
    assert_eq!(s.port, Some(5433));
    assert_eq!(s.database.as_deref(), Some("analytics"));
    assert_eq!(s.tls, TlsMode::Require);
    assert!(!s.allow_writes, "from_url never enables writes");

    let s =
        ConnectSpec::from_url("mariadb://root@127.0.0.1:3306/Chinook?ssl-mode=DISABLED").unwrap();
    assert_eq!(s.kind, Kind::Mysql);
    assert_eq!(s.password, None);
    assert_eq!(s.database.as_deref(), Some("Chinook"));
    assert_eq!(s.tls, TlsMode::Disable);

    let s = ConnectSpec::from_url("mysql://u:pw@db/x?sslmode=verify-ca").unwrap();
    assert_eq!(s.tls, TlsMode::VerifyCa);
    let s = ConnectSpec::from_url("postgres://u@h/x?sslmode=verify-full").unwrap();
    assert_eq!(s.tls, TlsMode::VerifyFull);
    let s = ConnectSpec::from_url("postgres://h").unwrap();
    assert_eq!(s.tls, TlsMode::Prefer);
}

#[test]
fn sqlite_urls() {
    for (url, path) in [
        ("sqlite:///var/lib/app.db", "/var/lib/app.db"),
        ("sqlite://data/app.db", "data/app.db"),
        ("sqlite:app.db", "app.db"),
        ("sqlite:/abs/app.db?mode=ro", "/abs/app.db"),
    ] {
        let s = ConnectSpec::from_url(url).unwrap();
        assert_eq!(s.kind, Kind::Sqlite, "{url}");
        assert_eq!(s.path.as_deref(), Some(path), "{url}");
        assert_eq!(s.host, None);
    }
}

#[test]
fn invalid_urls_never_show_the_password() {
    for url in [
        "oracle://scott:Tiger-Secret-1@h/db",
        "postgres://scott:Tiger-Secret-1@h:99999/db",
        "postgres://scott:Tiger-Secret-1@h/db?sslmode=maybe",
        "mysql://scott:Tiger-Secret-1%G1@h/db",
        "postgres://scott:Tiger-Secret-1@h/db?weird=Tiger-Secret-1",
    ] {
        let err = ConnectSpec::from_url(url).unwrap_err();
        assert!(matches!(err, EngineError::InvalidSpec(_)), "{url}: {err:?}");
        assert_eq!(err.code(), "invalid_connection");
        assert!(!err.to_string().contains("Tiger-Secret-1"), "{url}: {err}");
    }
}

#[test]
fn debug_masks_the_password() {
    let s = ConnectSpec::from_url("postgres://u:Tiger-Secret-1@h/db").unwrap();
    let shown = format!("{s:?}");
    assert!(!shown.contains("Tiger-Secret-1"), "{shown}");
    assert!(shown.contains("***"));
}
