//! `Profiler::start` reports bad configurations and unusable addresses as typed
//! errors, and `stop` frees the port.

use std::io::ErrorKind;
use std::net::TcpListener;

use profiled::{Config, ConfigError, Profiler, StartError};
use profiled_tests::get;

fn config(listen_addr: &str) -> Config {
    Config {
        listen_addr: listen_addr.into(),
        ..Config::default()
    }
}

#[test]
fn port_in_use_is_a_bind_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    match Profiler::start(config(&addr.to_string())) {
        Err(StartError::Bind {
            addr: tried,
            source,
        }) => {
            assert_eq!(tried, addr);
            assert_eq!(source.kind(), ErrorKind::AddrInUse);
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
}

#[test]
fn bad_values_are_config_errors() {
    let cases = [
        (config("nonsense"), "invalid listen_addr"),
        (config("0.0.0.0:0"), "allow_insecure_bind"),
        (
            Config {
                block_rate: 0,
                ..config("127.0.0.1:0")
            },
            "invalid block_rate 0",
        ),
        (
            Config {
                mutex_fraction: -1,
                ..config("127.0.0.1:0")
            },
            "invalid mutex_fraction -1",
        ),
        (
            Config {
                max_stack_depth: 1000,
                ..config("127.0.0.1:0")
            },
            "invalid max_stack_depth 1000",
        ),
    ];
    for (config, message) in cases {
        match Profiler::start(config) {
            Err(error @ StartError::Config(_)) => {
                assert!(error.to_string().contains(message), "{error}");
            }
            other => panic!("expected a config error with {message:?}, got {other:?}"),
        }
    }
    assert!(matches!(
        Profiler::start(config("0.0.0.0:0")),
        Err(StartError::Config(ConfigError::InsecureBind(_)))
    ));
}

#[test]
fn disabled_config_serves_nothing() {
    let profiler = Profiler::start(Config {
        enabled: false,
        ..config("127.0.0.1:0")
    })
    .unwrap();
    assert_eq!(profiler.local_addr(), None);
}

#[test]
fn stop_frees_the_port() {
    let profiler = Profiler::start(config("127.0.0.1:0")).unwrap();
    let addr = profiler.local_addr().unwrap();
    assert_eq!(get(addr, "/debug/pprof/").status, 200);
    profiler.stop();
    let again = Profiler::start(config(&addr.to_string())).expect("port is free after stop");
    assert_eq!(get(addr, "/debug/pprof/").status, 200);
    drop(again);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "drop stops serving"
    );
}
