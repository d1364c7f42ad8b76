//! The fleet engines' scrape rules hold for the endpoints mounted under a prefix in
//! the application's own server (Alloy's `path_prefix`): every default target of
//! Alloy and Parca, and the godeltaprof ones, under `/admin`, with a bearer token or
//! basic auth carrying the token, answers 200 with `application/octet-stream` and a
//! gzip'd profile; without credentials, 401.

use http_body_util::BodyExt;
use profiled::{Config, ProfiledAllocator, Profiler};
use profiled_tests::decode;
use tower::ServiceExt;

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

const TARGETS: [&str; 8] = [
    "/admin/debug/pprof/profile?seconds=1",
    "/admin/debug/pprof/allocs",
    "/admin/debug/pprof/block",
    "/admin/debug/pprof/mutex",
    "/admin/debug/pprof/goroutine",
    "/admin/debug/pprof/delta_heap",
    "/admin/debug/pprof/delta_mutex",
    "/admin/debug/pprof/delta_block",
];

#[test]
fn every_default_target_passes_alloy_rules_under_a_prefix() {
    let config = Config {
        auth_token: Some("mounted-token".into()),
        ..Config::default()
    };
    let _recording = Profiler::start_recording(config.clone()).unwrap();
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "app" }))
        .merge(profiled::axum::router(&config, "/admin").unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let call = |path: &str, authorization: Option<&str>| {
        let mut request = axum::http::Request::get(path);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let request = request.body(axum::body::Body::empty()).unwrap();
        let app = app.clone();
        runtime.block_on(async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, content_type, body.to_vec())
        })
    };
    // alloy:mounted-token, as Alloy's basic_auth { username = "alloy", password = ... }.
    let basic = "Basic YWxsb3k6bW91bnRlZC10b2tlbg==";
    for target in TARGETS {
        assert_eq!(call(target, None).0, 401, "{target} without credentials");
        for authorization in ["Bearer mounted-token", basic] {
            let (status, content_type, body) = call(target, Some(authorization));
            assert_eq!(status, 200, "{target}: {}", String::from_utf8_lossy(&body));
            assert!(
                content_type.starts_with("application/octet-stream"),
                "{target}: {content_type}"
            );
            assert_eq!(body[..2], [0x1f, 0x8b], "{target}: gzip");
            assert!(!decode(&body).sample_type.is_empty(), "{target}");
        }
    }
    assert_eq!(call("/", None).2, b"app");
}
