//! Guards, pipes and filters built from the gateway's fields, as NestJS injects them.

use std::sync::Arc;

use iogate::{
    Context, Exception, IntoGateway, WsException, gateway, subscribe_message, use_filters,
    use_guards, use_pipes,
};
use serde_json::Value;

struct Config {
    secret: String,
}

struct SecretGuard(Arc<Config>);

impl iogate::Guard for SecretGuard {
    async fn can_activate(&self, cx: &Context) -> Result<bool, Exception> {
        let token = cx.client().auth().get("token").and_then(Value::as_str);
        Ok(token == Some(self.0.secret.as_str()))
    }
}

struct SecretsGateway {
    config: Arc<Config>,
    max_len: usize,
}

impl SecretsGateway {
    fn guard(&self) -> SecretGuard {
        SecretGuard(self.config.clone())
    }
}

#[gateway(namespace = "/secrets")]
#[use_guards(self.guard())]
#[use_pipes(not_null)]
impl SecretsGateway {
    #[subscribe_message("read")]
    #[use_guards(|cx: &Context| cx.client().connected(), self.guard())]
    #[use_pipes({
        let max = self.max_len;
        move |body: Option<Value>| match body {
            Some(Value::String(s)) if s.len() > max => Err(WsException::new("Too long")),
            body => Ok(body),
        }
    })]
    #[use_filters(|_: &Exception, _: &Context| {})]
    async fn read(&self) -> String {
        self.config.secret.clone()
    }

    #[subscribe_message("write")]
    async fn write(&self) {}
}

fn not_null(body: Option<Value>) -> Result<Option<Value>, WsException> {
    match body {
        None | Some(Value::Null) => Err(WsException::new("No data provided")),
        body => Ok(body),
    }
}

fn main() {
    let gateway = SecretsGateway {
        config: Arc::new(Config { secret: "s".into() }),
        max_len: 10,
    };
    assert_eq!(gateway.into_gateway().namespace(), "/secrets");
}
