use iogate::gateway;

#[gateway(namespace = "/events")]
struct EventsGateway;

fn main() {}
