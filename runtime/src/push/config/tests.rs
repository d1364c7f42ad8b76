//! `PushConfig`'s reading and checking of every `PROFILED_PUSH_*` variable.
use super::*;

fn env(pairs: &[(&'static str, &'static str)]) -> Result<Option<PushConfig>, PushConfigError> {
    let map: std::collections::HashMap<&str, &str> = pairs.iter().copied().collect();
    PushConfig::from_lookup(|v| map.get(v).map(|s| s.to_string()))
}

#[test]
fn reads_every_variable() {
    let push = env(&[
        ("PROFILED_PUSH_URL", "https://pyro.example:4040/"),
        ("PROFILED_PUSH_INTERVAL_SECONDS", "30"),
        ("PROFILED_PUSH_SERVICE_NAME", "checkout"),
        ("PROFILED_PUSH_LABELS", " env=prod , zone=b "),
        ("PROFILED_PUSH_BASIC_AUTH", "alice:pa:ss"),
        ("PROFILED_PUSH_TENANT", "team-a"),
        ("PROFILED_PUSH_TIMEOUT_SECONDS", "5"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(
        push.endpoint(),
        "https://pyro.example:4040/push.v1.PusherService/Push"
    );
    assert_eq!(push.interval, Duration::from_secs(30));
    assert_eq!(push.timeout, Duration::from_secs(5));
    assert_eq!(push.service_name, "checkout");
    assert_eq!(
        push.labels,
        [
            ("env".to_string(), "prod".to_string()),
            ("zone".to_string(), "b".to_string())
        ]
    );
    assert_eq!(
        push.auth,
        PushAuth::Basic {
            user: "alice".into(),
            password: "pa:ss".into()
        }
    );
    assert_eq!(push.tenant.as_deref(), Some("team-a"));
}

#[test]
fn rejects_what_would_misbehave() {
    let url = ("PROFILED_PUSH_URL", "http://127.0.0.1:4040");
    assert!(matches!(
        env(&[("PROFILED_PUSH_URL", "ftp://x")]),
        Err(PushConfigError::InvalidUrl(_))
    ));
    assert!(matches!(
        env(&[("PROFILED_PUSH_URL", "http://user@x")]),
        Err(PushConfigError::InvalidUrl(_))
    ));
    assert!(matches!(
        env(&[url, ("PROFILED_PUSH_INTERVAL_SECONDS", "1")]),
        Err(PushConfigError::IntervalTooShort(_))
    ));
    assert!(matches!(
        env(&[url, ("PROFILED_PUSH_INTERVAL_SECONDS", "soon")]),
        Err(PushConfigError::InvalidEnv { .. })
    ));
    assert!(matches!(
        env(&[url, ("PROFILED_PUSH_TIMEOUT_SECONDS", "0")]),
        Err(PushConfigError::ZeroTimeout)
    ));
    assert!(matches!(
        env(&[url, ("PROFILED_PUSH_LABELS", "__name__=x")]),
        Err(PushConfigError::InvalidLabel(_))
    ));
    assert!(matches!(
        env(&[url, ("PROFILED_PUSH_LABELS", "service_name=x")]),
        Err(PushConfigError::InvalidLabel(_))
    ));
    assert!(matches!(
        env(&[url, ("PROFILED_PUSH_LABELS", "a-b=x")]),
        Err(PushConfigError::InvalidLabel(_))
    ));
    assert!(matches!(
        env(&[url, ("PROFILED_PUSH_LABELS", "novalue")]),
        Err(PushConfigError::InvalidLabel(_))
    ));
    assert!(matches!(
        env(&[
            url,
            ("PROFILED_PUSH_BEARER_TOKEN", "a"),
            ("PROFILED_PUSH_BASIC_AUTH", "u:p")
        ]),
        Err(PushConfigError::TwoCredentials)
    ));
    assert!(matches!(
        env(&[url, ("PROFILED_PUSH_BASIC_AUTH", "nocolon")]),
        Err(PushConfigError::InvalidEnv { .. })
    ));
    assert!(matches!(
        env(&[url, ("PROFILED_PUSH_BEARER_TOKEN", "tok\n")]),
        Err(PushConfigError::InvalidHeaderValue(_))
    ));
    assert!(matches!(
        env(&[
            ("PROFILED_PUSH_URL", "http://pyroscope:4040"),
            ("PROFILED_PUSH_BEARER_TOKEN", "t")
        ]),
        Err(PushConfigError::CleartextCredentials(_))
    ));
    // Loopback over plain HTTP may carry credentials; so may any HTTPS host.
    assert!(
        env(&[url, ("PROFILED_PUSH_BEARER_TOKEN", "t")])
            .unwrap()
            .is_some()
    );
    assert!(
        env(&[
            ("PROFILED_PUSH_URL", "http://[::1]:4040"),
            ("PROFILED_PUSH_BEARER_TOKEN", "t")
        ])
        .unwrap()
        .is_some()
    );
    assert!(
        env(&[
            ("PROFILED_PUSH_URL", "https://pyroscope:4040"),
            ("PROFILED_PUSH_BEARER_TOKEN", "t")
        ])
        .unwrap()
        .is_some()
    );
}

#[test]
fn error_messages_name_the_variable_and_hide_secrets() {
    let e = env(&[
        ("PROFILED_PUSH_URL", "http://127.0.0.1:1"),
        ("PROFILED_PUSH_BASIC_AUTH", "secretnocolon"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("PROFILED_PUSH_BASIC_AUTH"), "{e}");
    assert!(!e.to_string().contains("secretnocolon"), "{e}");
}
