//! A small but realistic JSON service, for measuring what continuous profiling costs
//! a real service (scripts/whole_service.py) and for the README's recipes: axum on
//! tokio, handlers that parse and render JSON, a shared product cache behind a
//! profiled read-write lock (refreshed now and then under the write lock), a small
//! profiled semaphore standing for a database pool, allocation per request, and
//! `#[profiled]` handlers.
//!
//! ```text
//! cargo run --release --example web_service [-- --addr 127.0.0.1:8080] [--workers N] [--stacks N] [--seconds N]
//! ```
//!
//! The app serves on `--addr` (default 127.0.0.1:8080); the profiler on
//! `PROFILED_LISTEN_ADDR` (default 127.0.0.1:6060). `PROFILED_ENABLED=false` runs the
//! same binary with nothing recorded or served. `--stacks N` spreads the handlers'
//! lock and allocation sites over N distinct call stacks (default 10), to see how the
//! cost grows with the number of stacks a profile holds.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use profiled::tokio::{RwLock, Semaphore};
use profiled::{Config, ProfiledAllocator, Profiler, profiled, tokio_rwlock, tokio_semaphore};
use serde::{Deserialize, Serialize};

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

/// Products in the cache.
const PRODUCTS: u64 = 1_000;
/// One request in this many refreshes the cache under the write lock.
const REFRESH_EVERY: u64 = 500;

#[derive(Clone, Serialize)]
struct Product {
    id: u64,
    name: String,
    price_cents: u64,
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct OrderRequest {
    product_id: u64,
    quantity: u32,
    #[serde(default)]
    note: String,
}

#[derive(Serialize)]
struct OrderReceipt {
    order_id: u64,
    product: String,
    total_cents: u64,
    lines: Vec<String>,
}

/// The product cache, by id: read by every request, rebuilt now and then.
static CACHE: RwLock<Vec<Product>> = tokio_rwlock!("product_cache", Vec::new());
/// The "database" connection pool.
static DB_POOL: Semaphore = tokio_semaphore!("db_pool", 4);

struct App {
    requests: AtomicU64,
    stacks: u64,
}

fn catalog(round: u64) -> Vec<Product> {
    (0..PRODUCTS)
        .map(|id| Product {
            id,
            name: format!("product-{id}"),
            price_cents: 100 + (id * 37 + round) % 10_000,
            tags: vec![format!("t{}", id % 7), format!("r{round}")],
        })
        .collect()
}

/// `GET /products/{id}`: a cache read, JSON out.
#[profiled]
async fn get_product(State(app): State<Arc<App>>, Path(id): Path<u64>) -> Json<Option<Product>> {
    let n = app.requests.fetch_add(1, Ordering::Relaxed);
    if n % REFRESH_EVERY == 0 {
        refresh_cache(n).await;
    }
    Json(read_product(&app, id % PRODUCTS, n % app.stacks).await)
}

/// Rebuilds the cache under the write lock: every reader waits meanwhile.
#[profiled]
async fn refresh_cache(round: u64) {
    let fresh = catalog(round);
    let mut cache = CACHE.write().await;
    *cache = fresh;
    tokio::time::sleep(Duration::from_millis(2)).await; // "persist" while holding it
}

/// `POST /orders`: JSON in, a "database" call under a pool permit, JSON out.
#[profiled]
async fn create_order(
    State(app): State<Arc<App>>,
    Json(order): Json<OrderRequest>,
) -> Json<OrderReceipt> {
    let n = app.requests.fetch_add(1, Ordering::Relaxed);
    let product = read_product(&app, order.product_id % PRODUCTS, n % app.stacks)
        .await
        .map_or_else(|| "unknown".to_owned(), |p| p.name);
    let order_id = query_db(n).await;
    let lines = (0..order.quantity.min(16))
        .map(|i| format!("{product} #{i} {}", order.note))
        .collect();
    Json(OrderReceipt {
        order_id,
        total_cents: u64::from(order.quantity) * 250,
        product,
        lines,
    })
}

/// A database round trip: a permit from the pool, then about 1 ms of waiting.
#[profiled]
async fn query_db(n: u64) -> u64 {
    let _permit = DB_POOL.acquire().await.expect("the pool is never closed");
    tokio::time::sleep(Duration::from_millis(1)).await;
    n.wrapping_mul(2654435761)
}

/// Reads one product through one of `stacks` distinct call paths.
async fn read_product(app: &App, id: u64, path: u64) -> Option<Product> {
    let cache = CACHE.read().await;
    let product = usize::try_from(id).ok().and_then(|i| cache.get(i)).cloned();
    drop(cache);
    // Allocation and a little CPU through the chosen path: `path`'s bits pick a
    // left or right frame at each level, so N paths give N distinct stacks.
    black_box(fan(levels(app.stacks), path, id));
    product
}

fn levels(stacks: u64) -> u32 {
    64 - stacks.saturating_sub(1).leading_zeros()
}

#[inline(never)]
fn fan(level: u32, path: u64, seed: u64) -> u64 {
    if level == 0 {
        return leaf(seed);
    }
    if path & 1 == 0 {
        fan_left(level - 1, path >> 1, seed)
    } else {
        fan_right(level - 1, path >> 1, seed)
    }
}

#[inline(never)]
fn fan_left(level: u32, path: u64, seed: u64) -> u64 {
    black_box(fan(level, path, seed.rotate_left(3)))
}

#[inline(never)]
fn fan_right(level: u32, path: u64, seed: u64) -> u64 {
    black_box(fan(level, path, seed.rotate_left(5)))
}

#[inline(never)]
fn leaf(seed: u64) -> u64 {
    let buffer: Vec<u64> = (0..64).map(|i| seed ^ i).collect();
    buffer
        .iter()
        .fold(0, |acc, v| acc.wrapping_add(v.wrapping_mul(31)))
}

struct Args {
    addr: String,
    workers: usize,
    stacks: u64,
    seconds: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:8080".into(),
        workers: 2,
        stacks: 10,
        seconds: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--addr" => args.addr = value("--addr")?,
            "--workers" => {
                args.workers = value("--workers")?.parse().map_err(|_| "bad --workers")?
            }
            "--stacks" => args.stacks = value("--stacks")?.parse().map_err(|_| "bad --stacks")?,
            "--seconds" => {
                args.seconds = Some(value("--seconds")?.parse().map_err(|_| "bad --seconds")?)
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; use --addr HOST:PORT, --workers N, --stacks N, --seconds N"
                ));
            }
        }
    }
    if args.workers == 0 || args.stacks == 0 {
        return Err("--workers and --stacks must be at least 1".into());
    }
    Ok(args)
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("web_service: {e}");
        std::process::exit(2);
    });
    let config = Config::from_env().unwrap_or_else(|e| {
        eprintln!("web_service: {e}");
        std::process::exit(2);
    });
    let profiler = Profiler::start(config).unwrap_or_else(|e| {
        eprintln!("web_service: {e}");
        std::process::exit(1);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    *CACHE.blocking_write() = catalog(0);
    let app = Arc::new(App {
        requests: AtomicU64::new(0),
        stacks: args.stacks,
    });
    let router = Router::new()
        .route("/products/{id}", get(get_product))
        .route("/orders", post(create_order))
        .route("/health", get(|| async { "ok" }))
        .with_state(app);
    let profiles = profiler.local_addr();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr)
            .await
            .unwrap_or_else(|e| {
                eprintln!("web_service: cannot listen on {}: {e}", args.addr);
                std::process::exit(1);
            });
        let app_addr = listener.local_addr().expect("a bound address");
        match profiles {
            Some(addr) => println!(
                "web_service: serving profiles on http://{addr}/debug/pprof/ and the app on http://{app_addr}/ ({} workers, {} stacks)",
                args.workers, args.stacks
            ),
            None => println!(
                "web_service: profiling disabled (PROFILED_ENABLED=false); the app on http://{app_addr}/ ({} workers, {} stacks)",
                args.workers, args.stacks
            ),
        }
        println!();
        println!("Try:");
        println!("  curl http://{app_addr}/products/7");
        println!("  curl -d '{{\"product_id\":7,\"quantity\":2}}' -H 'Content-Type: application/json' http://{app_addr}/orders");
        if let Some(addr) = profiles {
            println!("  go tool pprof -top http://{addr}/debug/pprof/mutex   # refresh_cache holds the cache's write lock");
            println!("  go tool pprof -top http://{addr}/debug/pprof/block   # readers wait in get_product, orders in query_db");
            println!("  go tool pprof -top 'http://{addr}/debug/pprof/profile?seconds=5'");
        }
        println!("  python3 scripts/whole_service.py   # what profiling costs this service (needs wrk)");
        println!();
        let started = Instant::now();
        let seconds = args.seconds;
        let shutdown = async move {
            match seconds {
                Some(s) => tokio::time::sleep(Duration::from_secs(s).saturating_sub(started.elapsed())).await,
                None => std::future::pending().await,
            }
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            eprintln!("web_service: {e}");
        }
    });
    drop(profiler);
}
