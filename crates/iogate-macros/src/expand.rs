//! Writes the `impl iogate::IntoGateway` of a [`Gateway`] that was read: the calls to iogate's
//! public builder API that a user would write by hand.
//!
//! ```text
//! impl IntoGateway for EventsGateway {
//!     fn into_gateway(self) -> Gateway {
//!         let value0 = is_known;                      // attribute values, while `self` is whole
//!         fn extractor<T: FromContext>(_: PhantomData<T>) {}
//!         extractor::<_>(PhantomData::<Data<String>>); // located at the argument, for its error
//!         let this = Arc::new(self);
//!         let gateway = Gateway::new("/events");
//!         let gateway = gateway.guard(value0);
//!         let gateway = gateway.subscribe_message(
//!             "message",
//!             Route::new::<_, (Data<String>,)>({
//!                 let this = Arc::clone(&this);
//!                 move |arg0: Data<String>| {
//!                     let this = Arc::clone(&this);
//!                     async move {
//!                         let reply = this.handle_message(arg0).await;
//!                         IntoReply::into_reply(reply) // located at the return type
//!                     }
//!                 }
//!             }),
//!         );
//!         gateway
//!     }
//! }
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident, ItemImpl};

use crate::gateway::{Gateway, Member, Role};

/// The impl block as written, and the `IntoGateway` impl that registers its methods.
pub(crate) fn expand(item: &ItemImpl, gateway: Gateway) -> TokenStream {
    let Gateway {
        namespace,
        uses,
        members,
    } = gateway;
    let mut w = Writer::default();
    let g = w.gateway.clone();

    for guard in &uses.guards {
        let value = w.bind(guard, &[]);
        w.step(&[], quote_spanned!(at(guard)=> #g.guard(#value)));
    }
    if let Some(filter) = &uses.filter {
        let value = w.bind(filter, &[]);
        w.step(&[], quote_spanned!(at(filter)=> #g.filter(#value)));
    }
    for member in &members {
        let call = match &member.role {
            Role::Handler { event } => {
                let own = &member.uses;
                let mut route = w.handler(member);
                for guard in &own.guards {
                    let value = w.bind(guard, &member.cfgs);
                    route = quote_spanned!(at(guard)=> #route.guard(#value));
                }
                // iogate has no gateway-wide pipe: each handler gets its own.
                for pipe in uses.pipes.iter().chain(&own.pipes) {
                    let value = w.bind(pipe, &member.cfgs);
                    route = quote_spanned!(at(pipe)=> #route.pipe(#value));
                }
                if let Some(filter) = &own.filter {
                    let value = w.bind(filter, &member.cfgs);
                    route = quote_spanned!(at(filter)=> #route.filter(#value));
                }
                quote!(#g.subscribe_message(#event, #route))
            }
            Role::Middleware => {
                let hook = w.hook(member, &[("client", quote!(::iogate::Client))], true);
                quote!(#g.middleware(#hook))
            }
            Role::Connection => {
                let hook = w.hook(member, &[("client", quote!(::iogate::Client))], true);
                quote!(#g.handle_connection(#hook))
            }
            Role::Disconnect => {
                let params = [
                    ("client", quote!(::iogate::Client)),
                    ("reason", quote!(::iogate::DisconnectReason)),
                ];
                let hook = w.hook(member, &params, true);
                quote!(#g.handle_disconnect(#hook))
            }
            Role::Init => {
                let hook = w.hook(member, &[("server", quote!(::iogate::Server))], false);
                quote!(#g.after_init(#hook))
            }
            Role::ServerEvent { event } => {
                let hook = w.hook(member, &[("event", quote!(::iogate::ServerEvent))], true);
                quote!(#g.on_server_event(#event, #hook))
            }
        };
        w.step(&member.cfgs, call);
    }

    let namespace = namespace.map_or_else(|| quote!("/"), |ns| ns.into_token_stream());
    let Writer {
        values,
        checks,
        steps,
        gateway: g,
        this,
    } = w;
    let share = members
        .iter()
        .any(|m| m.receiver)
        .then(|| quote!(let #this = ::std::sync::Arc::new(self);));
    let extractor = extractor();
    let checks = (!checks.is_empty()).then(|| {
        quote! {
            fn #extractor<T: ::iogate::FromContext>(_: ::core::marker::PhantomData<T>) {}
            #(#checks)*
        }
    });
    let into_gateway = into_gateway(
        item,
        quote! {
            #(#values)*
            #checks
            #share
            let #g = ::iogate::Gateway::new(#namespace);
            #(#steps)*
            #g
        },
    );
    quote!(#item #into_gateway)
}

/// The impl block as written, after errors: with an `IntoGateway` impl that does nothing, so
/// that the errors are only the ones `#[gateway]` reported.
pub(crate) fn expand_failed(item: &ItemImpl, error: &syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    let into_gateway = into_gateway(item, quote!(::core::unreachable!()));
    quote!(#error #item #into_gateway)
}

fn into_gateway(item: &ItemImpl, body: TokenStream) -> TokenStream {
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    quote! {
        impl #impl_generics ::iogate::IntoGateway for #self_ty #where_clause {
            fn into_gateway(self) -> ::iogate::Gateway {
                #body
            }
        }
    }
}

/// The body of `into_gateway`, as it is written.
struct Writer {
    /// `let value0 = <expression>;`: the values of the attributes.
    values: Vec<TokenStream>,
    /// `extractor::<_>(PhantomData::<T>);`: one for each argument of each handler, where
    /// rustc reports the argument that is not an extractor.
    checks: Vec<TokenStream>,
    /// `let gateway = gateway.<call>;`: the registrations.
    steps: Vec<TokenStream>,
    /// The `Gateway` being built.
    gateway: Ident,
    /// The `Arc` of the user's gateway.
    this: Ident,
}

impl Default for Writer {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            checks: Vec::new(),
            steps: Vec::new(),
            gateway: Ident::new("gateway", Span::mixed_site()),
            this: Ident::new("this", Span::mixed_site()),
        }
    }
}

impl Writer {
    /// Binds the value of `expr` to a new name, located at `expr` for the errors about it.
    fn bind(&mut self, expr: &Expr, cfgs: &[syn::Attribute]) -> Ident {
        let name = Ident::new(&format!("value{}", self.values.len()), at(expr));
        self.values.push(quote!(#(#cfgs)* let #name = #expr;));
        name
    }

    fn step(&mut self, cfgs: &[syn::Attribute], call: TokenStream) {
        let g = &self.gateway;
        self.steps.push(quote!(#(#cfgs)* let #g = #call;));
    }

    /// `Route::new(<closure calling the handler>)`, and the checks of its arguments.
    fn handler(&mut self, member: &Member) -> TokenStream {
        let args: Vec<Ident> = (0..member.inputs.len())
            .map(|i| Ident::new(&format!("arg{i}"), Span::mixed_site()))
            .collect();
        let types = &member.inputs;
        let (extractor, cfgs) = (extractor(), &member.cfgs);
        for ty in types {
            let infer = quote_spanned!(at(ty)=> _);
            self.checks.push(quote_spanned!(at(ty)=>
                #(#cfgs)* #extractor::<#infer>(::core::marker::PhantomData::<#ty>);
            ));
        }
        // `Route::new` finds the same errors as the checks, and rustc reports an error once per
        // place: so its error goes where a check most likely reported it already, at the one
        // argument that is not one of iogate's extractors. With several, at the method's name,
        // as it cannot tell which.
        let mut unknown = types.iter().filter(|ty| !is_known_extractor(ty));
        let blamed = match (unknown.next(), unknown.next()) {
            (Some(ty), None) => at(ty),
            _ => member.ident.span(),
        };
        let infer = quote_spanned!(blamed=> _);
        let call = self.call(member, &args);
        // Located at the return type, where rustc then reports a value that is not a reply.
        let output = Span::mixed_site().located_at(member.output);
        let reply = Ident::new("reply", output);
        let into_reply = quote_spanned!(output=> ::iogate::IntoReply::into_reply(#reply));
        let closure = self.closure(
            member,
            quote!(#(#args: #types),*),
            quote!(async move {
                let #reply = #call.await;
                #into_reply
            }),
            true,
        );
        quote!(::iogate::Route::new::<#infer, (#(#types,)*)>(#closure))
    }

    /// The closure of a hook that gets `params` (names and types) from iogate and passes the
    /// method the first ones, as many as it takes.
    fn hook(&self, member: &Member, params: &[(&str, TokenStream)], is_async: bool) -> TokenStream {
        let (params, types): (Vec<Ident>, Vec<&TokenStream>) = params
            .iter()
            .map(|(name, ty)| (Ident::new(name, Span::mixed_site()), ty))
            .unzip();
        // What the method does not take is `_`.
        let patterns = params
            .iter()
            .enumerate()
            .map(|(i, p)| match member.inputs.get(i) {
                Some(_) => p.to_token_stream(),
                None => quote!(_),
            });
        // Each argument is located at the method's, so that a wrong type is reported there.
        let args: Vec<Ident> = member
            .inputs
            .iter()
            .zip(&params)
            .map(|(ty, p)| {
                let mut p = p.clone();
                p.set_span(Span::mixed_site().located_at(ty.span()));
                p
            })
            .collect();
        let call = self.call(member, &args);
        let body = if is_async {
            quote!(async move { #call.await })
        } else {
            call
        };
        self.closure(member, quote!(#(#patterns: #types),*), body, is_async)
    }

    /// `this.method(args)`, or `Self::method(args)` without a receiver.
    fn call(&self, member: &Member, args: &[Ident]) -> TokenStream {
        let method = &member.ident;
        if member.receiver {
            let this = &self.this;
            quote!(#this.#method(#(#args),*))
        } else {
            quote!(Self::#method(#(#args),*))
        }
    }

    /// A closure taking `params` and running `body`, holding its own `Arc` of the gateway when
    /// the method takes `&self`, and cloning it for each call when `body` is an async block
    /// (which must own what it uses).
    fn closure(
        &self,
        member: &Member,
        params: TokenStream,
        body: TokenStream,
        is_async: bool,
    ) -> TokenStream {
        if !member.receiver {
            return quote!(move |#params| #body);
        }
        let this = &self.this;
        let per_call = is_async.then(|| quote!(let #this = ::std::sync::Arc::clone(&#this);));
        quote!({
            let #this = ::std::sync::Arc::clone(&#this);
            move |#params| {
                #per_call
                #body
            }
        })
    }
}

/// The function that checks, at each argument of a handler, that it is an extractor.
fn extractor() -> Ident {
    Ident::new("extractor", Span::mixed_site())
}

/// The extractors of `iogate::extract`, by name: the first column of its table, which a test
/// checks this list against.
const KNOWN_EXTRACTORS: [&str; 9] = [
    "Data",
    "Args",
    "Client",
    "Server",
    "Namespace",
    "State",
    "Extension",
    "Event",
    "Binary",
];

/// Whether `ty` names one of iogate's extractors (`Data<T>`, `Client`, ...).
fn is_known_extractor(ty: &syn::Type) -> bool {
    let syn::Type::Path(path) = ty else {
        return false;
    };
    let last = path.path.segments.last();
    last.is_some_and(|s| KNOWN_EXTRACTORS.iter().any(|k| s.ident == k))
}

/// A span that points at `tokens` in errors, with the generated code's own hygiene.
fn at(tokens: &impl Spanned) -> Span {
    Span::mixed_site().located_at(tokens.span())
}

#[cfg(test)]
mod tests {
    use super::KNOWN_EXTRACTORS;

    /// The list is the first column of the table of extractors in `iogate::extract`: an
    /// extractor added there is known here too.
    #[test]
    fn the_known_extractors_are_those_of_iogate_extract() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../iogate/src/extract.rs");
        let source = std::fs::read_to_string(path).expect("iogate's extract.rs");
        let documented: Vec<&str> = source
            .lines()
            .filter_map(|line| line.strip_prefix("//! | [`"))
            .filter_map(|cell| cell.split(['`', '<']).next())
            .collect();
        assert_eq!(documented, KNOWN_EXTRACTORS);
    }
}
