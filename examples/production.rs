//! How to run profiled in production: the endpoints mounted into the app's own hyper
//! server under /admin, behind a bearer token, recording switched by signals, and
//! Prometheus metrics next to the app's own.
//!
//! ```text
//! cargo run --release --example production [-- --addr 127.0.0.1:8080] [--seconds N]
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use profiled::{Config, ProfiledMutex, ProfiledService, Profiler, profiled, profiled_mutex};

static INVENTORY: ProfiledMutex<u64> = profiled_mutex!("inventory", 100);

/// The app's own endpoint: reserves an item.
#[profiled]
async fn reserve() -> String {
    tokio::time::sleep(Duration::from_millis(2)).await; // a database round trip
    let mut stock = INVENTORY.lock();
    *stock = stock.saturating_sub(1).max(1);
    format!("reserved; {} left\n", *stock)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = profiled_examples::DemoArgs::parse("production", "127.0.0.1:8080");
    let addr: SocketAddr = args.addr.parse()?;
    // PROFILED_* variables override these defaults, e.g. PROFILED_AUTH_TOKEN.
    let mut config = Config::from_env()?;
    let token = config
        .auth_token
        .get_or_insert_with(|| format!("demo-{:x}", std::process::id()))
        .clone();
    config.enable_signals = true; // kill -USR2 <pid> stops recording, -USR1 resumes
    config.mutex_fraction = 5; // production-friendly sampling
    config.block_rate = 100_000; // 100 us
    let service = ProfiledService::new(&config, "/admin")?;
    let _recording = Profiler::start_recording(config)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        println!("production: app on http://{addr}/reserve, profiles under /admin");
        println!();
        println!("Try:");
        println!("  curl -H 'Authorization: Bearer {token}' http://{addr}/admin/debug/pprof/");
        println!("  curl -H 'Authorization: Bearer {token}' -o mutex.pb.gz http://{addr}/admin/debug/pprof/mutex && go tool pprof -top mutex.pb.gz");
        println!("  curl -H 'Authorization: Bearer {token}' http://{addr}/admin/metrics");
        println!("  curl http://{addr}/admin/debug/pprof/   # 401 without the token");
        println!("  kill -USR2 {}   # stop recording; kill -USR1 {} to resume", std::process::id(), std::process::id());
        println!();

        // Load so the profiles have something to show.
        for _ in 0..4 {
            tokio::spawn(async {
                loop {
                    reserve().await;
                }
            });
        }

        let started = Instant::now();
        loop {
            let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
            if args.expired(started) {
                return Ok::<(), std::io::Error>(());
            }
            let Ok(Ok((stream, _))) = accepted else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let app = service_fn(move |request: Request<Incoming>| {
                    let service = service.clone();
                    async move {
                        if request.uri().path().starts_with("/admin/") {
                            return Ok::<_, Infallible>(service.handle(request).await);
                        }
                        let body = match request.uri().path() {
                            "/reserve" => reserve().await,
                            _ => "try /reserve\n".to_owned(),
                        };
                        Ok(Response::new(Full::new(Bytes::from(body))))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), app)
                    .await;
            });
        }
    })?;
    Ok(())
}
