//! One namespace as the framework serves it: the routes, hooks and middlewares of every
//! gateway on that path, merged.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, OnceLock};

use crate::gateway::{ConnectHook, DisconnectHook, Middleware};
use crate::handler::Route;
use crate::metrics::{NsMetrics, RouteMetrics};
use crate::rails::Guardrails;
use crate::{Gateway, Server};

/// One namespace, merged from every gateway that serves it.
pub(crate) struct NsRuntime {
    pub(crate) path: String,
    pub(crate) routes: HashMap<Box<str>, Arc<RouteEntry>>,
    pub(crate) middleware: Vec<Arc<dyn Middleware>>,
    pub(crate) on_connection: Vec<ConnectHook>,
    pub(crate) on_disconnect: Vec<DisconnectHook>,
    /// The handlers of server-side events from the other nodes, by event.
    pub(crate) server_events: HashMap<Box<str>, crate::gateway::ServerEventHandler>,
    pub(crate) rails: Arc<Guardrails>,
    pub(crate) room_policies: Vec<crate::gateway::RoomPolicy>,
    /// The filter of refusals that reach no route: the first of the namespace's gateways'.
    pub(crate) filter: Option<Arc<dyn crate::filter::ExceptionFilter>>,
    pub(crate) metrics: NsMetrics,
    /// Whether a recovered client skips the connection middlewares
    /// ([`Recovery::skip_middlewares`](crate::Recovery::skip_middlewares)).
    pub(crate) skip_middlewares: bool,
    server: OnceLock<Server>,
}

impl NsRuntime {
    pub(crate) fn new(path: String, rails: Arc<Guardrails>, skip_middlewares: bool) -> Self {
        Self {
            skip_middlewares,
            metrics: NsMetrics::new(&path),
            path,
            routes: HashMap::new(),
            middleware: Vec::new(),
            on_connection: Vec::new(),
            on_disconnect: Vec::new(),
            server_events: HashMap::new(),
            rails,
            room_policies: Vec::new(),
            filter: None,
            server: OnceLock::new(),
        }
    }

    /// Adds a gateway's routes, hooks, middlewares and policies to the namespace. Its guards
    /// and filter apply to each of its routes, before the route's own; the first gateway's
    /// filter also takes the refusals that reach no route.
    ///
    /// # Panics
    /// When the namespace already has a handler for one of the gateway's events.
    pub(crate) fn merge(&mut self, g: Gateway) {
        if self.filter.is_none() {
            self.filter = g.filter.clone();
        }
        for (event, mut route) in g.routes {
            let mut guards = g.guards.clone();
            guards.append(&mut route.guards);
            route.guards = guards;
            route.filter = route.filter.or_else(|| g.filter.clone());
            match self.routes.entry(event.clone().into_boxed_str()) {
                Entry::Occupied(_) => panic!(
                    "iogate: two handlers for the event {event:?} on the namespace {:?}",
                    g.namespace
                ),
                Entry::Vacant(v) => {
                    v.insert(Arc::new(RouteEntry {
                        metrics: RouteMetrics::new(&g.namespace, &event),
                        event: event.into(),
                        route,
                    }));
                }
            }
        }
        for (event, handler) in g.server_events {
            match self.server_events.entry(event.clone().into_boxed_str()) {
                Entry::Occupied(_) => panic!(
                    "iogate: two handlers for the server event {event:?} on the namespace {:?}",
                    g.namespace
                ),
                Entry::Vacant(v) => {
                    v.insert(handler);
                }
            }
        }
        self.middleware.extend(g.middleware);
        self.on_connection.extend(g.on_connection);
        self.on_disconnect.extend(g.on_disconnect);
        self.room_policies.extend(g.room_policies);
    }

    /// Gives the namespace the server handle, once the server exists (it is made from the
    /// mounted namespaces).
    pub(crate) fn attach(&self, server: Server) {
        let _ = self.server.set(server);
    }

    pub(crate) fn server(&self) -> &Server {
        self.server
            .get()
            .expect("set before the namespace is mounted")
    }
}

/// A route as dispatch uses it: the handler with the gateway's guards and filter merged in.
pub(crate) struct RouteEntry {
    pub(crate) event: Arc<str>,
    pub(crate) route: Route,
    pub(crate) metrics: RouteMetrics,
}
