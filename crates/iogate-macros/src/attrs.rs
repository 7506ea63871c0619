//! The attributes `#[gateway]` reads: their names, their arguments, and what each one does when
//! it is found anywhere else.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Item, LitStr, Meta, MetaList, Token};

/// What `#[gateway]` leaves in place of the arguments it has read: the attribute still resolves
/// (so its import is used and rust-analyzer can show its docs), and knows it has nothing to do.
const READ: &str = "__iogate_read";

/// One of the attributes that `#[gateway]` reads inside its `impl` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Helper {
    SubscribeMessage,
    OnServerEvent,
    Middleware,
    UseGuards,
    UsePipes,
    UseFilters,
}

impl Helper {
    /// The helper `attr` is, judged by the last segment of its path (`iogate::use_guards` too).
    pub(crate) fn of(attr: &Attribute) -> Option<Self> {
        let last = attr.path().segments.last()?;
        Some(match last.ident.to_string().as_str() {
            "subscribe_message" => Self::SubscribeMessage,
            "on_server_event" => Self::OnServerEvent,
            "middleware" => Self::Middleware,
            "use_guards" => Self::UseGuards,
            "use_pipes" => Self::UsePipes,
            "use_filters" => Self::UseFilters,
            _ => return None,
        })
    }

    /// Its name, as written in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::SubscribeMessage => "subscribe_message",
            Self::OnServerEvent => "on_server_event",
            Self::Middleware => "middleware",
            Self::UseGuards => "use_guards",
            Self::UsePipes => "use_pipes",
            Self::UseFilters => "use_filters",
        }
    }

    /// Whether it may go on the `impl` block itself, for every handler of the gateway.
    fn gateway_wide(self) -> bool {
        matches!(self, Self::UseGuards | Self::UsePipes | Self::UseFilters)
    }
}

/// Replaces the arguments of `attr`, which `#[gateway]` has read, with the marker.
pub(crate) fn mark_read(attr: &mut Attribute) {
    let path = attr.path().clone();
    let span = attr.meta.span();
    attr.meta = Meta::List(MetaList {
        path,
        delimiter: syn::MacroDelimiter::Paren(syn::token::Paren(span)),
        tokens: syn::Ident::new(READ, span).into_token_stream(),
    });
}

/// The options of `#[gateway(...)]`.
#[derive(Default)]
pub(crate) struct GatewayArgs {
    pub(crate) namespace: Option<LitStr>,
}

impl GatewayArgs {
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Self> {
        let mut parsed = Self::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("namespace") {
                if parsed.namespace.is_some() {
                    return Err(meta.error("`namespace` is given twice"));
                }
                parsed.namespace = Some(meta.value()?.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected the namespace as a string: `namespace = \"/events\"`",
                    )
                })?);
                return Ok(());
            }
            let name = meta.path.to_token_stream().to_string().replace(' ', "");
            Err(meta.error(format!(
                "unknown option `{name}` of `#[gateway]`: it takes `namespace = \"/path\"` (default \"/\"); \
                 server-wide options such as cors, transports and ping intervals are set once for the app, \
                 with `App::options(iogate::Options::default()...)`"
            )))
        });
        parser.parse2(args)?;
        Ok(parsed)
    }
}

/// The event of `#[on_server_event("event")]`.
pub(crate) fn server_event(attr: &Attribute) -> syn::Result<LitStr> {
    let usage = "`#[on_server_event]` takes the event's name: `#[on_server_event(\"cache:drop\")]`";
    let event: LitStr = match &attr.meta {
        Meta::List(list) => {
            syn::parse2(list.tokens.clone()).map_err(|e| syn::Error::new(e.span(), usage))?
        }
        other => return Err(syn::Error::new_spanned(other, usage)),
    };
    if event.value().is_empty() {
        return Err(syn::Error::new(
            event.span(),
            "an event's name cannot be empty",
        ));
    }
    Ok(event)
}

/// The event of `#[subscribe_message("event")]`.
pub(crate) fn event(attr: &Attribute) -> syn::Result<LitStr> {
    let usage =
        "`#[subscribe_message]` takes the event's name: `#[subscribe_message(\"message\")]`";
    let event: LitStr = match &attr.meta {
        Meta::List(list) => {
            syn::parse2(list.tokens.clone()).map_err(|e| syn::Error::new(e.span(), usage))?
        }
        other => return Err(syn::Error::new_spanned(other, usage)),
    };
    let name = event.value();
    if name.is_empty() {
        return Err(syn::Error::new(
            event.span(),
            "an event's name cannot be empty",
        ));
    }
    if let Some(hook) = reserved(&name) {
        return Err(syn::Error::new(
            event.span(),
            format!("`{name}` is reserved by socket.io: clients cannot emit it. {hook}"),
        ));
    }
    Ok(event)
}

/// What to write instead of handling a socket.io reserved event, if `event` is one.
fn reserved(event: &str) -> Option<&'static str> {
    match event {
        "connect" | "connection" => Some(
            "To act on a new client, write `async fn handle_connection(&self, client: Client)` in the gateway",
        ),
        "disconnect" | "disconnecting" => Some(
            "To act on a client that left, write `async fn handle_disconnect(&self, client: Client)` in the gateway",
        ),
        "connect_error" | "newListener" | "removeListener" => Some("Choose another name"),
        _ => None,
    }
}

/// The expressions of `#[use_guards(a, b)]`, `#[use_pipes(..)]` or `#[use_filters(..)]`.
pub(crate) fn values(helper: Helper, attr: &Attribute) -> syn::Result<Vec<Expr>> {
    let what = match helper {
        Helper::UseGuards => "guard",
        Helper::UsePipes => "pipe",
        _ => "exception filter",
    };
    let usage = format!(
        "`#[{}]` takes one or more {what}s, separated by commas: `#[{}(MyValue)]`",
        helper.name(),
        helper.name()
    );
    let list = match &attr.meta {
        Meta::List(list) => list,
        other => return Err(syn::Error::new_spanned(other, usage)),
    };
    let values = Punctuated::<Expr, Token![,]>::parse_terminated
        .parse2(list.tokens.clone())
        .map_err(|e| syn::Error::new(e.span(), &usage))?;
    if values.is_empty() {
        return Err(syn::Error::new_spanned(list, usage));
    }
    Ok(values.into_iter().collect())
}

/// `#[middleware]` takes nothing.
pub(crate) fn no_arguments(attr: &Attribute) -> syn::Result<()> {
    match &attr.meta {
        Meta::Path(_) => Ok(()),
        Meta::List(list) if list.tokens.is_empty() => Ok(()),
        other => Err(syn::Error::new_spanned(
            other,
            "`#[middleware]` takes no arguments: write `#[middleware]` above the method",
        )),
    }
}

/// The expansion of a helper attribute found outside of what `#[gateway]` has read: nothing
/// when `#[gateway]` has read it, else an error that says where it goes.
pub(crate) fn standalone(helper: Helper, args: TokenStream, item: TokenStream) -> TokenStream {
    if is_read_marker(&args) {
        return item;
    }
    let name = helper.name();
    // What the error covers: the attribute's arguments, else the method's `async fn name`.
    let at = if args.is_empty() {
        match syn::parse2::<syn::ImplItemFn>(item.clone()) {
            Ok(f) => {
                let (asyncness, fn_token, ident) = (f.sig.asyncness, f.sig.fn_token, f.sig.ident);
                quote!(#asyncness #fn_token #ident)
            }
            Err(_) => item.clone().into_iter().take(1).collect(),
        }
    } else {
        args
    };
    let parsed = syn::parse2::<Item>(item.clone()).ok();
    let message = match &parsed {
        Some(Item::Impl(block)) if helper.gateway_wide() && has_gateway(&block.attrs) => format!(
            "write `#[{name}(..)]` below `#[gateway(..)]`: attributes above it are expanded before it, \
             so the gateway cannot see them"
        ),
        Some(Item::Impl(_)) if helper.gateway_wide() => format!(
            "`#[{name}]` on an `impl` block applies to the handlers of a gateway: add `#[gateway]` above it"
        ),
        _ if helper.gateway_wide() => format!(
            "`#[{name}]` goes on a method of a `#[gateway]` impl block that has `#[subscribe_message]`, \
             or on the impl block itself for every handler"
        ),
        _ => format!(
            "`#[{name}]` marks a method of a gateway: put it in an `impl` block that has `#[gateway]` above it"
        ),
    };
    let error = syn::Error::new_spanned(at, message).into_compile_error();
    quote!(#error #item)
}

/// Whether `args` is what [`mark_read`] left.
fn is_read_marker(args: &TokenStream) -> bool {
    let mut tokens = args.clone().into_iter();
    matches!((tokens.next(), tokens.next()), (Some(proc_macro2::TokenTree::Ident(i)), None) if i == READ)
}

/// Whether one of `attrs` is `#[gateway]`.
fn has_gateway(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "gateway")
    })
}
