use profiled::{profiled_rwlock, ProfiledRwLock};

const NAME: &str = "prices";
static PRICES: ProfiledRwLock<u64> = profiled_rwlock!(NAME, 0);

fn main() {}
