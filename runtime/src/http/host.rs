//! The `Host` check against DNS rebinding: a web page on another origin that gets
//! its name resolved to 127.0.0.1 reaches a loopback server with its own name in
//! `Host`. Go does not check; profiled answers such requests 403
//! ([`Config::allowed_hosts`](crate::Config::allowed_hosts)).

use std::net::SocketAddr;

use hyper::{Request, Response, StatusCode};

use super::response::{self, Body};

/// The configured list, normalized; `None` when empty (not configured).
pub(crate) fn explicit(hosts: &[String]) -> Option<Vec<String>> {
    (!hosts.is_empty()).then(|| hosts.iter().map(|h| normalize(h)).collect())
}

/// The default of the built-in server: loopback names and the bound address when
/// bound to loopback; `None` (any host) otherwise.
pub(crate) fn loopback_default(addr: SocketAddr) -> Option<Vec<String>> {
    addr.ip().is_loopback().then(|| {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        hosts.push(addr.ip().to_string());
        hosts
    })
}

/// `name` without brackets, port or trailing dot, in lowercase.
fn normalize(name: &str) -> String {
    let name = name.trim();
    let host = if let Some(rest) = name.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if name.matches(':').count() == 1 {
        name.split(':').next().unwrap_or(name)
    } else {
        name
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The host the request names: the absolute URI's, else the `Host` header's.
fn requested<B>(request: &Request<B>) -> Option<String> {
    if let Some(authority) = request.uri().authority() {
        return Some(normalize(authority.host()));
    }
    let value = request.headers().get(hyper::header::HOST)?;
    Some(normalize(&String::from_utf8_lossy(value.as_bytes())))
}

/// Go-style 403 for a request whose host is not in `allowed`; `None` to serve it.
pub(crate) fn refusal<B>(
    request: &Request<B>,
    allowed: Option<&[String]>,
) -> Option<Response<Body>> {
    let allowed = allowed?;
    let host = requested(request)?;
    if allowed.iter().any(|a| a == "*" || *a == host) {
        return None;
    }
    Some(response::go_error(
        StatusCode::FORBIDDEN,
        &format!(
            "403 Forbidden: Host {host:?} is not allowed; add it to allowed_hosts (PROFILED_ALLOWED_HOSTS)"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: &str) -> Request<()> {
        Request::get("/debug/pprof/")
            .header("host", host)
            .body(())
            .unwrap()
    }

    #[test]
    fn the_loopback_default_answers_loopback_names_only() {
        let allowed = loopback_default("127.0.0.1:6060".parse().unwrap());
        let allowed = allowed.as_deref();
        for ok in [
            "127.0.0.1:6060",
            "localhost:6060",
            "LOCALHOST",
            "[::1]:6060",
            "localhost.",
        ] {
            assert!(refusal(&with_host(ok), allowed).is_none(), "{ok}");
        }
        let refused = refusal(&with_host("rebind.attacker.example:6060"), allowed).unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        // No Host at all (HTTP/1.0 tools): answered.
        let bare = Request::get("/").body(()).unwrap();
        assert!(refusal(&bare, allowed).is_none());
        assert!(loopback_default("0.0.0.0:6060".parse().unwrap()).is_none());
    }

    #[test]
    fn an_explicit_list_replaces_the_default() {
        let allowed = explicit(&["Profiles.Internal".into()]);
        assert!(refusal(&with_host("profiles.internal:8080"), allowed.as_deref()).is_none());
        assert!(refusal(&with_host("127.0.0.1"), allowed.as_deref()).is_some());
        let any = explicit(&["*".into()]);
        assert!(refusal(&with_host("anything"), any.as_deref()).is_none());
        assert_eq!(explicit(&[]), None);
    }
}
