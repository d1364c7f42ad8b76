//! Clients that stall: a symbol body that never arrives, an idle keep-alive
//! connection, a connection that never sends a head, a client that never reads its
//! answer. Each loses its connection within the documented timeout (README
//! "Limits"): 10 s for a head or a symbol body (408), 10 s for a write that makes no
//! progress.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use profiled::{Config, Profiler};
use profiled_tests::get;

fn start() -> Profiler {
    Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        ..Config::default()
    })
    .unwrap()
}

/// Reads until the server closes; what it sent and when it closed. Panics if the
/// server still holds the connection after `limit`.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut data = Vec::new();
    let mut buffer = [0u8; 65536];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return (data, started.elapsed()),
            Ok(n) => data.extend_from_slice(&buffer[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // A reset is a close too.
            Err(_) => return (data, started.elapsed()),
        }
        assert!(
            started.elapsed() < limit,
            "the server still holds the connection after {limit:?}; got {:?}",
            String::from_utf8_lossy(&data)
        );
    }
}

#[inline(never)]
fn a_function_with_a_rather_long_name_so_that_each_line_of_the_symbol_answer_is_long() -> u64 {
    std::hint::black_box(7)
}

#[test]
fn a_stalled_symbol_body_gets_408_and_is_closed_within_the_body_timeout() {
    let profiler = start();
    let addr = profiler.local_addr().unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(
            format!(
                "POST /debug/pprof/symbol HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\n\r\n0x1"
            )
            .as_bytes(),
        )
        .unwrap();
    let (answer, after) = read_until_closed(&mut stream, Duration::from_secs(25));
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("request body not received within 10s"),
        "{answer}"
    );
    assert!(
        after >= Duration::from_secs(9),
        "closed after {after:?}: too early"
    );
}

#[test]
fn idle_and_silent_connections_are_closed_within_the_head_timeout() {
    let profiler = start();
    let addr = profiler.local_addr().unwrap();
    let opened = Instant::now();
    // Never sends anything.
    let mut silent = TcpStream::connect(addr).unwrap();
    // Sends one request on a keep-alive connection, then stays idle.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(format!("GET /debug/pprof/cmdline HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    // Sends half a head.
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /debug/pprof/ HTTP/1.1\r\nHost: x")
        .unwrap();

    let (nothing, _) = read_until_closed(&mut silent, Duration::from_secs(25));
    let silent_after = opened.elapsed();
    assert!(nothing.is_empty() || nothing.starts_with(b"HTTP/1.1 408"));
    let (answer, _) = read_until_closed(&mut idle, Duration::from_secs(25));
    let idle_after = opened.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("harden_timeouts"),
        "the command line: {answer}"
    );
    let (_, _) = read_until_closed(&mut half, Duration::from_secs(25));
    let half_after = opened.elapsed();
    for after in [silent_after, idle_after, half_after] {
        assert!(
            (Duration::from_secs(5)..Duration::from_secs(25)).contains(&after),
            "closed after {after:?}"
        );
    }
    // The server still serves.
    assert!(
        get(addr, "/debug/pprof/cmdline")
            .text()
            .contains("harden_timeouts")
    );
}

/// A socket whose receive buffer is tiny, so the server's answer backs up.
fn connect_small_window(addr: SocketAddr, receive_buffer: libc::c_int) -> TcpStream {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns; the address is a
    // valid sockaddr_in for the loopback server.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let size: libc::c_int = receive_buffer;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let SocketAddr::V4(v4) = addr else {
            panic!("loopback v4")
        };
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let connected = libc::connect(
            fd,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(connected, 0);
        TcpStream::from_raw_fd(fd)
    }
}

/// The address of the long-named function, the word `{pc:#x}+` and a symbol request
/// body of about 1 MiB of that word: its answer is a long line per word.
fn long_symbol_lookup() -> (usize, String, String) {
    let pc = a_function_with_a_rather_long_name_so_that_each_line_of_the_symbol_answer_is_long
        as *const () as usize;
    let word = format!("{pc:#x}+");
    let body = word.repeat((1 << 20) / word.len());
    (pc, word, body)
}

/// Writes `POST /debug/pprof/symbol` with `body`, and `headers` (each ending in
/// CRLF) after the content length.
fn post_symbols(stream: &mut TcpStream, addr: SocketAddr, headers: &str, body: &str) {
    stream
        .write_all(
            format!(
                "POST /debug/pprof/symbol HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n{headers}\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
}

#[test]
fn a_client_that_never_reads_loses_its_connection_within_the_write_timeout() {
    let profiler = start();
    let addr = profiler.local_addr().unwrap();
    let (pc, word, body) = long_symbol_lookup();
    let expected_line = get(addr, &format!("/debug/pprof/symbol?{pc:#x}")).text();
    let line_len = expected_line.lines().next().unwrap().len() + 1;
    let full_answer = line_len * (body.len() / word.len());
    assert!(full_answer > 6 << 20, "an answer of {full_answer} bytes");

    let mut stream = connect_small_window(addr, 4096);
    let started = Instant::now();
    post_symbols(&mut stream, addr, "", &body);
    // Once the answer starts arriving (the lookup may be slow under load), never
    // read for longer than the write timeout (twice: a first wait may end in the
    // last in-flight bytes being acknowledged).
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut first = [0u8; 1];
    assert_eq!(stream.peek(&mut first).unwrap(), 1);
    std::thread::sleep(Duration::from_secs(25));
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(30));
    assert!(
        answer.len() < full_answer && !answer.ends_with(b"num_symbols: 1\n"),
        "the whole {full_answer}-byte answer was held for a client that did not read ({} bytes)",
        answer.len()
    );
    assert!(started.elapsed() < Duration::from_secs(120));
    // Its memory budget is back: the next symbol request is served.
    let again = get(addr, &format!("/debug/pprof/symbol?{pc:#x}")).text();
    assert!(
        again.contains("a_function_with_a_rather_long_name"),
        "{again}"
    );
}

#[test]
fn a_slow_reader_gets_its_whole_answer_even_after_the_idle_timeout() {
    let profiler = start();
    let addr = profiler.local_addr().unwrap();
    // An answer of about 8 MiB: more than the kernel buffers take, so the server is
    // still writing it 15 s in.
    let (_, _, body) = long_symbol_lookup();
    let mut stream = connect_small_window(addr, 16 << 10);
    post_symbols(&mut stream, addr, "Connection: close\r\n", &body);
    // Read what the small window holds every 100 ms (about 300 KB/s): the answer
    // takes longer than the 15 s idle timeout, and the socket reports room for the
    // next write only after many seconds, but the client keeps taking bytes.
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = vec![0u8; 32 << 10];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) => panic!("after {} bytes: {e}", answer.len()),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(200)]
    );
    assert!(
        text.ends_with("num_symbols: 1\n"),
        "cut after {} bytes",
        answer.len()
    );
    let lines = text.matches("a_function_with_a_rather_long_name").count();
    assert!(lines > 50_000, "{lines} lines");
    eprintln!(
        "{} bytes read slowly over {:?}",
        answer.len(),
        started.elapsed()
    );
    assert!(
        started.elapsed() > Duration::from_secs(15),
        "read too fast to test this"
    );
}
