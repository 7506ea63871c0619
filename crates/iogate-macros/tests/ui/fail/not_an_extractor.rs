use iogate::{Data, gateway, subscribe_message};

struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("message")]
    async fn handle_message(&self, Data(text): Data<String>, room: String) -> String {
        format!("{room}: {text}")
    }

    #[subscribe_message("events")]
    async fn handle_events(&self, count: u32, data: serde_json::Value) {
        let _ = (count, data);
    }
}

fn main() {}
