use profiled::{profiled_mutex, ProfiledMutex};

static ACCOUNTS: ProfiledMutex<Vec<u64>> = profiled_mutex!("accounts", Vec::new());

fn main() {
    ACCOUNTS.lock().push(7);
    assert_eq!(*ACCOUNTS.lock(), [7]);
    let site = profiled::lock_sites()
        .into_iter()
        .find(|s| s.name == "accounts")
        .unwrap();
    assert_eq!(site.kind, profiled::LockKind::Mutex);
    assert!(site.file.ends_with("static-named-mutex.rs"));
    assert_eq!(site.line, 3);
}
