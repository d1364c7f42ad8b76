//! Auth tokens that could leave a server open or unusable: a non-UTF-8
//! `PROFILED_AUTH_TOKEN` is an error (it used to be ignored: no authentication at
//! all); one read from a file with a trailing newline is trimmed; a token that no
//! client can send (spaces, control or non-ASCII characters) is a start error.
//! This file sets environment variables: its own process.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use profiled::{Config, ConfigError, Profiler, StartError};
use profiled_tests::{HttpResponse, request};

fn get_with(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> HttpResponse {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

/// Runs `f` with `PROFILED_AUTH_TOKEN` set to `value` (the tests in this file run
/// one at a time through this lock).
fn with_token_env<T>(value: &OsStr, f: impl FnOnce() -> T) -> T {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _held = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: the lock above serializes every environment change in this process.
    unsafe { std::env::set_var("PROFILED_AUTH_TOKEN", value) };
    let result = f();
    // SAFETY: as above.
    unsafe { std::env::remove_var("PROFILED_AUTH_TOKEN") };
    result
}

#[test]
fn a_non_utf8_token_is_an_error_never_an_open_server() {
    let error = with_token_env(OsStr::from_bytes(b"s3cr\xffet"), Config::from_env).unwrap_err();
    assert!(
        matches!(
            &error,
            ConfigError::InvalidEnv {
                var: "PROFILED_AUTH_TOKEN",
                expected: "valid UTF-8",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("PROFILED_AUTH_TOKEN"), "{error}");
}

#[test]
fn a_token_read_from_a_file_loses_its_newline_and_works() {
    let config = with_token_env(OsStr::new("  s3cret\n"), Config::from_env).unwrap();
    assert_eq!(config.auth_token.as_deref(), Some("s3cret"));
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        ..config
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    let refused = get_with(addr, "/debug/pprof/cmdline", None);
    assert_eq!(refused.status, 401);
    let served = get_with(addr, "/debug/pprof/cmdline", Some("s3cret"));
    assert_eq!(served.status, 200);
    assert!(served.text().contains("harden_tokens"), "{}", served.text());
    // Only whitespace: empty once trimmed, which is an error too.
    let blank = with_token_env(OsStr::new(" \n"), Config::from_env).unwrap();
    assert!(matches!(
        Profiler::start(blank),
        Err(StartError::Config(ConfigError::EmptyAuthToken))
    ));
}

#[test]
fn tokens_no_client_can_send_are_start_errors() {
    for token in [
        " s3cret",
        "s3cret\n",
        "s3 cret",
        "s3cr\tet",
        "pässwort",
        "s3cret\u{0}",
    ] {
        let config = Config {
            listen_addr: "127.0.0.1:0".into(),
            auth_token: Some(token.into()),
            ..Config::default()
        };
        let error = Profiler::start(config).unwrap_err();
        assert!(
            matches!(error, StartError::Config(ConfigError::InvalidAuthToken)),
            "{token:?}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("auth_token (PROFILED_AUTH_TOKEN)"),
            "{error}"
        );
    }
}
