//! Reads a `#[gateway]` impl block into a [`Gateway`]: its options, its gateway-wide guards,
//! pipes and filter, and the role of each method, checking each signature on the way.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, ReturnType, Type,
};

use crate::attrs::{self, GatewayArgs, Helper};

/// The most extractors a handler may take: what `iogate::Handler` is implemented for.
const MAX_EXTRACTORS: usize = 8;

/// What a `#[gateway]` impl block says.
pub(crate) struct Gateway {
    pub(crate) namespace: Option<LitStr>,
    /// Guards, pipes and filter of every handler.
    pub(crate) uses: Uses,
    /// The methods with a role, in the order they were written.
    pub(crate) members: Vec<Member>,
}

/// Guards, pipes and filter: of a gateway, or of one handler.
#[derive(Default)]
pub(crate) struct Uses {
    pub(crate) guards: Vec<Expr>,
    pub(crate) pipes: Vec<Expr>,
    pub(crate) filter: Option<Expr>,
}

/// A method the gateway registers.
pub(crate) struct Member {
    pub(crate) ident: Ident,
    /// Whether it takes `&self`.
    pub(crate) receiver: bool,
    /// Its `#[cfg]`s, which its registration copies.
    pub(crate) cfgs: Vec<Attribute>,
    /// The types of its arguments after the receiver.
    pub(crate) inputs: Vec<Type>,
    /// Where its return type is, or its name when it has none.
    pub(crate) output: Span,
    pub(crate) role: Role,
    /// A handler's own guards, pipes and filter.
    pub(crate) uses: Uses,
}

/// What a method is to the gateway.
pub(crate) enum Role {
    /// `#[subscribe_message("event")]`.
    Handler { event: LitStr },
    /// `#[middleware]`.
    Middleware,
    /// `handle_connection`.
    Connection,
    /// `handle_disconnect`.
    Disconnect,
    /// `after_init`.
    Init,
    /// `#[on_server_event("event")]`.
    ServerEvent { event: LitStr },
}

/// Errors gathered while reading, so that one build reports them all.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// An error covering `tokens`.
    fn at(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    fn keep<T>(&mut self, r: syn::Result<T>) -> Option<T> {
        r.map_err(|e| self.push(e)).ok()
    }
}

impl Gateway {
    /// Reads `item`, marking the attributes it read in it (errors or not, so that the block can
    /// be written back as the rest of the crate expects it).
    pub(crate) fn read(args: TokenStream, item: &mut ItemImpl) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let namespace = errors
            .keep(GatewayArgs::parse(args))
            .and_then(|a| a.namespace);
        if let Some((_, path, _)) = &item.trait_ {
            errors.at(
                path,
                "`#[gateway]` goes on the type's own `impl` block (`impl EventsGateway { .. }`), \
                 not on a trait impl",
            );
        }
        let uses = read_uses(&mut item.attrs, true, &mut errors);

        let mut members = Vec::new();
        // The first handler of each event, and whether it is under `#[cfg]`.
        let mut events: HashMap<String, (Ident, bool)> = HashMap::new();
        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else {
                continue;
            };
            let Some(member) = read_method(method, &mut errors) else {
                continue;
            };
            if let Role::Handler { event, .. } = &member.role {
                let cfg = !member.cfgs.is_empty();
                match events.get(&event.value()) {
                    // Under `#[cfg]`, two methods may handle one event in different builds.
                    Some((first, first_cfg)) if !cfg && !first_cfg => errors.at(
                        event,
                        format!(
                            "the event \"{}\" is already handled by `{first}`: an event has one \
                             handler per namespace",
                            event.value()
                        ),
                    ),
                    Some(_) => {}
                    None => {
                        events.insert(event.value(), (member.ident.clone(), cfg));
                    }
                }
            }
            members.push(member);
        }

        match errors.0 {
            Some(e) => Err(e),
            None => Ok(Self {
                namespace,
                uses,
                members,
            }),
        }
    }
}

/// Reads (and marks read) the `use_*` attributes in `attrs`: those of the impl block when
/// `on_impl`, else of a method.
fn read_uses(attrs: &mut [Attribute], on_impl: bool, errors: &mut Errors) -> Uses {
    let mut uses = Uses::default();
    for attr in attrs {
        let Some(helper) = Helper::of(attr) else {
            continue;
        };
        match helper {
            Helper::UseGuards => {
                if let Some(v) = errors.keep(attrs::values(helper, attr)) {
                    uses.guards.extend(v);
                }
            }
            Helper::UsePipes => {
                if let Some(v) = errors.keep(attrs::values(helper, attr)) {
                    uses.pipes.extend(v);
                }
            }
            Helper::UseFilters => {
                if let Some(v) = errors.keep(attrs::values(helper, attr)) {
                    let mut v = v.into_iter();
                    let first = v.next();
                    // A second filter here, or a first one after another attribute's.
                    let extra = match v.next() {
                        Some(extra) => Some(extra),
                        None if uses.filter.is_some() => first.clone(),
                        None => None,
                    };
                    match extra {
                        Some(extra) => errors.at(
                            extra,
                            "a handler has one exception filter: to combine several, write one \
                             filter that tries each in turn and falls back on `BaseExceptionFilter` \
                             (as a NestJS filter calls `super.catch`)",
                        ),
                        None => uses.filter = first,
                    }
                }
            }
            Helper::SubscribeMessage | Helper::Middleware if on_impl => errors.at(
                &*attr,
                format!(
                    "`#[{}]` goes on a method of the impl block, not on the block",
                    helper.name()
                ),
            ),
            // A method's own, read by `read_method`.
            Helper::SubscribeMessage | Helper::OnServerEvent | Helper::Middleware => continue,
        }
        attrs::mark_read(attr);
    }
    uses
}

/// Reads one method: its role, and whether its signature fits it. `None` for a method the
/// gateway does not register.
fn read_method(method: &mut ImplItemFn, errors: &mut Errors) -> Option<Member> {
    let mut event = None;
    let mut middleware = None;
    let mut server_event = None;
    for attr in &mut method.attrs {
        match Helper::of(attr) {
            Some(Helper::OnServerEvent) => {
                if server_event.is_some() {
                    errors.at(&*attr, "a method handles one server event");
                } else {
                    server_event = errors.keep(attrs::server_event(attr));
                }
            }
            Some(Helper::SubscribeMessage) => {
                if event.is_some() {
                    errors.at(
                        &*attr,
                        "a method handles one event: write one method per event (they may call \
                         a shared fn)",
                    );
                } else {
                    event = errors.keep(attrs::event(attr));
                }
            }
            Some(Helper::Middleware) => {
                errors.keep(attrs::no_arguments(attr));
                middleware = Some(attr.clone());
            }
            _ => continue,
        }
        attrs::mark_read(attr);
    }
    let first_use = method
        .attrs
        .iter()
        .find(|a| {
            matches!(
                Helper::of(a),
                Some(Helper::UseGuards | Helper::UsePipes | Helper::UseFilters)
            )
        })
        .cloned();
    let uses = read_uses(&mut method.attrs, false, errors);

    let sig = &method.sig;
    let name = sig.ident.to_string();
    if server_event.is_some() && (event.is_some() || middleware.is_some()) {
        errors.at(
            &sig.ident,
            "a method handles either a server event (`#[on_server_event]`) or a client's event or \
             handshake, not both",
        );
        return None;
    }
    let role = match (event, middleware) {
        (None, None) if server_event.is_some() => Role::ServerEvent {
            event: server_event?,
        },
        (Some(_), Some(attr)) => {
            errors.at(
                attr,
                "a method is either a handler (`#[subscribe_message]`) or a middleware, not both",
            );
            return None;
        }
        (Some(event), None) => Role::Handler { event },
        (None, Some(_)) => Role::Middleware,
        (None, None) => match name.as_str() {
            "handle_connection" => Role::Connection,
            "handle_disconnect" => Role::Disconnect,
            "after_init" => Role::Init,
            _ => {
                if let Some(attr) = first_use {
                    errors.at(
                        attr,
                        "guards, pipes and filters run around a handler: add \
                         `#[subscribe_message(\"event\")]` to this method, or put this attribute \
                         on the impl block for every handler",
                    );
                }
                return None;
            }
        },
    };
    if let (Some(attr), false) = (&first_use, matches!(role, Role::Handler { .. })) {
        errors.at(
            attr,
            "guards, pipes and filters run around `#[subscribe_message]` handlers only; to refuse \
             a connection, return an error from a `#[middleware]`",
        );
    }

    let receiver = match sig.inputs.first() {
        Some(FnArg::Receiver(r)) => {
            if !matches!(&*r.ty, Type::Reference(t) if t.mutability.is_none()) {
                errors.at(
                    r,
                    "a gateway method takes `&self`: one gateway serves every client at once, so \
                     it is shared; keep what changes in atomics or a Mutex",
                );
            }
            true
        }
        _ => false,
    };
    if !sig.generics.params.is_empty() {
        errors.at(
            &sig.generics,
            "a gateway method cannot be generic: the gateway registers it with one set of types",
        );
    }
    let mut inputs = Vec::new();
    for arg in &sig.inputs {
        if let FnArg::Typed(arg) = arg {
            if contains_impl_trait(&arg.ty) {
                errors.at(
                    &arg.ty,
                    "name the argument's type: the gateway registers the method with one set of types",
                );
            }
            inputs.push((*arg.ty).clone());
        }
    }
    let output = match &sig.output {
        ReturnType::Default => sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };

    // What the errors about the signature cover: `async fn name`.
    let head = {
        let (asyncness, fn_token, ident) = (&sig.asyncness, &sig.fn_token, &sig.ident);
        quote!(#asyncness #fn_token #ident)
    };
    let hook = |what: &str, usage: &str| {
        format!(
            "`{name}` is {what}: write `{usage}`, or rename the method if it is not meant to be one"
        )
    };
    match &role {
        Role::Handler { .. } => {
            if sig.asyncness.is_none() {
                errors.at(
                    &head,
                    format!("a handler is an async fn: write `async fn {name}`"),
                );
            }
            if let Some(extra) = inputs.get(MAX_EXTRACTORS) {
                errors.at(
                    extra,
                    format!(
                        "a handler takes at most {MAX_EXTRACTORS} extractors: group some in a type \
                         that implements `FromContext`"
                    ),
                );
            }
        }
        Role::Middleware => {
            if sig.asyncness.is_none()
                || inputs.len() != 1
                || matches!(sig.output, ReturnType::Default)
            {
                errors.at(
                    &head,
                    format!(
                        "a middleware is written `async fn {name}(&self, client: Client) -> \
                         Result<(), WsException>`: it sees the client during the handshake, and \
                         an error refuses it"
                    ),
                );
            }
        }
        Role::Connection => {
            if sig.asyncness.is_none() || inputs.len() != 1 {
                errors.at(
                    &head,
                    hook(
                        "the connection hook (NestJS's `handleConnection`)",
                        "async fn handle_connection(&self, client: Client)",
                    ),
                );
            }
        }
        Role::Disconnect => {
            if sig.asyncness.is_none()
                || !(1..=2).contains(&inputs.len())
                || returns_something(&sig.output)
            {
                errors.at(
                    &head,
                    hook(
                        "the disconnection hook (NestJS's `handleDisconnect`), which returns \
                         nothing (the reason may be left out)",
                        "async fn handle_disconnect(&self, client: Client, reason: DisconnectReason)",
                    ),
                );
            }
        }
        Role::ServerEvent { .. } => {
            if sig.asyncness.is_none() || inputs.len() > 1 {
                errors.at(
                    &head,
                    hook(
                        "a server-side event's handler (socket.io's `io.on(event)` for \
                         `serverSideEmit`), whose return value is this node's answer (the event \
                         may be left out)",
                        "async fn name(&self, event: ServerEvent) -> impl Serialize",
                    ),
                );
            }
        }
        Role::Init => {
            if sig.asyncness.is_some() || inputs.len() > 1 || returns_something(&sig.output) {
                errors.at(
                    &head,
                    hook(
                        "the init hook (NestJS's `afterInit`), which runs once as the app is built \
                         (the server may be left out)",
                        "fn after_init(&self, server: Server)",
                    ),
                );
            }
        }
    }

    Some(Member {
        ident: sig.ident.clone(),
        receiver,
        cfgs: method
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("cfg"))
            .cloned()
            .collect(),
        inputs,
        output,
        role,
        uses,
    })
}

/// Whether a return type is something other than `()`.
fn returns_something(output: &ReturnType) -> bool {
    match output {
        ReturnType::Default => false,
        ReturnType::Type(_, ty) => !matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()),
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    use syn::visit::Visit;
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_type_impl_trait(&mut self, _: &syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}
