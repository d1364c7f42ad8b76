//! Bearer tokens, the heavy-request cap, mounting into an app's own hyper server,
//! and SIGUSR1/SIGUSR2 switching.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use profiled::{Config, ProfiledService, Profiler};
use profiled_tests::{HttpResponse, decode, get, request, serve};

fn get_with(addr: SocketAddr, path: &str, authorization: &str) -> HttpResponse {
    request(
        addr,
        format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
}

#[test]
fn bearer_token_is_required_when_configured() {
    let (_profiler, addr) = serve(Config {
        auth_token: Some("s3cret-token".into()),
        ..Config::default()
    });
    for path in [
        "/debug/pprof/",
        "/debug/pprof/mutex",
        "/debug/stats",
        "/nope",
        "/debug/pprof",
    ] {
        let response = get(addr, path);
        assert_eq!(response.status, 401, "{path}");
        assert_eq!(
            response.text(),
            "401 Unauthorized: missing or invalid bearer token (send Authorization: Bearer <token>)\n"
        );
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer realm=\"profiled\"")
        );
    }
    for wrong in [
        "Bearer s3cret-tokeN",
        "Bearer s3cret",
        "Basic czNjcmV0LXRva2Vu",
        "s3cret-token",
        "Bearer",
    ] {
        assert_eq!(
            get_with(addr, "/debug/pprof/mutex", wrong).status,
            401,
            "{wrong}"
        );
    }
    let ok = get_with(addr, "/debug/pprof/mutex", "Bearer s3cret-token");
    assert_eq!(ok.status, 200);
    decode(&ok.body);
    assert_eq!(
        get_with(addr, "/debug/pprof/", "bearer s3cret-token").status,
        200
    );
}

#[test]
fn heavy_requests_are_capped() {
    let (_profiler, addr) = serve(Config {
        max_concurrent_heavy_requests: 1,
        ..Config::default()
    });
    let first = std::thread::spawn(move || get(addr, "/debug/pprof/block?seconds=2"));
    std::thread::sleep(Duration::from_millis(500));
    let second = get(addr, "/debug/pprof/mutex?seconds=1");
    assert_eq!(second.status, 429);
    assert_eq!(
        second.text(),
        "too many concurrent profile requests; retry later\n"
    );
    // Light requests are not capped.
    assert_eq!(get(addr, "/debug/pprof/mutex").status, 200);
    assert_eq!(first.join().unwrap().status, 200);
    assert_eq!(get(addr, "/debug/pprof/mutex?seconds=1").status, 200);
}

#[test]
fn service_mounts_under_a_prefix_in_an_existing_server() {
    let config = Config::default();
    let service = ProfiledService::new(&config, "/admin").unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let profile = get(addr, "/admin/debug/pprof/mutex");
    assert_eq!(profile.status, 200);
    decode(&profile.body);
    assert!(
        get(addr, "/admin/debug/pprof/")
            .text()
            .contains("mutex?debug=1")
    );
    assert_eq!(get(addr, "/debug/pprof/mutex").status, 404);
    let redirect = get(addr, "/admin/debug/pprof");
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/admin/debug/pprof/"));
    assert_eq!(
        get(addr, "/admin/debug/pprof/nope").text(),
        "Unknown profile\n"
    );
}

#[test]
fn service_handles_any_body_type_for_frameworks() {
    use http_body_util::BodyExt;
    let service = ProfiledService::new(&Config::default(), "/admin").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, body) = runtime.block_on(async {
        // A framework's request type with its own body, as an axum handler gets one.
        let request = hyper::Request::post("/admin/debug/pprof/symbol")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(b"0x1")))
            .unwrap();
        let response = service.handle(request).await;
        let status = response.status();
        (
            status,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    });
    assert_eq!(status, 200);
    assert_eq!(&body[..], b"num_symbols: 1\n");
}

fn wait_for(condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn sigusr2_switches_recording_off_and_sigusr1_back_on() {
    let profiler = Profiler::start_recording(Config {
        enable_signals: true,
        mutex_fraction: 3,
        block_rate: 1000,
        ..Config::default()
    })
    .unwrap();
    assert_eq!(profiled::mutex_fraction(), 3);
    // SAFETY: raising a signal this process handles (signal-hook installed it).
    unsafe { libc::raise(libc::SIGUSR2) };
    assert!(wait_for(
        || profiled::mutex_fraction() == 0 && profiled::block_rate() == 0
    ));
    assert!(!profiled::function_profiling());
    // SAFETY: as above.
    unsafe { libc::raise(libc::SIGUSR1) };
    assert!(wait_for(
        || profiled::mutex_fraction() == 3 && profiled::block_rate() == 1000
    ));
    assert!(profiled::function_profiling());
    drop(profiler);
    assert_eq!(profiled::mutex_fraction(), 0);
}

#[test]
fn axum_router_serves_every_endpoint_under_its_prefix() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let config = Config {
        auth_token: Some("tok".into()),
        ..Config::default()
    };
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "app" }))
        .merge(profiled::axum::router(&config, "/admin").unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let call = |path: &str, token: Option<&str>| {
        let mut request = axum::http::Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(axum::body::Body::empty()).unwrap();
        let app = app.clone();
        runtime.block_on(async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, body.to_vec())
        })
    };
    assert_eq!(call("/", None), (200, b"app".to_vec()));
    assert_eq!(call("/admin/debug/pprof/mutex", None).0, 401);
    let (status, body) = call("/admin/debug/pprof/mutex", Some("tok"));
    assert_eq!(status, 200);
    decode(&body);
    let (status, body) = call("/admin/metrics", Some("tok"));
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("profiled_tasks"));
    assert_eq!(
        call("/admin/debug/pprof/nope", Some("tok")).1,
        b"Unknown profile\n"
    );
}
