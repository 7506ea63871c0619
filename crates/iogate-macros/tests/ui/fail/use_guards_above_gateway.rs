use iogate::{Context, gateway, subscribe_message, use_guards};

struct Chat;

fn signed_in(_: &Context) -> bool {
    true
}

#[use_guards(signed_in)]
#[gateway]
impl Chat {
    #[subscribe_message("message")]
    async fn handle_message(&self) {}
}

fn main() {}
