//! [`PushConfig`]: where and how often [`push`](crate::push) sends profiles, read from
//! `PROFILED_PUSH_*` variables by [`Config::from_env`](crate::Config::from_env).

use std::fmt;
use std::time::Duration;

/// Default seconds between pushes, as Alloy's scrape interval and pyroscope-go's
/// upload rate.
pub const DEFAULT_PUSH_INTERVAL_SECONDS: u64 = 15;
/// Default timeout of one push request.
pub const DEFAULT_PUSH_TIMEOUT_SECONDS: u64 = 10;
/// Shortest accepted interval: each round's CPU profile lasts the interval minus 1 s.
pub const MIN_PUSH_INTERVAL_SECONDS: u64 = 2;

/// Pushing profiles to a Grafana Pyroscope server (`POST {url}/push.v1.PusherService/Push`).
///
/// ```
/// use std::time::Duration;
/// use profiled::push::{PushAuth, PushConfig};
/// let push = PushConfig {
///     labels: vec![("env".into(), "staging".into())],
///     auth: PushAuth::Bearer("s3cret".into()),
///     ..PushConfig::new("https://pyroscope.example.com", "checkout")
/// };
/// assert_eq!(push.interval, Duration::from_secs(15));
/// assert!(push.validate().is_ok());
/// assert!(!format!("{push:?}").contains("s3cret")); // secrets stay out of logs
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PushConfig {
    /// The server's base URL, `https://host[:port][/prefix]` (`http://` is accepted,
    /// but credentials are only sent over it to a loopback host).
    pub url: String,
    /// Time between pushes; each push carries a CPU profile of `interval - 1 s`.
    pub interval: Duration,
    /// The `service_name` label of every series.
    pub service_name: String,
    /// Static labels added to every series (`env`, `region`, ...).
    pub labels: Vec<(String, String)>,
    /// Credentials for the proxy in front of Pyroscope.
    pub auth: PushAuth,
    /// Sent as `X-Scope-OrgID` (Pyroscope's tenant header).
    pub tenant: Option<String>,
    /// Timeout of one push request (connect, send and answer).
    pub timeout: Duration,
}

/// How a push authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum PushAuth {
    /// No `Authorization` header.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
}

/// What is wrong with a push setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushConfigError {
    /// The URL is not `http://` or `https://` with a host.
    InvalidUrl(String),
    /// The interval is shorter than [`MIN_PUSH_INTERVAL_SECONDS`].
    IntervalTooShort(Duration),
    /// The timeout is zero.
    ZeroTimeout,
    /// A label name is not a Prometheus label name, or is reserved (`__name__`,
    /// `service_name`, or any name starting with `__`).
    InvalidLabel(String),
    /// A variable could not be parsed.
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// Its value (secrets are not repeated).
        value: String,
        /// What it should look like.
        expected: &'static str,
    },
    /// Both a bearer token and basic auth are set.
    TwoCredentials,
    /// Credentials would cross the network in clear text (`http://` to a host that
    /// is not loopback).
    CleartextCredentials(String),
    /// A header value (token, password, tenant, service name) holds a control
    /// character or is empty.
    InvalidHeaderValue(&'static str),
    /// Push is configured, but this build of `profiled` lacks the `push` feature.
    NotCompiled,
}

impl fmt::Display for PushConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushConfigError::InvalidUrl(url) => write!(
                f,
                "invalid push url {url:?} (PROFILED_PUSH_URL): expected http://host[:port] or https://host[:port]"
            ),
            PushConfigError::IntervalTooShort(d) => write!(
                f,
                "invalid push interval {} s (PROFILED_PUSH_INTERVAL_SECONDS): must be at least {MIN_PUSH_INTERVAL_SECONDS}",
                d.as_secs()
            ),
            PushConfigError::ZeroTimeout => {
                write!(
                    f,
                    "invalid push timeout 0 (PROFILED_PUSH_TIMEOUT_SECONDS): must be at least 1"
                )
            }
            PushConfigError::InvalidLabel(label) => write!(
                f,
                "invalid push label {label:?} (PROFILED_PUSH_LABELS): expected name=value pairs separated by commas, names matching [a-zA-Z_][a-zA-Z0-9_]* and not reserved (__*, service_name)"
            ),
            PushConfigError::InvalidEnv {
                var,
                value,
                expected,
            } => write!(f, "invalid {var}={value:?}: expected {expected}"),
            PushConfigError::TwoCredentials => write!(
                f,
                "set one of PROFILED_PUSH_BEARER_TOKEN and PROFILED_PUSH_BASIC_AUTH, not both"
            ),
            PushConfigError::CleartextCredentials(url) => write!(
                f,
                "refusing to send push credentials in clear text to {url:?}: use https:// (plain http:// is for loopback)"
            ),
            PushConfigError::NotCompiled => write!(
                f,
                "push is configured (PROFILED_PUSH_URL) but profiled was built without its `push` feature: add features = [\"push\"] to the profiled dependency"
            ),
            PushConfigError::InvalidHeaderValue(what) => write!(
                f,
                "invalid push {what}: must be non-empty, without control characters or surrounding whitespace"
            ),
        }
    }
}

impl std::error::Error for PushConfigError {}

impl fmt::Debug for PushConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushConfig")
            .field("url", &self.url)
            .field("interval", &self.interval)
            .field("service_name", &self.service_name)
            .field("labels", &self.labels)
            .field("auth", &self.auth)
            .field("tenant", &self.tenant)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl fmt::Debug for PushAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushAuth::None => f.write_str("None"),
            PushAuth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            PushAuth::Basic { user, .. } => {
                write!(f, "Basic {{ user: {user:?}, password: <redacted> }}")
            }
        }
    }
}

impl PushConfig {
    /// Pushes to `url` as `service_name`, with the defaults: every 15 s, no labels, no
    /// credentials, 10 s timeout.
    pub fn new(url: impl Into<String>, service_name: impl Into<String>) -> PushConfig {
        PushConfig {
            url: url.into(),
            interval: Duration::from_secs(DEFAULT_PUSH_INTERVAL_SECONDS),
            service_name: service_name.into(),
            labels: Vec::new(),
            auth: PushAuth::None,
            tenant: None,
            timeout: Duration::from_secs(DEFAULT_PUSH_TIMEOUT_SECONDS),
        }
    }

    /// Reads `PROFILED_PUSH_URL` (push is off while it is unset or empty),
    /// `PROFILED_PUSH_INTERVAL_SECONDS` (default 15), `PROFILED_PUSH_SERVICE_NAME`
    /// (default: the executable's name), `PROFILED_PUSH_LABELS` (`k=v,k=v`),
    /// `PROFILED_PUSH_BEARER_TOKEN` or `PROFILED_PUSH_BASIC_AUTH` (`user:password`),
    /// `PROFILED_PUSH_TENANT` and `PROFILED_PUSH_TIMEOUT_SECONDS` (default 10).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use profiled::push::PushConfig;
    /// let env = HashMap::from([
    ///     ("PROFILED_PUSH_URL", "http://127.0.0.1:4040"),
    ///     ("PROFILED_PUSH_LABELS", "env=ci,region=eu"),
    ///     ("PROFILED_PUSH_INTERVAL_SECONDS", "3"),
    /// ]);
    /// let push = PushConfig::from_lookup(|v| env.get(v).map(|s| s.to_string())).unwrap().unwrap();
    /// assert_eq!(push.interval.as_secs(), 3);
    /// assert_eq!(push.labels[1], ("region".to_string(), "eu".to_string()));
    /// assert_eq!(PushConfig::from_lookup(|_| None), Ok(None));
    /// ```
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<PushConfig>, PushConfigError> {
        let Some(url) = lookup("PROFILED_PUSH_URL").filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        let seconds = |var: &'static str, default: u64| -> Result<Duration, PushConfigError> {
            match lookup(var) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v.trim().parse().map(Duration::from_secs).map_err(|_| {
                    PushConfigError::InvalidEnv {
                        var,
                        value: v,
                        expected: "a whole number of seconds",
                    }
                }),
            }
        };
        let mut push = PushConfig::new(url.trim(), default_service_name());
        push.interval = seconds(
            "PROFILED_PUSH_INTERVAL_SECONDS",
            DEFAULT_PUSH_INTERVAL_SECONDS,
        )?;
        push.timeout = seconds(
            "PROFILED_PUSH_TIMEOUT_SECONDS",
            DEFAULT_PUSH_TIMEOUT_SECONDS,
        )?;
        if let Some(name) = lookup("PROFILED_PUSH_SERVICE_NAME") {
            push.service_name = name;
        }
        if let Some(labels) = lookup("PROFILED_PUSH_LABELS") {
            push.labels = parse_labels(&labels)?;
        }
        push.tenant = lookup("PROFILED_PUSH_TENANT");
        let bearer = lookup("PROFILED_PUSH_BEARER_TOKEN");
        let basic = lookup("PROFILED_PUSH_BASIC_AUTH");
        push.auth = match (bearer, basic) {
            (Some(_), Some(_)) => return Err(PushConfigError::TwoCredentials),
            (Some(token), None) => PushAuth::Bearer(token),
            (None, Some(pair)) => match pair.split_once(':') {
                Some((user, password)) => PushAuth::Basic {
                    user: user.to_owned(),
                    password: password.to_owned(),
                },
                None => {
                    return Err(PushConfigError::InvalidEnv {
                        var: "PROFILED_PUSH_BASIC_AUTH",
                        value: "<redacted>".into(),
                        expected: "user:password",
                    });
                }
            },
            (None, None) => PushAuth::None,
        };
        push.validate()?;
        Ok(Some(push))
    }

    /// Checks every value.
    ///
    /// ```
    /// use profiled::push::{PushAuth, PushConfig, PushConfigError};
    /// let push = PushConfig {
    ///     auth: PushAuth::Bearer("t".into()),
    ///     ..PushConfig::new("http://pyroscope.internal:4040", "api")
    /// };
    /// assert!(matches!(push.validate(), Err(PushConfigError::CleartextCredentials(_))));
    /// ```
    pub fn validate(&self) -> Result<(), PushConfigError> {
        let target = Target::parse(&self.url)?;
        if self.interval < Duration::from_secs(MIN_PUSH_INTERVAL_SECONDS) {
            return Err(PushConfigError::IntervalTooShort(self.interval));
        }
        if self.timeout.is_zero() {
            return Err(PushConfigError::ZeroTimeout);
        }
        for (name, _) in &self.labels {
            if !valid_label_name(name) || name.starts_with("__") || name == "service_name" {
                return Err(PushConfigError::InvalidLabel(name.clone()));
            }
        }
        header_value(&self.service_name, "service name")?;
        if let Some(tenant) = &self.tenant {
            header_value(tenant, "tenant (PROFILED_PUSH_TENANT)")?;
        }
        match &self.auth {
            PushAuth::None => {}
            PushAuth::Bearer(token) => {
                header_value(token, "bearer token (PROFILED_PUSH_BEARER_TOKEN)")?
            }
            PushAuth::Basic { user, password } => {
                header_value(user, "basic auth user (PROFILED_PUSH_BASIC_AUTH)")?;
                header_value(password, "basic auth password (PROFILED_PUSH_BASIC_AUTH)")?;
            }
        }
        if self.auth != PushAuth::None && !target.https && !target.loopback {
            return Err(PushConfigError::CleartextCredentials(self.url.clone()));
        }
        Ok(())
    }

    /// The full push endpoint.
    #[cfg(any(feature = "push", test))]
    pub(crate) fn endpoint(&self) -> String {
        format!(
            "{}/push.v1.PusherService/Push",
            self.url.trim_end_matches('/')
        )
    }
}

/// The scheme and host class of a push URL.
struct Target {
    https: bool,
    loopback: bool,
}

impl Target {
    fn parse(url: &str) -> Result<Target, PushConfigError> {
        let invalid = || PushConfigError::InvalidUrl(url.to_owned());
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(invalid());
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@')
            || authority
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid());
        }
        let host = if let Some(v6) = authority.strip_prefix('[') {
            v6.split(']').next().unwrap_or("")
        } else {
            authority.rsplit_once(':').map_or(authority, |(h, _)| h)
        };
        if host.is_empty() {
            return Err(invalid());
        }
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        Ok(Target { https, loopback })
    }
}

fn header_value(value: &str, what: &'static str) -> Result<(), PushConfigError> {
    if value.is_empty() || value.trim() != value || value.chars().any(char::is_control) {
        return Err(PushConfigError::InvalidHeaderValue(what));
    }
    Ok(())
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_labels(text: &str) -> Result<Vec<(String, String)>, PushConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !v.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(PushConfigError::InvalidLabel(pair.to_owned())),
        })
        .collect()
}

/// The executable's file name, as pyroscope-go's default application name.
fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "rust-service".to_owned())
}

#[cfg(test)]
mod tests;
