use profiled::{profiled_mutex, ProfiledMutex};

static COUNTER: ProfiledMutex<u64> = profiled_mutex!(0);

fn main() {
    *COUNTER.lock() += 1;
    let site = profiled::lock_sites()
        .into_iter()
        .find(|s| s.name.ends_with("static-default-name.rs:3"))
        .expect("default name is file:line");
    assert_eq!(site.line, 3);
}
