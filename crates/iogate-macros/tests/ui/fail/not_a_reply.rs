use iogate::{gateway, subscribe_message};

struct Chat;

struct Message {
    text: String,
}

#[gateway]
impl Chat {
    #[subscribe_message("message")]
    async fn handle_message(&self) -> Message {
        Message { text: "hi".into() }
    }
}

fn main() {
    let _ = Message {
        text: String::new(),
    }
    .text;
}
