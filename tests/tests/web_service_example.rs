//! The `web_service` example cannot rot: started as a user would, loaded with a few
//! hundred JSON requests, its profiles name its handlers and its cache lock (the
//! mutex profile charges `refresh_cache`, which holds `product_cache`'s write lock
//! across an `.await`; the block profile shows readers waiting in `get_product` and
//! orders waiting for the `db_pool`), and `/debug/stats` lists both named sites.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use profiled_tests::{HttpResponse, decode, get, request, stack_names};

struct Service {
    child: std::process::Child,
    profiles: SocketAddr,
    app: SocketAddr,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the example built next to this test; `None` (skip) outside CI when it
/// was not built.
fn start() -> Option<Service> {
    let exe = std::env::current_exe().ok()?;
    let binary = exe.parent()?.parent()?.join("examples").join("web_service");
    if !binary.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing: run the whole workspace's tests",
            binary.display()
        );
        eprintln!("skipping: {} not built", binary.display());
        return None;
    }
    let mut child = Command::new(binary)
        .args(["--addr", "127.0.0.1:0", "--seconds", "120"])
        .env("PROFILED_LISTEN_ADDR", "127.0.0.1:0")
        .env("PROFILED_MUTEX_FRACTION", "1")
        .env("PROFILED_BLOCK_RATE", "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start web_service");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("read its first line");
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let addrs: Vec<SocketAddr> = first
        .split("http://")
        .skip(1)
        .filter_map(|rest| rest.split('/').next()?.parse().ok())
        .collect();
    assert_eq!(addrs.len(), 2, "profiles and app addresses in {first:?}");
    Some(Service {
        child,
        profiles: addrs[0],
        app: addrs[1],
    })
}

fn post_order(app: SocketAddr, product: u64) -> HttpResponse {
    let body = format!(r#"{{"product_id":{product},"quantity":2,"note":"test"}}"#);
    request(
        app,
        format!(
            "POST /orders HTTP/1.1\r\nHost: {app}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

fn functions_in(response: &HttpResponse) -> Vec<String> {
    assert_eq!(response.status, 200, "{}", response.text());
    let profile = decode(&response.body);
    profile
        .sample
        .iter()
        .filter(|s| s.value.iter().any(|&v| v > 0))
        .flat_map(|s| stack_names(&profile, s))
        .collect()
}

#[test]
fn its_profiles_name_its_handlers_and_its_cache_lock() {
    let Some(service) = start() else {
        return;
    };
    let app = service.app;
    // 8 clients, 1,200 requests: the cache is refreshed (under its write lock) at
    // requests 0, 500 and 1000 while readers keep coming.
    let clients: Vec<_> = (0..8u64)
        .map(|client| {
            std::thread::spawn(move || {
                for i in 0..150u64 {
                    let response = if i % 4 == 3 {
                        post_order(app, client * 100 + i)
                    } else {
                        get(app, &format!("/products/{}", client * 100 + i))
                    };
                    assert_eq!(response.status, 200, "{}", response.text());
                    let json: serde_json::Value = serde_json::from_slice(&response.body)
                        .unwrap_or_else(|e| panic!("{e}: {}", response.text()));
                    assert!(json.is_object(), "{json}");
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let product: serde_json::Value = serde_json::from_slice(&get(app, "/products/7").body).unwrap();
    assert_eq!(product["name"], "product-7");

    let profiles = service.profiles;
    let mutex = functions_in(&get(profiles, "/debug/pprof/mutex"));
    assert!(
        mutex.iter().any(|f| f.contains("::refresh_cache")),
        "the cache's write lock holder: {:?}",
        &mutex[..mutex.len().min(20)]
    );
    let block = functions_in(&get(profiles, "/debug/pprof/block"));
    for handler in ["get_product", "create_order"] {
        assert!(
            block.iter().any(|f| f.contains(&format!("::{handler}"))),
            "{handler} waits: {:?}",
            &block[..block.len().min(20)]
        );
    }
    let stats: serde_json::Value =
        serde_json::from_slice(&get(profiles, "/debug/stats").body).unwrap();
    let site = |name: &str| {
        stats["locks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no lock site {name} in {}", stats["locks"]))
    };
    assert_eq!(site("product_cache")["kind"], "async_rwlock");
    assert_eq!(site("db_pool")["kind"], "semaphore");
    let calls = |name: &str| {
        stats["functions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"].as_str().is_some_and(|n| n.ends_with(name)))
            .map_or(0, |f| f["calls"].as_u64().unwrap_or(0))
    };
    // 8 clients x 150 requests, one in four an order (37 each), plus the last read.
    assert_eq!(calls("get_product"), 8 * 113 + 1, "{}", stats["functions"]);
    assert_eq!(calls("create_order"), 8 * 37, "{}", stats["functions"]);
    assert_eq!(calls("query_db"), 8 * 37, "{}", stats["functions"]);
}
