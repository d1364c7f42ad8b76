//! What `#[async_trait]` turns `async fn fetch(&self, key: u32) -> String` into,
//! with `#[profiled]` applied after it (async-trait runs first as the outer attribute).

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use profiled::profiled;

trait Store {
    fn fetch<'a>(&'a self, key: u32) -> Pin<Box<dyn Future<Output = String> + Send + 'a>>;
}

struct Memory;

impl Store for Memory {
    #[profiled]
    fn fetch<'a>(&'a self, key: u32) -> Pin<Box<dyn Future<Output = String> + Send + 'a>> {
        Box::pin(async move { format!("value {key}") })
    }
}

fn main() {
    let store: &dyn Store = &Memory;
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(store.fetch(3)).poll(&mut cx) {
        Poll::Ready(v) => assert_eq!(v, "value 3"),
        Poll::Pending => unreachable!(),
    }
}
