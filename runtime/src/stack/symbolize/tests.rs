//! Unit tests of `symbolize`.

use super::*;

/// The tests that load the index take turns: one checks what the reaper left.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[inline(never)]
fn long_function(x: u64) -> u64 {
    let mut acc = x;
    for i in 0..64u64 {
        acc = std::hint::black_box(acc.wrapping_mul(31).rotate_left((i % 7) as u32) ^ i);
    }
    acc
}

#[test]
fn the_cache_is_bounded_and_shares_names() {
    let _serial = serial();
    std::hint::black_box(long_function(1));
    let base = long_function as *const () as usize;
    let first = resolve(base + 8);
    let second = resolve(base + 9);
    assert!(first[0].function.contains("long_function"), "{first:?}");
    assert!(Arc::ptr_eq(&first[0].function, &second[0].function));
    for offset in 0..3 * GENERATION {
        resolve(base + 16 + offset);
        let held = lock(cache()).len();
        assert!(held <= 2 * GENERATION, "{held} addresses cached");
    }
    assert!(usage().cache_bytes > 0);
}

#[test]
fn names_keep_inlined_frames_files_and_types() {
    let _serial = serial();
    let lines = resolve(outer_with_inlined as *const () as usize + 12);
    assert!(
        lines
            .iter()
            .any(|l| l.function.ends_with("outer_with_inlined")
                && l.file.ends_with("symbolize/tests.rs")
                && l.line > 0),
        "{lines:?}"
    );
    // A trait method keeps its type: not `<... as FnOnce>::call_once`.
    let name = function_at(<Marker as Fn0>::call as *const () as usize).unwrap();
    assert_eq!(name, format!("{}::Marker::call", module_path!()));
}

#[test]
fn the_index_is_dropped_when_idle_and_reloaded() {
    let _serial = serial();
    std::hint::black_box(long_function(2));
    let base = long_function as *const () as usize;
    assert!(
        resolve(base + 40)
            .iter()
            .any(|l| l.function.contains("long_function"))
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while usage().index_loaded && Instant::now() < deadline {
        std::thread::sleep(INDEX_IDLE / 4);
        // Other tests may load it again; what matters is that it goes away.
    }
    assert!(!usage().index_loaded || Instant::now() >= deadline);
    assert!(function_at(base + 3).unwrap().contains("long_function"));
}

#[test]
fn an_expected_pass_keeps_the_files_mapped_but_not_the_parsed_units() {
    let _serial = serial();
    std::hint::black_box(long_function(3));
    let base = long_function as *const () as usize;
    resolve(base + 44);
    expect_next_pass_within(Duration::from_secs(2));
    let state = || {
        let loaded = lock(loaded());
        let index = &loaded.as_ref().expect("built").index;
        (index.is_mapped(), index.is_parsed())
    };
    // The parsed units go after INDEX_IDLE; the files stay while a pass is due.
    let deadline = Instant::now() + Duration::from_secs(1);
    while state() != (true, false) && Instant::now() < deadline {
        std::thread::sleep(INDEX_IDLE / 4);
    }
    assert_eq!(state(), (true, false), "mapped, nothing parsed");
    // The next pass needs no reload, and once none is due everything goes.
    assert!(function_at(base + 5).unwrap().contains("long_function"));
    expect_next_pass_within(Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(10);
    while state().0 && Instant::now() < deadline {
        std::thread::sleep(INDEX_IDLE / 4);
    }
    assert_eq!(state(), (false, false), "released once no pass is due");
}

trait Fn0 {
    fn call(&self) -> u64;
}
struct Marker;
impl Fn0 for Marker {
    #[inline(never)]
    fn call(&self) -> u64 {
        std::hint::black_box(long_function(3))
    }
}

#[inline(never)]
fn outer_with_inlined() -> u64 {
    std::hint::black_box(Marker.call()) + std::hint::black_box(long_function(4))
}

fn line(function: &str, file: &str) -> Line {
    Line {
        function: function.into(),
        file: file.into(),
        line: 1,
    }
}

#[test]
fn recognises_internal_frames_by_name() {
    for name in [
        "profiled::stack::Stack::capture",
        "<profiled::sync::RawProfiledMutex as lock_api::mutex::RawMutex>::unlock",
        "lock_api::mutex::Mutex<R,T>::lock",
        "core::ptr::drop_in_place<lock_api::mutex::MutexGuard<profiled::RawProfiledMutex,u64>>",
        "core::mem::drop<lock_api::mutex::MutexGuard<profiled::RawProfiledMutex,u64>>",
    ] {
        assert!(is_internal(&line(name, "")), "{name}");
    }
    for name in [
        "app::hold_long",
        "profiled_tests::helper",
        "core::ptr::drop_in_place<app::Thing>",
    ] {
        assert!(!is_internal(&line(name, "/src/app.rs")), "{name}");
    }
}

#[test]
fn recognises_internal_frames_by_file_when_names_are_short() {
    let own = concat!(env!("CARGO_MANIFEST_DIR"), "/src/stack/mod.rs");
    assert!(is_internal(&line("capture", own)));
    assert!(is_internal(&line(
        "lock",
        "/root/.cargo/registry/src/index.crates.io-1/lock_api-0.5.0/src/mutex.rs"
    )));
    assert!(!is_internal(&line("hold_long", "/work/app/src/main.rs")));
}
