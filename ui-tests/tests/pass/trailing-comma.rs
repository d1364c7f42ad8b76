use profiled::{profiled_mutex, ProfiledMutex};

static A: ProfiledMutex<u8> = profiled_mutex!("a", 1,);
static B: ProfiledMutex<u8> = profiled_mutex!(2,);

fn main() {
    assert_eq!(*A.lock() + *B.lock(), 3);
}
