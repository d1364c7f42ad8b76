//! Response builders with Go's `net/http/pprof` headers.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

pub(crate) type Body = Full<Bytes>;

const TEXT: &str = "text/plain; charset=utf-8";

/// Go's `serveError`: status, `text/plain; charset=utf-8`, `X-Go-Pprof: 1`, and the
/// message on one line.
pub(crate) fn go_error(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = typed(format!("{message}\n"), TEXT);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("x-go-pprof", HeaderValue::from_static("1"));
    response
}

/// Go's mux answer for a path no handler serves.
pub(crate) fn not_found() -> Response<Body> {
    let mut response = typed("404 page not found\n", TEXT);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// Go's mux redirect, e.g. from `/debug/pprof` to `/debug/pprof/`.
/// `location` should already be percent-encoded; any byte left outside visible
/// ASCII (a raw query may carry UTF-8) is percent-encoded here, so `Location` is
/// always a valid URI reference.
pub(crate) fn moved_permanently(location: &str) -> Response<Body> {
    let location = super::path::escape_non_ascii(location);
    let location = location.as_str();
    let Ok(value) = HeaderValue::from_str(location) else {
        return not_found();
    };
    let mut response = Response::new(Body::from(format!(
        "<a href=\"{}\">Moved Permanently</a>.\n\n",
        location
            .replace('"', "%22")
            .replace('<', "%3C")
            .replace('>', "%3E")
    )));
    *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, value);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// A profile body: Go's `text/plain` for `debug != 0`, otherwise an
/// `application/octet-stream` attachment named after the profile.
pub(crate) fn profile(body: Vec<u8>, debug: i64, filename: &str) -> Response<Body> {
    if debug != 0 {
        return typed(body, TEXT);
    }
    attachment(typed(body, "application/octet-stream"), filename)
}

/// Marks `response` as a download named `filename`.
fn attachment(mut response: Response<Body>, filename: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// A 200 response of `content_type`, with `X-Content-Type-Options: nosniff`.
fn typed(body: impl Into<Body>, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// An HTML page.
pub(crate) fn html(body: String) -> Response<Body> {
    typed(body, "text/html; charset=utf-8")
}

/// A JSON document.
pub(crate) fn json(body: String) -> Response<Body> {
    typed(body, "application/json")
}

/// A plain-text body, with Go's `text/plain; charset=utf-8`.
pub(crate) fn text(body: String) -> Response<Body> {
    typed(body, TEXT)
}

/// An SVG image (flame graphs).
pub(crate) fn svg(body: Vec<u8>) -> Response<Body> {
    typed(body, "image/svg+xml")
}

/// 401 for a missing or wrong bearer token.
pub(crate) fn unauthorized() -> Response<Body> {
    let mut response = go_error(
        StatusCode::UNAUTHORIZED,
        "401 Unauthorized: missing or invalid bearer token (send Authorization: Bearer <token>)",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"profiled\""),
    );
    response
}

/// OpenMetrics text, which Prometheus and its agents negotiate and parse.
pub(crate) fn openmetrics(body: String) -> Response<Body> {
    typed(
        body,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
    )
}

/// Prometheus text format 0.0.4.
pub(crate) fn prometheus_text(body: String) -> Response<Body> {
    typed(body, "text/plain; version=0.0.4; charset=utf-8")
}

/// A JSON document served as a download (traces).
pub(crate) fn attachment_json(body: String, filename: &str) -> Response<Body> {
    attachment(json(body), filename)
}

/// A plain-text body already in `Bytes` (symbol answers holding their budget).
pub(crate) fn text_bytes(body: Bytes) -> Response<Body> {
    typed(body, TEXT)
}

/// `response` with `Connection: close`: the connection ends once it is written.
fn closing(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// 408 for a request body that did not arrive within `timeout`; closes.
pub(crate) fn body_timeout(timeout: std::time::Duration) -> Response<Body> {
    closing(go_error(
        StatusCode::REQUEST_TIMEOUT,
        &format!("request body not received within {}s", timeout.as_secs()),
    ))
}

/// For a client that hung up (or talked) mid-profile; closes the connection.
pub(crate) fn client_hung_up() -> Response<Body> {
    closing(go_error(StatusCode::BAD_REQUEST, "client hung up"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `query` fuzz target (fuzz/README.md): a redirect that keeps a
    /// raw query with UTF-8 in it sent those bytes unescaped in `Location`.
    #[test]
    fn redirect_location_is_visible_ascii() {
        let response = moved_permanently("/admin/?\u{1ae}=\u{7f} x");
        let location = response.headers().get(header::LOCATION).unwrap();
        assert_eq!(location.to_str().unwrap(), "/admin/?%C6%AE=%7F%20x");
        let response = moved_permanently("/debug/pprof/?debug=1&a=%C3%A9");
        let location = response.headers().get(header::LOCATION).unwrap();
        assert_eq!(location, "/debug/pprof/?debug=1&a=%C3%A9");
    }
}
