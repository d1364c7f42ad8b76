use profiled::{profiled_mutex, ProfiledMutex};

// The error points at the user's value, not into the macro's expansion.
static LOCK: ProfiledMutex<u64> = profiled_mutex!("counter", "zero");

fn main() {}
