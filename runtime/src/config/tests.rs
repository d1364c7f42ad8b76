//! Unit tests of [`Config`] validation and `from_lookup`.

use super::*;

#[test]
fn defaults_are_valid_and_loopback() {
    let addr = Config::default().validate().unwrap();
    assert_eq!(addr, "127.0.0.1:6060".parse().unwrap());
}

#[test]
fn rejects_each_bad_value() {
    let cases = [
        (
            Config {
                block_rate: 0,
                ..Config::default()
            },
            ConfigError::InvalidBlockRate(0),
        ),
        (
            Config {
                mutex_fraction: -3,
                ..Config::default()
            },
            ConfigError::InvalidMutexFraction(-3),
        ),
        (
            Config {
                max_stack_depth: 0,
                ..Config::default()
            },
            ConfigError::InvalidStackDepth(0),
        ),
        (
            Config {
                max_stack_depth: 257,
                ..Config::default()
            },
            ConfigError::InvalidStackDepth(257),
        ),
        (
            Config {
                max_stacks: 0,
                ..Config::default()
            },
            ConfigError::InvalidMaxStacks(0),
        ),
        (
            Config {
                cpu_profile_hz: 0,
                ..Config::default()
            },
            ConfigError::InvalidCpuProfileHz(0),
        ),
        (
            Config {
                cpu_profile_hz: 1001,
                ..Config::default()
            },
            ConfigError::InvalidCpuProfileHz(1001),
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(config.validate(), Err(expected));
    }
}

#[test]
fn rejects_bad_and_public_addresses() {
    for addr in ["", "6060", "127.0.0.1", "127.0.0.1:99999", "[::1:6060"] {
        let config = Config {
            listen_addr: addr.into(),
            ..Config::default()
        };
        assert!(
            matches!(
                config.validate(),
                Err(ConfigError::InvalidListenAddr { .. })
            ),
            "{addr:?} gave {:?}",
            config.validate()
        );
    }
    let public = Config {
        listen_addr: "0.0.0.0:6060".into(),
        ..Config::default()
    };
    assert!(matches!(
        public.validate(),
        Err(ConfigError::InsecureBind(_))
    ));
    assert!(
        public
            .validate()
            .unwrap_err()
            .to_string()
            .contains("allow_insecure_bind")
    );
    let allowed = Config {
        allow_insecure_bind: true,
        ..public.clone()
    };
    assert!(allowed.validate().is_ok());
    let with_token = Config {
        auth_token: Some("s3cret".into()),
        ..public
    };
    assert!(with_token.validate().is_ok());
    let empty = Config {
        auth_token: Some(String::new()),
        ..Config::default()
    };
    assert_eq!(empty.validate(), Err(ConfigError::EmptyAuthToken));
}

#[test]
fn reads_every_variable_and_rejects_bad_values() {
    let vars = [
        ("PROFILED_ENABLED", "false"),
        ("PROFILED_LISTEN_ADDR", "127.0.0.1:7070"),
        ("PROFILED_AUTH_TOKEN", "t0k"),
        ("PROFILED_ENABLE_SIGNALS", "1"),
        ("PROFILED_ENABLE_MUTEX_PROFILING", "off"),
        ("PROFILED_BLOCK_RATE", "1000"),
        ("PROFILED_MUTEX_FRACTION", "7"),
        ("PROFILED_MAX_STACKS", "99"),
    ];
    let lookup = |var: &str| {
        vars.iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v.to_string())
    };
    let config = Config::from_lookup(lookup).unwrap();
    assert!(!config.enabled);
    assert_eq!(config.listen_addr, "127.0.0.1:7070");
    assert_eq!(config.auth_token.as_deref(), Some("t0k"));
    assert!(config.enable_signals);
    assert!(!config.enable_mutex_profiling);
    assert_eq!(
        (config.block_rate, config.mutex_fraction, config.max_stacks),
        (1000, 7, 99)
    );

    let bad = |var: &str| (var == "PROFILED_ENABLED").then(|| "maybe".to_string());
    assert!(matches!(
        Config::from_lookup(bad),
        Err(ConfigError::InvalidEnv {
            var: "PROFILED_ENABLED",
            ..
        })
    ));
    let bad = |var: &str| (var == "PROFILED_MAX_TASKS").then(|| "-1".to_string());
    let error = Config::from_lookup(bad).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid PROFILED_MAX_TASKS=\"-1\": expected an integer"
    );
}

#[test]
fn every_table_variable_sets_a_field_of_its_own() {
    let defaults = Config::default();
    let mut vars: Vec<&str> = FLAGS.iter().map(|(var, _)| *var).collect();
    vars.extend(INTEGERS.iter().map(|(var, _)| *var));
    let count = vars.len();
    vars.sort_unstable();
    vars.dedup();
    assert_eq!(vars.len(), count, "a variable is listed twice");
    for (var, field) in FLAGS {
        let flipped = (!*field(&mut defaults.clone())).to_string();
        let config = Config::from_lookup(|v| (v == var).then(|| flipped.clone())).unwrap();
        assert_ne!(config, defaults, "{var}");
    }
    for (var, _) in INTEGERS {
        let config = Config::from_lookup(|v| (v == var).then(|| " 7 ".to_owned())).unwrap();
        assert_ne!(config, defaults, "{var}");
        let error = Config::from_lookup(|v| (v == var).then(|| "7x".to_owned())).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("invalid {var}=\"7x\": expected an integer")
        );
    }
}
