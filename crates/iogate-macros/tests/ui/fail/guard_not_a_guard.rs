use iogate::{Context, Exception, gateway, subscribe_message, use_guards};

struct Chat;

// A guard class, as NestJS writes one, but without `impl Guard for AdminGuard`.
struct AdminGuard;

// What `Guard::can_activate` returns, but a guard fn returns `bool`.
fn is_admin(_cx: &Context) -> Result<bool, Exception> {
    Ok(true)
}

#[gateway]
impl Chat {
    #[subscribe_message("message")]
    #[use_guards(AdminGuard)]
    async fn handle_message(&self) {}

    #[subscribe_message("ban")]
    #[use_guards(is_admin)]
    async fn handle_ban(&self) {}
}

fn main() {}
