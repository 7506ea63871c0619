use iogate::{Client, gateway, middleware};

struct Chat;

#[gateway]
impl Chat {
    #[middleware]
    async fn authenticate(&self, _client: Client) {}
}

fn main() {}
