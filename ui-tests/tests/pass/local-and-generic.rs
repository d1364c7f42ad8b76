use profiled::{profiled_mutex, profiled_rwlock, ProfiledMutex};

fn make<T: Default>() -> ProfiledMutex<T> {
    profiled_mutex!("generic", T::default())
}

fn main() {
    let local = profiled_mutex!(String::from("x"));
    local.lock().push('y');
    assert_eq!(local.into_inner(), "xy");
    let numbers = make::<Vec<u8>>();
    numbers.lock().push(1);
    let table = profiled_rwlock!("table", vec![1, 2, 3]);
    assert_eq!(table.read().len(), 3);
    table.write().push(4);
    assert_eq!(*table.read(), [1, 2, 3, 4]);
}
