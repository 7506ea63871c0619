//! A gateway generic over its store.

use iogate::{Data, IntoGateway, gateway, subscribe_message};

trait Store: Send + Sync + 'static {
    fn get(&self, key: &str) -> Option<String>;
}

struct Memory;

impl Store for Memory {
    fn get(&self, key: &str) -> Option<String> {
        (key == "a").then(|| "1".to_owned())
    }
}

struct StoreGateway<S> {
    store: S,
}

#[gateway(namespace = "store")]
impl<S> StoreGateway<S>
where
    S: Store,
{
    #[subscribe_message("get")]
    async fn get(&self, Data(key): Data<String>) -> Option<String> {
        self.store.get(&key)
    }
}

fn main() {
    // `Gateway::new` adds the leading slash.
    assert_eq!(
        StoreGateway { store: Memory }.into_gateway().namespace(),
        "/store"
    );
}
