//! Guards decide whether a handler runs (NestJS's `CanActivate`).

use crate::Context;
use crate::exception::Exception;

/// Decides whether the event reaches its handler.
///
/// `Ok(false)` reaches the client as an `exception` with `"Forbidden resource"`, as in
/// NestJS; `Err(e)` goes to the exception filter as it is (a [`WsException`](crate::WsException)
/// to say more than "forbidden"). A guard may store what it learnt on the client
/// ([`Client::insert`](crate::Client::insert)) for the handler to extract.
///
/// Any `Fn(&Context) -> bool` is a guard.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a guard",
    label = "not a guard",
    note = "a guard (NestJS's `CanActivate`) is a `fn(&Context) -> bool` or a closure of that signature, \
            or a type implementing `iogate::Guard`, whose `can_activate(&self, &Context)` returns \
            `Result<bool, Exception>`; write the latter to fail with your own error"
)]
pub trait Guard: Send + Sync + 'static {
    /// Whether the event may go on.
    fn can_activate(&self, cx: &Context) -> Result<bool, Exception>;
}

impl<F: Fn(&Context) -> bool + Send + Sync + 'static> Guard for F {
    fn can_activate(&self, cx: &Context) -> Result<bool, Exception> {
        Ok(self(cx))
    }
}
