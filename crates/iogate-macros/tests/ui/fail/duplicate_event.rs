use iogate::{gateway, subscribe_message};

struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("message")]
    async fn handle_message(&self) {}

    #[subscribe_message("message")]
    async fn handle_message_again(&self) {}
}

fn main() {}
