//! The protocol layer (`iogate-socketio`, over `iogate-engineio`), as the framework names it.
//!
//! Nothing of the protocol layer's types reaches the public API: the framework holds its
//! sockets, and shows [`Client`](crate::Client) and [`Server`](crate::Server) instead. The
//! protocol layer calls the framework through `mount`.

use serde::Serialize;

pub(crate) use iogate_socketio as sio;

/// Lets a `?Sized` value (`str`, slices) be erased.
pub(crate) struct Ser<'a, T: ?Sized>(pub(crate) &'a T);

impl<T: Serialize + ?Sized> Serialize for Ser<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}
