use profiled::profiled;

struct Counter {
    n: u64,
}

impl Counter {
    #[profiled]
    fn new() -> Self {
        Counter { n: 0 }
    }

    #[profiled]
    fn bump(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    #[profiled(name = "Counter::get")]
    pub fn get(&self) -> u64 {
        self.n
    }

    #[profiled]
    fn into_inner(self) -> u64 {
        self.n
    }
}

trait Describe {
    fn describe(&self) -> String;
    fn shout(&self) -> String {
        self.describe().to_uppercase()
    }
}

impl Describe for Counter {
    #[profiled]
    fn describe(&self) -> String {
        format!("counter at {}", self.n)
    }
}

fn main() {
    let mut c = Counter::new();
    c.bump();
    assert_eq!(c.get(), 1);
    assert_eq!(c.shout(), "COUNTER AT 1");
    assert_eq!(c.into_inner(), 1);
}
