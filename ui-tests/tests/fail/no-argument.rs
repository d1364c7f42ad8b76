use profiled::{profiled_mutex, ProfiledMutex};

static LOCK: ProfiledMutex<u64> = profiled_mutex!();

fn main() {}
