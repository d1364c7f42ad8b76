use profiled::profiled;

trait Handler {
    #[profiled]
    fn handle(&self);
}

fn main() {}
