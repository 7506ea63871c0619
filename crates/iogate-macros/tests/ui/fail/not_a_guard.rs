use iogate::{gateway, subscribe_message, use_guards};

struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("message")]
    #[use_guards("admin")]
    async fn handle_message(&self) {}
}

fn main() {}
