use iogate::gateway;

struct Chat;

#[gateway(namespace = "/chat", cors = "*")]
impl Chat {}

struct Notifications;

#[gateway(namespace = 42)]
impl Notifications {}

fn main() {}
