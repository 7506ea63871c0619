use iogate::{gateway, subscribe_message};

struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("message")]
    fn handle_message(&self) -> &'static str {
        "Message received"
    }
}

fn main() {}
