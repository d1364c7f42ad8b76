use std::fmt::Debug;

use profiled::profiled;

#[profiled]
fn largest<T: PartialOrd + Copy>(items: &[T]) -> Option<T> {
    items.iter().copied().fold(None, |best, x| match best {
        Some(b) if b >= x => Some(b),
        _ => Some(x),
    })
}

#[profiled]
fn show<'a, T>(value: &'a T) -> String
where
    T: Debug + ?Sized,
{
    format!("{value:?}")
}

fn main() {
    assert_eq!(largest(&[3, 9, 2]), Some(9));
    assert_eq!(largest::<f64>(&[]), None);
    assert_eq!(show("x"), "\"x\"");
}
