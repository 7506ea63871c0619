//! [`RedisAdapter`]: the [`Adapter`] of iogate-socketio over Redis pub/sub, in the protocol of
//! `@socket.io/redis-adapter` 8.x, so that iogate nodes, Node socket.io nodes and
//! `@socket.io/redis-emitter` share rooms and broadcasts.
//!
//! Per namespace `nsp`, with the prefix `p` (default `socket.io`), a node subscribes to:
//! - `p#nsp#*` (pattern): broadcasts, on `p#nsp#` or `p#nsp#room#` for a one-room broadcast;
//! - `p-request#nsp#`: requests (join, leave, disconnect, fetch, rooms, ...);
//! - `p-response#nsp#` and `p-response#nsp#<uid>#`: answers to its requests (Node answers on
//!   the second with `publishOnSpecificResponseChannel`).
//!
//! A node knows how many answers to wait for from `PUBSUB NUMSUB p-request#nsp#`: each node
//! subscribes that channel on one connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use iogate_socketio::{
    Adapter, AdapterFuture, BoxFuture, BroadcastOptions, EventData, Local, SocketInfo, done,
};
use tokio::sync::mpsc;

use crate::driver::{ClusterError, Driver, Health, Message, QUEUE, Redis, Served, serve};
use crate::requests::{Requests, random_id};
use crate::wire::{self, Request, ResponseBody};

/// The Redis adapter of one node. Cheap to clone; clones are the same node.
#[derive(Clone)]
pub struct RedisAdapter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("uid", &self.inner.uid)
            .field("prefix", &self.inner.config.prefix)
            .finish_non_exhaustive()
    }
}

struct Inner {
    driver: Driver,
    config: Redis,
    /// This node's id in messages; its own messages come back to it and are skipped by it.
    uid: String,
    /// Requests waiting for the other nodes' answers.
    requests: Requests<Collected>,
    /// The namespaces served, with the task handling their messages.
    namespaces: Mutex<HashMap<String, Served>>,
}

/// What a request collects until each other node has answered.
enum Collected {
    Sockets(Vec<SocketInfo>),
    Rooms(Vec<String>),
    Answers(Vec<serde_json::Value>),
}

/// The channels of one namespace.
struct Channels {
    broadcast: String,
    request: String,
    response: String,
    specific_response: String,
}

impl Channels {
    fn new(prefix: &str, ns: &str, uid: &str) -> Self {
        let response = format!("{prefix}-response#{ns}#");
        Self {
            broadcast: format!("{prefix}#{ns}#"),
            request: format!("{prefix}-request#{ns}#"),
            specific_response: format!("{response}{uid}#"),
            response,
        }
    }
}

impl RedisAdapter {
    /// Connects to Redis, retrying for `config`'s startup timeout.
    pub async fn connect(config: Redis) -> Result<Self, ClusterError> {
        let driver = Driver::connect(&config).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                driver,
                config,
                uid: random_id(),
                requests: Requests::default(),
                namespaces: Mutex::default(),
            }),
        })
    }

    /// Whether Redis answers now; shared, so it can be kept and read later.
    pub fn health(&self) -> Arc<Health> {
        self.inner.driver.health().clone()
    }

    /// This node's uid in the cluster's messages.
    pub fn uid(&self) -> &str {
        &self.inner.uid
    }

    fn channels(&self, ns: &str) -> Channels {
        Channels::new(&self.inner.config.prefix, ns, &self.inner.uid)
    }

    /// Publishes a request on `ns`'s request channel.
    fn publish_request(&self, ns: &str, body: String) -> AdapterFuture {
        self.inner
            .driver
            .publishing(self.channels(ns).request, body)
    }

    /// Sends a request that every other node answers, and waits for their answers.
    fn ask(
        &self,
        ns: &str,
        collected: Collected,
        body: impl FnOnce(&str, &str) -> String,
    ) -> AdapterFuture<Collected> {
        self.ask_within(ns, collected, body, self.inner.config.request_timeout)
    }

    /// [`ask`](Self::ask), waiting up to `timeout`.
    fn ask_within(
        &self,
        ns: &str,
        collected: Collected,
        body: impl FnOnce(&str, &str) -> String,
        timeout: std::time::Duration,
    ) -> AdapterFuture<Collected> {
        let inner = self.inner.clone();
        let channel = self.channels(ns).request;
        let request_id = random_id();
        let body = body(&inner.uid, &request_id);
        Box::pin(async move {
            inner
                .requests
                .ask(&inner.driver, channel, request_id, body, collected, timeout)
                .await
        })
    }
}

impl Inner {
    fn lock_namespaces(&self) -> std::sync::MutexGuard<'_, HashMap<String, Served>> {
        self.namespaces.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Handles one message of namespace `ns`.
    fn handle(&self, ns: &str, channels: &Channels, local: &Local, msg: Message) {
        if msg.channel.starts_with(&channels.broadcast) {
            self.on_broadcast(ns, local, &msg.payload);
        } else if msg.channel == channels.request {
            self.on_request(ns, channels, local, &msg.payload);
        } else if msg.channel.starts_with(&channels.response) {
            self.on_response(&msg.payload);
        }
    }

    fn on_broadcast(&self, ns: &str, local: &Local, payload: &[u8]) {
        let Some(msg) = readable("broadcast", wire::decode_broadcast(payload).map(Some)) else {
            return;
        };
        // A broadcast marked local was for its own node only (no Node node publishes one).
        if msg.uid == self.uid || msg.nsp != ns || msg.opts.local {
            return;
        }
        local.broadcast(ns, &msg.event, &msg.opts);
    }

    fn on_request(&self, ns: &str, channels: &Channels, local: &Local, payload: &[u8]) {
        let Some(incoming) = readable("request", wire::decode_request(payload)) else {
            return;
        };
        // Our own requests come back to us; their local part was done already. The emitter's
        // requests carry no uid.
        if incoming.uid.as_deref() == Some(self.uid.as_str()) {
            return;
        }
        let response = match incoming.request {
            Request::Sockets { request_id, rooms } => {
                let opts = BroadcastOptions {
                    rooms,
                    ..Default::default()
                };
                let ids: Vec<String> = local.fetch(ns, &opts).into_iter().map(|s| s.id).collect();
                Some(wire::sockets_response(&request_id, &ids))
            }
            Request::AllRooms { request_id } => {
                Some(wire::all_rooms_response(&request_id, &local.rooms(ns)))
            }
            Request::Rooms {
                join,
                opts,
                rooms,
                request_id,
            } => {
                if join {
                    local.add_sockets(ns, &opts, &rooms);
                } else {
                    local.del_sockets(ns, &opts, &rooms);
                }
                // The one-socket form is answered by the node that has the socket only.
                request_id
                    .filter(|_| local.count(ns, &opts) > 0)
                    .map(|id| wire::done_response(&id))
            }
            Request::Disconnect {
                opts,
                close,
                request_id,
            } => {
                let answer = request_id.filter(|_| local.count(ns, &opts) > 0);
                local.disconnect(ns, &opts, close);
                answer.map(|id| wire::done_response(&id))
            }
            Request::Fetch { request_id, opts } => {
                Some(wire::fetch_response(&request_id, &local.fetch(ns, &opts)))
            }
            Request::ServerSideEmit { data, request_id } => {
                let args = match data {
                    serde_json::Value::Array(args) => args,
                    _ => return,
                };
                let answer = local.server_event(ns, args);
                let (driver, channel) = (self.driver.clone(), channels.response.clone());
                // Answered on the shared response channel, where Node answers too.
                tokio::spawn(async move {
                    let answer = answer.await;
                    if let (Some(id), Some(answer)) = (request_id, answer) {
                        let response = wire::server_side_emit_response(&id, &answer);
                        if let Err(e) = driver.publish(channel, response).await {
                            tracing::debug!(error = %e, "cannot answer a server-side event");
                        }
                    }
                });
                None
            }
            Request::BroadcastWithAck {
                request_id,
                event,
                opts,
            } => {
                // `Local` cannot deliver with an acknowledgement yet: the clients get the event
                // without one, and the sender is told to expect no acknowledgement from here
                // (so it does not wait for them until its timeout).
                local.broadcast(ns, &event, &opts);
                Some(wire::client_count_response(&request_id, 0))
            }
        };
        if let Some(response) = response {
            // On the shared response channel, Node's default, where every Node version
            // listens. In a task of its own: the namespace's next messages need not wait.
            let channel = channels.response.clone();
            let driver = self.driver.clone();
            tokio::spawn(async move {
                if let Err(e) = driver.publish(channel, response).await {
                    tracing::debug!(error = %e, "cannot answer a cluster request");
                }
            });
        }
    }

    fn on_response(&self, payload: &[u8]) {
        let Some(response) = readable("response", wire::decode_response(payload)) else {
            return;
        };
        self.requests.answered(&response.request_id, |collected| {
            match (collected, response.body) {
                (Collected::Sockets(all), ResponseBody::Sockets(sockets)) => {
                    all.extend(sockets.into_iter().filter_map(wire::socket_info));
                }
                (Collected::Answers(all), ResponseBody::ServerSideEmit(answer)) => all.push(answer),
                (Collected::Rooms(all), ResponseBody::Rooms(rooms)) => {
                    for room in rooms {
                        if !all.contains(&room) {
                            all.push(room);
                        }
                    }
                }
                // Node counts an answer without the expected key as an answer all the same.
                _ => {}
            }
        });
    }
}

/// What a message of another node holds for this one, if anything: one that cannot be read
/// (a `what`) is logged and skipped.
fn readable<T>(what: &str, decoded: Result<Option<T>, wire::WireError>) -> Option<T> {
    decoded.unwrap_or_else(|e| {
        tracing::debug!(error = %e, "ignoring a cluster {what}");
        None
    })
}

impl Adapter for RedisAdapter {
    fn init(&self, ns: &str, local: Local) -> AdapterFuture {
        let channels = self.channels(ns);
        let subscribed = vec![
            channels.request.clone(),
            channels.response.clone(),
            channels.specific_response.clone(),
        ];
        let patterns = vec![format!("{}*", channels.broadcast)];
        let (tx, rx) = mpsc::channel(QUEUE);
        let name = ns.to_owned();
        let task = tokio::spawn(serve(Arc::downgrade(&self.inner), rx, move |inner, msg| {
            inner.handle(&name, &channels, &local, msg);
        }));
        let served = Served {
            channels: subscribed.clone(),
            patterns: patterns.clone(),
            tasks: vec![task],
        };
        if let Some(previous) = self.inner.lock_namespaces().insert(ns.to_owned(), served) {
            previous.stop();
        }
        self.inner.driver.subscribing(subscribed, patterns, tx)
    }

    fn broadcast(&self, ns: &str, event: &EventData, opts: &BroadcastOptions) -> AdapterFuture {
        let channel = wire::broadcast_channel(&self.inner.config.prefix, ns, opts);
        match wire::encode_broadcast(&self.inner.uid, ns, event, opts) {
            Ok(msg) => self.inner.driver.publishing(channel, msg),
            Err(e) => done(Err(e.into())),
        }
    }

    fn add_sockets(&self, ns: &str, opts: &BroadcastOptions, rooms: &[String]) -> AdapterFuture {
        self.publish_request(ns, wire::rooms_request(&self.inner.uid, true, opts, rooms))
    }

    fn del_sockets(&self, ns: &str, opts: &BroadcastOptions, rooms: &[String]) -> AdapterFuture {
        self.publish_request(ns, wire::rooms_request(&self.inner.uid, false, opts, rooms))
    }

    fn disconnect_sockets(&self, ns: &str, opts: &BroadcastOptions, close: bool) -> AdapterFuture {
        self.publish_request(ns, wire::disconnect_request(&self.inner.uid, opts, close))
    }

    fn fetch_sockets(&self, ns: &str, opts: &BroadcastOptions) -> AdapterFuture<Vec<SocketInfo>> {
        let ask = self.ask(ns, Collected::Sockets(Vec::new()), |uid, id| {
            wire::fetch_request(uid, id, opts)
        });
        Box::pin(async move {
            match ask.await? {
                Collected::Sockets(sockets) => Ok(sockets),
                _ => Ok(Vec::new()),
            }
        })
    }

    fn all_rooms(&self, ns: &str) -> AdapterFuture<Vec<String>> {
        let ask = self.ask(ns, Collected::Rooms(Vec::new()), wire::all_rooms_request);
        Box::pin(async move {
            match ask.await? {
                Collected::Rooms(rooms) => Ok(rooms),
                _ => Ok(Vec::new()),
            }
        })
    }

    fn server_side_emit(
        &self,
        ns: &str,
        args: &[serde_json::Value],
        ack: Option<std::time::Duration>,
    ) -> AdapterFuture<Vec<serde_json::Value>> {
        let Some(timeout) = ack else {
            let body = wire::server_side_emit_request(&self.inner.uid, None, args);
            let sent = self.publish_request(ns, body);
            return Box::pin(async move { sent.await.map(|()| Vec::new()) });
        };
        let ask = self.ask_within(
            ns,
            Collected::Answers(Vec::new()),
            |uid, id| wire::server_side_emit_request(uid, Some(id), args),
            timeout,
        );
        Box::pin(async move {
            match ask.await? {
                Collected::Answers(answers) => Ok(answers),
                _ => Ok(Vec::new()),
            }
        })
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        let inner = &self.inner;
        inner
            .driver
            .closing(inner.lock_namespaces().drain().map(|(_, s)| s))
    }
}
