//! `/debug/pprof/symbol` answers as Go's: go tool pprof symbolizes a profile whose
//! mapping has no function names through it. `/debug/pprof/cmdline` gives argv.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};

use flate2::Compression;
use flate2::write::GzEncoder;
use pprof::protos::{self, Message};
use profiled::Config;
use profiled_tests::{get, go_tool_pprof, request, serve, tool_binary};

#[inline(never)]
fn symbol_target_alpha(x: u64) -> u64 {
    std::hint::black_box(x.wrapping_mul(3))
}

#[inline(never)]
fn symbol_target_beta(x: u64) -> u64 {
    std::hint::black_box(x.wrapping_add(5))
}

fn address_of(f: fn(u64) -> u64) -> u64 {
    f as *const () as usize as u64
}

fn post_symbols(addr: SocketAddr, body: &str) -> profiled_tests::HttpResponse {
    request(
        addr,
        format!(
            "POST /debug/pprof/symbol HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

/// A profile of two samples at the two functions, with a mapping that claims no
/// symbols and a file that does not exist, so pprof must ask the symbol endpoint.
fn unsymbolized_profile() -> Vec<u8> {
    let alpha = address_of(symbol_target_alpha);
    let beta = address_of(symbol_target_beta);
    let (low, high) = (alpha.min(beta), alpha.max(beta));
    let profile = protos::Profile {
        sample_type: vec![protos::ValueType { ty: 1, unit: 2 }],
        sample: vec![
            protos::Sample {
                location_id: vec![1],
                value: vec![300],
                label: vec![],
            },
            protos::Sample {
                location_id: vec![2],
                value: vec![100],
                label: vec![],
            },
        ],
        mapping: vec![protos::Mapping {
            id: 1,
            memory_start: low & !0xfff,
            memory_limit: (high + 0x1000) & !0xfff,
            file_offset: 0,
            filename: 3,
            build_id: 0,
            has_functions: false,
            has_filenames: false,
            has_line_numbers: false,
            has_inline_frames: false,
        }],
        location: vec![
            protos::Location {
                id: 1,
                mapping_id: 1,
                address: alpha,
                line: vec![],
                is_folded: false,
            },
            protos::Location {
                id: 2,
                mapping_id: 1,
                address: beta,
                line: vec![],
                is_folded: false,
            },
        ],
        string_table: vec![
            "".into(),
            "samples".into(),
            "count".into(),
            "/nonexistent/binary".into(),
        ],
        ..Default::default()
    };
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&profile.encode_to_vec()).unwrap();
    gz.finish().unwrap()
}

/// Serves the unsymbolized profile at /debug/pprof/raw and forwards
/// /debug/pprof/symbol (GET and POST) to the profiler, for `requests` requests.
fn serve_raw_profile(profiler: SocketAddr, requests: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let profile = unsymbolized_profile();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head, then as much body as Content-Length says.
            loop {
                let n = stream.read(&mut buf).unwrap();
                data.extend_from_slice(&buf[..n]);
                if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    while data.len() < end + 4 + length {
                        let n = stream.read(&mut buf).unwrap();
                        data.extend_from_slice(&buf[..n]);
                    }
                    break;
                }
                if n == 0 {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&data).into_owned();
            let line = text.lines().next().unwrap_or("").to_owned();
            let (status, body, content_type) = if line.starts_with("GET /debug/pprof/raw") {
                (200, profile.clone(), "application/octet-stream")
            } else if line.contains("/debug/pprof/symbol") {
                let forwarded = if line.starts_with("POST") {
                    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
                    post_symbols(profiler, body)
                } else {
                    get(profiler, "/debug/pprof/symbol")
                };
                (
                    forwarded.status,
                    forwarded.body,
                    "text/plain; charset=utf-8",
                )
            } else {
                (404, b"not found\n".to_vec(), "text/plain")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    addr
}

#[test]
fn symbol_endpoint_answers_like_go_and_go_tool_pprof_uses_it() {
    let (_profiler, addr) = serve(Config::default());
    assert_eq!(symbol_target_alpha(1) + symbol_target_beta(1), 9);

    let probe = get(addr, "/debug/pprof/symbol");
    assert_eq!(probe.status, 200);
    assert_eq!(
        probe.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(probe.text(), "num_symbols: 1\n");

    let (alpha, beta) = (
        address_of(symbol_target_alpha),
        address_of(symbol_target_beta),
    );
    let answer = post_symbols(addr, &format!("{alpha:#x}+{beta:#x}+bogus+0x1")).text();
    let lines: Vec<&str> = answer.lines().collect();
    assert_eq!(lines.len(), 3, "{answer}");
    assert_eq!(
        lines[0],
        format!("{alpha:#x} symbol_endpoint::symbol_target_alpha")
    );
    assert_eq!(
        lines[1],
        format!("{beta:#x} symbol_endpoint::symbol_target_beta")
    );
    assert_eq!(lines[2], "num_symbols: 1");
    // The same through the query string of a GET.
    let answer = get(addr, &format!("/debug/pprof/symbol?{alpha:#x}")).text();
    assert!(answer.starts_with(&format!(
        "{alpha:#x} symbol_endpoint::symbol_target_alpha\n"
    )));
    // An oversized body is refused.
    let big = "0x1+".repeat(300_000);
    assert_eq!(post_symbols(addr, &big).status, 413);

    // cmdline: argv joined by NUL.
    let cmdline = get(addr, "/debug/pprof/cmdline");
    assert_eq!(
        cmdline.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let args: Vec<String> = std::env::args().collect();
    assert_eq!(cmdline.text(), args.join("\0"));

    if let Some(go) = tool_binary("go", "golang-go") {
        // pprof: GET raw profile, GET symbol (probe), POST symbol (addresses).
        let raw = serve_raw_profile(addr, 3);
        let url = format!("http://{raw}/debug/pprof/raw");
        let run = go_tool_pprof(&go, &["-top", "-symbolize=remote", &url]);
        assert!(run.success, "{run:?}");
        let top: Vec<&str> = run.stdout.lines().collect();
        let alpha_line = top
            .iter()
            .position(|l| l.contains("symbol_endpoint::symbol_target_alpha"));
        let beta_line = top
            .iter()
            .position(|l| l.contains("symbol_endpoint::symbol_target_beta"));
        assert!(
            matches!((alpha_line, beta_line), (Some(a), Some(b)) if a < b),
            "{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}
