use profiled::{profiled_mutex, ProfiledMutex};

static LOCK: ProfiledMutex<u64> = profiled_mutex!("name", 0, 1);

fn main() {}
