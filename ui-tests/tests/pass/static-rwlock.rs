use profiled::{profiled_rwlock, ProfiledRwLock};
use std::collections::BTreeMap;

static PRICES: ProfiledRwLock<BTreeMap<u32, u32>> = profiled_rwlock!("prices", BTreeMap::new());

fn main() {
    PRICES.write().insert(1, 10);
    assert_eq!(PRICES.read().get(&1), Some(&10));
    let site = profiled::lock_sites()
        .into_iter()
        .find(|s| s.name == "prices")
        .unwrap();
    assert_eq!(site.kind, profiled::LockKind::RwLock);
}
