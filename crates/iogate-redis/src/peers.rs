//! [`Peers`]: the requests and answers of socket.io-adapter's cluster adapter, which the
//! streams and the sharded adapters both speak over pub/sub: fetching sockets, server-side
//! events, broadcasts with acknowledgements, and the answers to each. A message to every node
//! goes on `<prefix>#<nsp>#`, an answer to node `uid` on `<prefix>#<nsp>#<uid>#`; the nodes are
//! counted by the subscribers of the first.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use iogate_socketio::{AdapterFuture, BroadcastOptions, Local, SocketInfo};
use serde_json::Value as Json;

use crate::driver::{Driver, unavailable};
use crate::requests::{Requests, random_id};
use crate::streams_wire::{self as sw, Message, MessageType};
use crate::wire::{opts_of, socket_info, take_event};

/// One node's side of the requests between nodes.
pub(crate) struct Peers {
    pub(crate) driver: Driver,
    /// This node's id in messages.
    pub(crate) uid: String,
    prefix: String,
    request_timeout: Duration,
    /// `FETCH_SOCKETS` requests waiting for the other nodes' answers.
    sockets: Requests<Vec<SocketInfo>>,
    /// `SERVER_SIDE_EMIT` requests waiting for the other nodes' answers.
    answers: Requests<Vec<Json>>,
}

impl Peers {
    pub(crate) fn new(driver: Driver, prefix: &str, request_timeout: Duration) -> Self {
        Self {
            driver,
            uid: random_id(),
            prefix: prefix.to_owned(),
            request_timeout,
            sockets: Requests::default(),
            answers: Requests::default(),
        }
    }

    /// The channel of namespace `ns`: `<prefix>#<ns>#` to every node, or
    /// `<prefix>#<ns>#<uid>#` to node `uid`.
    pub(crate) fn channel(&self, ns: &str, uid: Option<&str>) -> String {
        match uid {
            Some(uid) => format!("{}#{ns}#{uid}#", self.prefix),
            None => format!("{}#{ns}#", self.prefix),
        }
    }

    /// The channels of namespace `ns` that this node subscribes: to every node, and to itself.
    pub(crate) fn own_channels(&self, ns: &str) -> Vec<String> {
        vec![self.channel(ns, None), self.channel(ns, Some(&self.uid))]
    }

    /// Publishes `body` on `channel` in the background.
    fn send(&self, channel: String, body: Vec<u8>) {
        let driver = self.driver.clone();
        tokio::spawn(async move {
            if let Err(e) = driver.publish(channel, body).await {
                tracing::debug!(error = %e, "cannot answer a cluster request");
            }
        });
    }

    /// Handles a pub/sub message of namespace `ns`: a request or an answer of another node is
    /// dealt with here, anything else another node sent on `ns` is handed back. This node's own
    /// messages, and those of other namespaces, are skipped.
    pub(crate) fn on_payload(&self, ns: &str, local: &Local, payload: &[u8]) -> Option<Message> {
        match sw::read_message(payload) {
            Ok(msg) if msg.uid != self.uid && msg.nsp == ns => self.on_message(ns, local, msg),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(error = %e, "ignoring a cluster message");
                None
            }
        }
    }

    /// Handles a request or an answer of another node (`msg`, of namespace `ns`); hands back
    /// what is not one.
    fn on_message(&self, ns: &str, local: &Local, msg: Message) -> Option<Message> {
        let request_id = msg
            .data
            .get("requestId")
            .and_then(Json::as_str)
            .map(str::to_owned);
        let to_sender = || self.channel(ns, Some(&msg.uid));
        match (msg.kind, request_id) {
            (k, Some(request_id)) if k == MessageType::FetchSockets as u8 => {
                let sockets = local.fetch(ns, &opts_of(msg.data.get("opts")));
                match sw::fetch_response(&self.uid, ns, &request_id, &sockets) {
                    Ok(answer) => self.send(to_sender(), answer),
                    Err(e) => tracing::debug!(error = %e, "cannot answer a cluster request"),
                }
            }
            (k, Some(request_id)) if k == MessageType::FetchSocketsResponse as u8 => {
                let sockets = msg.data.get("sockets").and_then(Json::as_array);
                let sockets = sockets
                    .into_iter()
                    .flatten()
                    .cloned()
                    .filter_map(socket_info);
                self.sockets
                    .answered(&request_id, |all| all.extend(sockets));
            }
            (k, Some(request_id)) if k == MessageType::Broadcast as u8 => {
                // A broadcast with acknowledgements: delivered without one (`Local` cannot wait
                // for them yet), and the sender told to expect none from here.
                let packet = msg.data.get("packet");
                let args = packet.and_then(|p| p.get("data")).cloned();
                if let Ok(event) = take_event(args.unwrap_or_default(), &msg.attachments) {
                    local.broadcast(ns, &event, &opts_of(msg.data.get("opts")));
                }
                self.send(
                    to_sender(),
                    sw::client_count_response(&self.uid, ns, &request_id, 0),
                );
            }
            (k, request_id) if k == MessageType::ServerSideEmit as u8 => {
                let Some(Json::Array(args)) = msg.data.get("packet") else {
                    return None;
                };
                let answer = local.server_event(ns, args.clone());
                let driver = self.driver.clone();
                let (uid, ns, channel) = (self.uid.clone(), ns.to_owned(), to_sender());
                tokio::spawn(async move {
                    let answer = answer.await;
                    let (Some(id), Some(answer)) = (request_id, answer) else {
                        return;
                    };
                    let Ok(response) = sw::server_side_emit_response(&uid, &ns, &id, &answer)
                    else {
                        return;
                    };
                    if let Err(e) = driver.publish(channel, response).await {
                        tracing::debug!(error = %e, "cannot answer a server-side event");
                    }
                });
            }
            (k, Some(request_id)) if k == MessageType::ServerSideEmitResponse as u8 => {
                let answer = msg.data.get("packet").cloned().unwrap_or_default();
                self.answers.answered(&request_id, |all| all.push(answer));
            }
            _ => return Some(msg),
        }
        None
    }

    /// The selected sockets of every other node of namespace `ns`.
    pub(crate) fn fetch_sockets(
        self: &std::sync::Arc<Self>,
        ns: &str,
        opts: &BroadcastOptions,
    ) -> AdapterFuture<Vec<SocketInfo>> {
        let this = self.clone();
        let channel = self.channel(ns, None);
        let request_id = random_id();
        let body = sw::fetch_request(&self.uid, ns, &request_id, opts);
        Box::pin(async move {
            let timeout = this.request_timeout;
            let driver = &this.driver;
            let (sockets, id) = (&this.sockets, request_id);
            sockets
                .ask(driver, channel, id, body, Vec::new(), timeout)
                .await
        })
    }

    /// The rooms of the other nodes' sockets of namespace `ns`, from their sockets: the
    /// protocol has no request of its own for them.
    pub(crate) fn all_rooms(self: &std::sync::Arc<Self>, ns: &str) -> AdapterFuture<Vec<String>> {
        let sockets = self.fetch_sockets(ns, &BroadcastOptions::default());
        Box::pin(async move {
            let sockets = sockets.await?;
            let ids: HashSet<&str> = sockets.iter().map(|s| s.id.as_str()).collect();
            let rooms: BTreeSet<&String> = sockets
                .iter()
                .flat_map(|s| s.rooms.iter())
                .filter(|r| !ids.contains(r.as_str()))
                .collect();
            Ok(rooms.into_iter().cloned().collect())
        })
    }

    /// A server-side event to every other node of namespace `ns`; with `ack`, their answers,
    /// waited for that long.
    pub(crate) fn server_side_emit(
        self: &std::sync::Arc<Self>,
        ns: &str,
        args: &[Json],
        ack: Option<Duration>,
    ) -> AdapterFuture<Vec<Json>> {
        let this = self.clone();
        let channel = self.channel(ns, None);
        let request_id = ack.map(|_| random_id());
        let body = sw::server_side_emit(&self.uid, ns, request_id.as_deref(), args);
        Box::pin(async move {
            let body = body?;
            match (ack, request_id) {
                (Some(timeout), Some(id)) => {
                    let driver = &this.driver;
                    this.answers
                        .ask(driver, channel, id, body, Vec::new(), timeout)
                        .await
                }
                _ => {
                    this.driver
                        .publish(channel, body)
                        .await
                        .map_err(unavailable)?;
                    Ok(Vec::new())
                }
            }
        })
    }
}
