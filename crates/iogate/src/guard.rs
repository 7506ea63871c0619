//! Guards decide whether a handler runs (NestJS's `CanActivate`).
//!
//! A guard is one of:
//!
//! | written as | for |
//! |---|---|
//! | `fn(&Context) -> bool`, or a closure of that signature | a check that needs no waiting |
//! | [`from_fn`]`(|cx: Context| async move { .. })` | a check that awaits (a permission lookup) |
//! | a type implementing [`Guard`], with `async fn can_activate` | a guard with dependencies, or its own error |
//!
//! Guards may await: while one does, the client's next events wait their turn, so a client's
//! events are still handled one after the other, in the order it sent them.
//!
//! A guard is tested without a server by building its [`Context`] with [`Context::builder`]:
//!
//! ```
//! use iogate::{Context, Guard};
//!
//! fn signed_in(cx: &Context) -> bool {
//!     cx.client().user().is_some()
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let alice = Context::builder().event("ban").user("alice").build().await;
//! assert!(signed_in.can_activate(&alice).await.unwrap());
//! let anonymous = Context::builder().event("ban").build().await;
//! assert!(!signed_in.can_activate(&anonymous).await.unwrap());
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;

use crate::Context;
use crate::exception::Exception;

/// Decides whether the event reaches its handler.
///
/// `Ok(false)` reaches the client as an `exception` with `"Forbidden resource"`, as in
/// NestJS; `Err(e)` goes to the exception filter as it is (a [`WsException`](crate::WsException)
/// to say more than "forbidden"). A guard may store what it learnt on the client
/// ([`Client::insert`](crate::Client::insert)) for the handler to extract.
///
/// Any `Fn(&Context) -> bool` is a guard; [`from_fn`] makes one of an async closure. A type
/// implements it with an `async fn`:
///
/// ```
/// use iogate::{Context, Exception, Guard, WsException};
///
/// /// Lets through the users a permission service allows (here, a list).
/// struct Permission(&'static [&'static str]);
///
/// impl Guard for Permission {
///     async fn can_activate(&self, cx: &Context) -> Result<bool, Exception> {
///         // A real guard would await its permission service here.
///         tokio::task::yield_now().await;
///         match cx.client().user() {
///             Some(user) => Ok(self.0.contains(&user)),
///             None => Err(WsException::new("Sign in first").into()),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let admins = Permission(&["alice"]);
/// let cx = Context::builder().user("alice").build().await;
/// assert!(admins.can_activate(&cx).await.unwrap());
/// let cx = Context::builder().user("bob").build().await;
/// assert!(!admins.can_activate(&cx).await.unwrap());
/// let cx = Context::builder().build().await;
/// let refused = admins.can_activate(&cx).await.unwrap_err();
/// assert_eq!(refused.to_client(), WsException::new("Sign in first"));
/// # }
/// ```
///
/// `can_activate` returns a `Send` future rather than a boxed one so that an implementation is
/// a plain `async fn`; iogate boxes it where it keeps guards of different types together.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a guard",
    label = "not a guard",
    note = "a guard (NestJS's `CanActivate`) is a `fn(&Context) -> bool` or a closure of that signature, \
            `iogate::guard::from_fn(|cx: Context| async move {{ .. }})` for a guard that awaits, \
            or a type implementing `iogate::Guard`, whose `async fn can_activate(&self, &Context)` \
            returns `Result<bool, Exception>`; write the latter to fail with your own error"
)]
pub trait Guard: Send + Sync + 'static {
    /// Whether the event may go on.
    fn can_activate(&self, cx: &Context) -> impl Future<Output = Result<bool, Exception>> + Send;
}

impl<F: Fn(&Context) -> bool + Send + Sync + 'static> Guard for F {
    fn can_activate(&self, cx: &Context) -> impl Future<Output = Result<bool, Exception>> + Send {
        std::future::ready(Ok(self(cx)))
    }
}

/// A guard that awaits: `f` gets the event's [`Context`] (a cheap clone: the future may
/// outlive the borrow) and answers whether it may go on.
///
/// ```
/// use std::sync::Arc;
/// use iogate::{Context, Guard, guard};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let banned: Arc<[&str]> = Arc::from(["mallory"]);
/// let not_banned = guard::from_fn(move |cx: Context| {
///     let banned = banned.clone();
///     async move {
///         // A real guard would await a database here.
///         tokio::task::yield_now().await;
///         !cx.client().user().is_some_and(|u| banned.contains(&u))
///     }
/// });
/// let cx = Context::builder().user("mallory").build().await;
/// assert!(!not_banned.can_activate(&cx).await.unwrap());
/// # }
/// ```
pub fn from_fn<F, Fut>(f: F) -> FromFn<F>
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    FromFn(f)
}

/// The guard [`from_fn`] makes.
#[derive(Debug, Clone, Copy)]
pub struct FromFn<F>(F);

// Not suggested when a type is not a guard or pipe: the note names `from_fn` already.
#[diagnostic::do_not_recommend]
impl<F, Fut> Guard for FromFn<F>
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    fn can_activate(&self, cx: &Context) -> impl Future<Output = Result<bool, Exception>> + Send {
        let allowed = (self.0)(cx.clone());
        async move { Ok(allowed.await) }
    }
}

/// A guard as routes keep it, its future boxed so that guards of any type sit in one list.
pub(crate) trait DynGuard: Send + Sync + 'static {
    fn can_activate_boxed<'a>(
        &'a self,
        cx: &'a Context,
    ) -> Pin<Box<dyn Future<Output = Result<bool, Exception>> + Send + 'a>>;
}

impl<G: Guard> DynGuard for G {
    fn can_activate_boxed<'a>(
        &'a self,
        cx: &'a Context,
    ) -> Pin<Box<dyn Future<Output = Result<bool, Exception>> + Send + 'a>> {
        Box::pin(Guard::can_activate(self, cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WsException;

    fn admin(cx: &Context) -> bool {
        cx.client().user() == Some("admin")
    }

    #[tokio::test]
    async fn a_fn_guard_lets_through_whom_it_allows() {
        let cx = Context::builder().user("admin").build().await;
        assert!(admin.can_activate(&cx).await.unwrap());
        let cx = Context::builder().user("alice").build().await;
        assert!(!admin.can_activate(&cx).await.unwrap());
    }

    #[tokio::test]
    async fn an_async_guard_sees_the_event_and_its_owned_context() {
        let only_reads = from_fn(|cx: Context| async move {
            tokio::task::yield_now().await;
            cx.event().starts_with("get")
        });
        let cx = Context::builder().event("getMessages").build().await;
        assert!(only_reads.can_activate(&cx).await.unwrap());
        let cx = Context::builder().event("deleteMessages").build().await;
        assert!(!only_reads.can_activate(&cx).await.unwrap());
    }

    struct Refuses;

    impl Guard for Refuses {
        async fn can_activate(&self, _cx: &Context) -> Result<bool, Exception> {
            Err(WsException::new("Account suspended").into())
        }
    }

    #[tokio::test]
    async fn a_guard_type_fails_with_its_own_error_through_the_erased_list() {
        let guards: Vec<Box<dyn DynGuard>> = vec![Box::new(admin), Box::new(Refuses)];
        let cx = Context::builder().user("admin").build().await;
        assert!(guards[0].can_activate_boxed(&cx).await.unwrap());
        let refused = guards[1].can_activate_boxed(&cx).await.unwrap_err();
        assert_eq!(refused.to_client(), WsException::new("Account suspended"));
    }
}
