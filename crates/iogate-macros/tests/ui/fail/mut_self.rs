use iogate::{gateway, subscribe_message};

struct Counter {
    count: u64,
}

#[gateway]
impl Counter {
    #[subscribe_message("increment")]
    async fn increment(&mut self) -> u64 {
        self.count += 1;
        self.count
    }
}

fn main() {}
