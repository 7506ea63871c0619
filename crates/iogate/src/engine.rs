//! The seam between iogate and the protocol library.
//!
//! socketioxide's sockets and servers are generic over their adapter (in-memory, Redis, ...).
//! iogate's public types are not: they hold these object-safe traits, implemented once for
//! every adapter. Everything iogate asks of socketioxide goes through here, so replacing it
//! means reimplementing two traits.

use std::sync::Arc;

use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::{FromMessageParts, Value as SioValue};
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Socket;
use socketioxide::{BroadcastError, SendError, SocketIo, TransportType};
use socketioxide_core::adapter::DefinedAdapter;

use crate::client::ClientState;
use crate::handler::BoxFuture;

/// A boxed future that may borrow its arguments.
pub(crate) type Borrowing<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A value to encode, borrowed, with its type erased.
pub(crate) type Data<'a> = &'a (dyn erased_serde::Serialize + 'a);

/// Lets a `?Sized` value (`str`, slices) be erased.
pub(crate) struct Ser<'a, T: ?Sized>(pub(crate) &'a T);

impl<T: Serialize + ?Sized> Serialize for Ser<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// One connected socket.
pub(crate) trait Conn: Send + Sync + 'static {
    fn ns(&self) -> &str;
    fn emit(&self, event: &str, data: Data<'_>) -> Result<(), SendError>;
    fn ack(self: Arc<Self>, id: i64, data: Data<'_>) -> Result<(), SendError>;
    /// Emits and waits up to `timeout` for the client's acknowledgement (its first argument).
    fn emit_with_ack(
        &self,
        event: &str,
        data: Data<'_>,
        timeout: std::time::Duration,
    ) -> Result<BoxFuture<Result<serde_json::Value, socketioxide::AckError>>, SendError>;
    fn join(&self, room: String);
    fn leave(&self, room: String);
    fn rooms(&self) -> Vec<String>;
    fn disconnect(self: Arc<Self>);
    fn connected(&self) -> bool;
    fn req_parts(&self) -> &http::request::Parts;
    fn transport(&self) -> TransportType;
    /// Whether the client's outgoing queue is full, i.e. it stopped reading.
    fn is_backlogged(&self) -> bool;
    /// Cuts off a client that stopped reading: see [`evict`].
    fn evict(self: Arc<Self>);
}

/// Cuts off a client that stopped reading. A disconnect needs a slot in the client's full
/// outgoing queue, so it cannot always be sent at once: the client leaves every room at once
/// (no broadcast adds to its queue any more), and the disconnect is retried every 500 ms until
/// a slot frees or the connection ends; a client that never reads again is closed by the
/// heartbeat (`ping_interval` + `ping_timeout`).
fn evict<A: Adapter>(socket: SocketRef<A>) {
    socket.leave_all();
    if let Err(socketioxide::SocketError::InternalChannelFull) = socket.clone().disconnect() {
        tokio::spawn(async move {
            while socket.connected() {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                if !matches!(
                    socket.clone().disconnect(),
                    Err(socketioxide::SocketError::InternalChannelFull)
                ) {
                    return;
                }
            }
        });
    }
}

/// A value that refuses to be serialised: emitting it reserves a slot in the client's
/// outgoing queue, then fails to encode and frees the slot, sending nothing. socketioxide
/// reserves before it encodes, so the error says whether the queue had room.
struct Probe;

impl Serialize for Probe {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("probe"))
    }
}

impl<A: Adapter> Conn for Socket<A> {
    fn ns(&self) -> &str {
        Socket::ns(self)
    }
    fn emit(&self, event: &str, data: Data<'_>) -> Result<(), SendError> {
        Socket::emit(self, event, data)
    }
    fn emit_with_ack(
        &self,
        event: &str,
        data: Data<'_>,
        timeout: std::time::Duration,
    ) -> Result<BoxFuture<Result<serde_json::Value, socketioxide::AckError>>, SendError> {
        let acked = self
            .timeout(timeout)
            .emit_with_ack::<_, serde_json::Value>(event, data)?;
        Ok(Box::pin(acked))
    }
    fn ack(self: Arc<Self>, id: i64, data: Data<'_>) -> Result<(), SendError> {
        let Ok(sender) = AckSender::from_message_parts(
            &self,
            &mut SioValue::Bytes(bytes::Bytes::new()),
            &Some(id),
        );
        sender.send(data)
    }
    fn join(&self, room: String) {
        Socket::join(self, room)
    }
    fn leave(&self, room: String) {
        Socket::leave(self, room)
    }
    fn rooms(&self) -> Vec<String> {
        Socket::rooms(self)
            .into_iter()
            .map(|r| r.into_owned())
            .collect()
    }
    fn disconnect(self: Arc<Self>) {
        // Already closed is the only error, and the wanted outcome.
        let _ = Socket::disconnect(self);
    }
    fn connected(&self) -> bool {
        Socket::connected(self)
    }
    fn req_parts(&self) -> &http::request::Parts {
        Socket::req_parts(self)
    }
    fn transport(&self) -> TransportType {
        self.transport_type()
    }
    fn evict(self: Arc<Self>) {
        evict(SocketRef::from(self))
    }
    fn is_backlogged(&self) -> bool {
        matches!(
            Socket::emit(self, "", &Probe),
            Err(SendError::Socket(
                socketioxide::SocketError::InternalChannelFull
            ))
        )
    }
}

/// Which clients of a namespace an operation is for.
pub(crate) struct Selection<'a> {
    pub(crate) ns: &'a str,
    pub(crate) to: Vec<String>,
    pub(crate) except: Vec<String>,
}

/// What went wrong in a server-side operation.
pub(crate) enum OpError {
    NoNamespace,
    Broadcast(BroadcastError),
    Adapter(String),
}

/// The protocol server.
pub(crate) trait Io: Send + Sync + 'static {
    fn emit<'a>(
        &'a self,
        sel: Selection<'a>,
        event: &'a str,
        data: Data<'a>,
    ) -> Borrowing<'a, Result<(), OpError>>;
    fn join(&self, sel: Selection<'_>, room: String) -> BoxFuture<Result<(), OpError>>;
    fn leave(&self, sel: Selection<'_>, room: String) -> BoxFuture<Result<(), OpError>>;
    fn disconnect(&self, sel: Selection<'_>) -> BoxFuture<Result<(), OpError>>;
    /// The selected clients of this node.
    fn local(&self, sel: Selection<'_>) -> Result<Vec<Arc<ClientState>>, OpError>;
    /// Every client of this node, in every namespace.
    fn everyone(&self) -> Vec<Arc<ClientState>>;
    /// How many clients of this node are selected.
    fn local_count(&self, sel: Selection<'_>) -> usize;
    /// Disconnects the selected clients of this node whose outgoing queue is full; returns
    /// how many there were.
    fn disconnect_backlogged(&self, sel: Selection<'_>) -> usize;
    /// How many clients are selected, on every node.
    fn count(&self, sel: Selection<'_>) -> BoxFuture<Result<usize, OpError>>;
    fn rooms(&self, ns: &str) -> BoxFuture<Result<Vec<String>, OpError>>;
    fn close(&self) -> BoxFuture<()>;
}

fn operators<A: Adapter + DefinedAdapter>(
    io: &SocketIo<A>,
    sel: Selection<'_>,
) -> Result<BroadcastOperators<A>, OpError> {
    let mut ops = io.of(sel.ns).ok_or(OpError::NoNamespace)?;
    if !sel.to.is_empty() {
        ops = ops.to(sel.to);
    }
    if !sel.except.is_empty() {
        ops = ops.except(sel.except);
    }
    Ok(ops)
}

fn adapter_error(e: impl std::fmt::Display) -> OpError {
    OpError::Adapter(e.to_string())
}

impl<A: Adapter + DefinedAdapter> Io for SocketIo<A> {
    fn emit<'a>(
        &'a self,
        sel: Selection<'a>,
        event: &'a str,
        data: Data<'a>,
    ) -> Borrowing<'a, Result<(), OpError>> {
        match operators(self, sel) {
            Ok(ops) => {
                // Encodes the packet now: the future holds the packet, not `data`.
                let sent = ops.emit(event, data);
                Box::pin(async move { sent.await.map_err(OpError::Broadcast) })
            }
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }
    fn join(&self, sel: Selection<'_>, room: String) -> BoxFuture<Result<(), OpError>> {
        let ops = operators(self, sel);
        Box::pin(async move { ops?.join(room).await.map_err(adapter_error) })
    }
    fn leave(&self, sel: Selection<'_>, room: String) -> BoxFuture<Result<(), OpError>> {
        let ops = operators(self, sel);
        Box::pin(async move { ops?.leave(room).await.map_err(adapter_error) })
    }
    fn disconnect(&self, sel: Selection<'_>) -> BoxFuture<Result<(), OpError>> {
        let ops = operators(self, sel);
        Box::pin(async move { ops?.disconnect().await.map_err(OpError::Broadcast) })
    }
    fn local(&self, sel: Selection<'_>) -> Result<Vec<Arc<ClientState>>, OpError> {
        Ok(operators(self, sel)?
            .local()
            .sockets()
            .into_iter()
            .filter_map(|s| s.extensions.get::<Arc<ClientState>>())
            .collect())
    }
    fn local_count(&self, sel: Selection<'_>) -> usize {
        operators(self, sel).map_or(0, |ops| ops.local().sockets().len())
    }
    fn everyone(&self) -> Vec<Arc<ClientState>> {
        self.nsps()
            .into_iter()
            .flat_map(|ns| ns.local().sockets())
            .filter_map(|s| s.extensions.get::<Arc<ClientState>>())
            .collect()
    }
    fn disconnect_backlogged(&self, sel: Selection<'_>) -> usize {
        let Ok(ops) = operators(self, sel) else {
            return 0;
        };
        let mut n = 0;
        for socket in ops.local().sockets() {
            if socket.is_backlogged() {
                n += 1;
                evict(socket);
            }
        }
        n
    }
    fn count(&self, sel: Selection<'_>) -> BoxFuture<Result<usize, OpError>> {
        let ops = operators(self, sel);
        Box::pin(async move { Ok(ops?.fetch_sockets().await.map_err(adapter_error)?.len()) })
    }
    fn rooms(&self, ns: &str) -> BoxFuture<Result<Vec<String>, OpError>> {
        let ops = operators(
            self,
            Selection {
                ns,
                to: Vec::new(),
                except: Vec::new(),
            },
        );
        Box::pin(async move {
            let rooms = ops?.rooms().await.map_err(adapter_error)?;
            Ok(rooms.into_iter().map(|r| r.into_owned()).collect())
        })
    }
    fn close(&self) -> BoxFuture<()> {
        let io = self.clone();
        Box::pin(async move { io.close().await })
    }
}
