//! Driving real requests through `profiled::ProfiledService::handle` on one
//! current-thread tokio runtime, and the response contract every answer must keep.

#![allow(dead_code)]

use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};

/// The bearer token of the services that require one.
pub const TOKEN: &str = "s3cret";

/// Statuses the README documents for the handlers (431/414 come from hyper's
/// connection layer, never from `handle`).
const DOCUMENTED: [u16; 10] = [200, 301, 400, 401, 403, 404, 413, 429, 500, 501];

pub struct Services {
    runtime: tokio::runtime::Runtime,
    /// [root, "/admin"] x [no token, token].
    services: [[profiled::ProfiledService; 2]; 2],
}

pub fn services() -> &'static Services {
    static SERVICES: OnceLock<Services> = OnceLock::new();
    SERVICES.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .max_blocking_threads(2)
            .build()
            .expect("runtime");
        let open = profiled::Config::default();
        let mut guarded = profiled::Config::default();
        guarded.auth_token = Some(TOKEN.to_owned());
        let make = |config: &profiled::Config, prefix| {
            profiled::ProfiledService::new(config, prefix).expect("valid config")
        };
        Services {
            runtime,
            services: [
                [make(&open, ""), make(&guarded, "")],
                [make(&open, "/admin"), make(&guarded, "/admin")],
            ],
        }
    })
}

/// A response's parts, body collected.
pub struct Answer {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Services {
    pub fn prefix(admin: bool) -> &'static str {
        if admin { "/admin" } else { "" }
    }

    /// Serves `request` with the service of that prefix and token setting.
    pub fn serve(&self, admin: bool, token: bool, request: Request<Full<Bytes>>) -> Answer {
        let service = &self.services[usize::from(admin)][usize::from(token)];
        self.runtime.block_on(async {
            let response: Response<Full<Bytes>> = service.handle(request).await;
            let (parts, body) = response.into_parts();
            let body = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            };
            Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        })
    }
}

/// The contract of every answer: a documented status; errors with a non-empty
/// body; Go-style errors (`X-Go-Pprof: 1`) as one `text/plain` line; no 500 that
/// hides a panic; redirects with a `Location` under the prefix; a content type on
/// every 200.
pub fn check(answer: &Answer, prefix: &str) {
    let status = answer.status.as_u16();
    assert!(DOCUMENTED.contains(&status), "undocumented status {status}");
    let body = String::from_utf8_lossy(&answer.body);
    if status >= 400 {
        assert!(!answer.body.is_empty(), "{status} with an empty body");
    }
    if answer.headers.get("x-go-pprof").is_some() {
        assert!(status >= 400, "X-Go-Pprof on {status}");
        assert_eq!(
            answer.headers.get("content-type").unwrap(),
            "text/plain; charset=utf-8"
        );
        assert!(
            body.ends_with('\n') && body.matches('\n').count() == 1,
            "Go error bodies are one line: {body:?}"
        );
    }
    assert!(
        body != "internal error while writing profile\n",
        "a handler panicked (500)"
    );
    match status {
        200 => assert!(answer.headers.get("content-type").is_some()),
        301 => {
            let location = answer
                .headers
                .get("location")
                .expect("301 without Location")
                .to_str()
                .expect("ASCII Location");
            assert!(
                location.starts_with(&format!("{prefix}/")),
                "{location:?} outside {prefix:?}"
            );
        }
        _ => {}
    }
}
