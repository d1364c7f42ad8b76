use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use profiled::profiled;

#[profiled]
fn later(x: u32) -> impl Future<Output = u32> {
    async move { x + 1 }
}

#[profiled]
fn later_send(x: u32) -> impl Future<Output = u32> + Send + 'static {
    async move { x + 2 }
}

fn main() {
    let mut cx = Context::from_waker(Waker::noop());
    assert_eq!(pin!(later(1)).poll(&mut cx), Poll::Ready(2));
    assert_eq!(pin!(later_send(1)).poll(&mut cx), Poll::Ready(3));
}
