use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use profiled::profiled;

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

struct Service {
    base: u32,
}

impl Service {
    #[profiled]
    async fn handle(&self, x: u32) -> u32 {
        self.base + helper(x).await
    }
}

#[profiled]
async fn helper(x: u32) -> u32 {
    x * 2
}

#[profiled]
async fn unit() {}

#[profiled]
async fn load(s: &str) -> Result<u32, Box<dyn std::error::Error>> {
    // `?` converts ParseIntError into Box<dyn Error>; the Ok value is coerced.
    let n: u32 = s.parse()?;
    Ok(n)
}

#[profiled]
async fn display() -> Box<dyn std::fmt::Display> {
    Box::new("shown")
}

fn main() {
    profiled::set_function_profiling(true);
    let service = Service { base: 1 };
    assert_eq!(block_on(service.handle(20)), 41);
    block_on(unit());
    assert_eq!(block_on(load("5")).unwrap(), 5);
    assert!(block_on(load("five")).is_err());
    assert_eq!(block_on(display()).to_string(), "shown");
}
