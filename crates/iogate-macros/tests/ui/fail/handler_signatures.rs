use iogate::{FromContext, gateway, subscribe_message};

struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("generic")]
    async fn generic<T: FromContext>(&self, _value: T) {}

    #[subscribe_message("impl")]
    async fn impl_trait(&self, _value: impl FromContext) {}

    #[subscribe_message("owned")]
    async fn by_value(self) {}
}

fn main() {}
