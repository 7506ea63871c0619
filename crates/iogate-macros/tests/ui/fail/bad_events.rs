use iogate::{gateway, subscribe_message};

struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("disconnect")]
    async fn on_disconnect(&self) {}

    #[subscribe_message]
    async fn no_event(&self) {}

    #[subscribe_message(message)]
    async fn not_a_string(&self) {}
}

fn main() {}
