//! How to run profiled in production: the endpoints mounted into the app's own hyper
//! server under /admin, behind a bearer token, recording switched by signals, and
//! Prometheus metrics next to the app's own.
//!
//! ```text
//! cargo run --release --example production [-- --addr 127.0.0.1:8080] [--seconds N]
//! ```
//!
//! Safe to copy: the token comes from `PROFILED_AUTH_TOKEN` or is 128 random bits
//! from `/dev/urandom`, written to a file only this user can read (never printed);
//! `PROFILED_*` variables win over the example's production defaults; the app's own
//! server closes connections that do not send a request head within 10 s (hyper's
//! header timeout, which also ends idle keep-alive connections).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
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

/// 128 bits from the kernel's random source, in hex.
fn random_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `token` to a new file only this user can read; returns its path.
fn write_token_file(token: &str) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = std::env::temp_dir().join(format!("profiled-token-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(token.as_bytes())?;
    Ok(path)
}

/// Sets `target` to `value` unless the environment variable `var` is set.
fn default_unless_set<T>(var: &str, target: &mut T, value: T) {
    if std::env::var_os(var).is_none() {
        *target = value;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = profiled_examples::DemoArgs::parse("production", "127.0.0.1:8080");
    let addr: SocketAddr = args.listen_addr().parse()?;
    // PROFILED_* variables win over the production defaults below.
    let mut config = Config::from_env()?;
    // How to send the token, without ever printing it.
    let mut token_file = None;
    let bearer = match &config.auth_token {
        Some(_) => "$PROFILED_AUTH_TOKEN".to_owned(),
        None => {
            let token = random_token()?;
            let file = write_token_file(&token)?;
            config.auth_token = Some(token);
            let bearer = format!("$(cat {})", file.display());
            token_file = Some(file);
            bearer
        }
    };
    // kill -USR2 <pid> stops recording, -USR1 resumes.
    default_unless_set("PROFILED_ENABLE_SIGNALS", &mut config.enable_signals, true);
    // Production-friendly sampling.
    default_unless_set("PROFILED_MUTEX_FRACTION", &mut config.mutex_fraction, 5);
    default_unless_set("PROFILED_BLOCK_RATE", &mut config.block_rate, 100_000); // 100 us
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
        println!("  curl -H \"Authorization: Bearer {bearer}\" http://{addr}/admin/debug/pprof/");
        println!("  curl -H \"Authorization: Bearer {bearer}\" -o mutex.pb.gz http://{addr}/admin/debug/pprof/mutex && go tool pprof -top mutex.pb.gz");
        println!("  curl -H \"Authorization: Bearer {bearer}\" http://{addr}/admin/metrics");
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
                // A client must send each request head within 10 s, including the next
                // one on a keep-alive connection: a slowloris cannot hold /admin.
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), app)
                    .await;
            });
        }
    })?;
    if let Some(file) = token_file {
        let _ = std::fs::remove_file(file);
    }
    Ok(())
}
