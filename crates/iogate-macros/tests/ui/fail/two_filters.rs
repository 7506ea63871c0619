use iogate::{Context, Exception, gateway, subscribe_message, use_filters};

struct Chat;

fn log(_: &Exception, _: &Context) {}
fn report(_: &Exception, _: &Context) {}

#[gateway]
impl Chat {
    #[subscribe_message("message")]
    #[use_filters(log, report)]
    async fn handle_message(&self) {}
}

fn main() {}
