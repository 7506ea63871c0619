//! [`Args`]: an event's arguments exactly as the client sent them, binary attachments included,
//! and several arguments with attachments sent back.
//!
//! [`Data<T>`](crate::Data) is NestJS's `@MessageBody()`: one argument is the body, several
//! are merged into one array, and a binary attachment stands in it as a placeholder whose bytes
//! are in [`Binary`](crate::Binary). Most handlers want just that, but it cannot tell
//! `emit('e', [1, 2])` from `emit('e', 1, 2)`, and a returned value is one argument. When the
//! list itself matters, take [`Args`]:
//!
//! | the client sends | `Data<Value>` is | `Args` is: `values`, `binaries` |
//! |---|---|---|
//! | `emit('e')` | `null` | `[]`, `[]` |
//! | `emit('e', 1)` | `1` | `[1]`, `[]` |
//! | `emit('e', 1, 2)` | `[1, 2]` | `[1, 2]`, `[]` |
//! | `emit('e', [1, 2])` | `[1, 2]` | `[[1, 2]]`, `[]` |
//! | `emit('e', {name: 'a'}, buffer)` | `[{"name": "a"}, <placeholder 0>]` | `[{"name": "a"}, <placeholder 0>]`, `[buffer]` |
//!
//! (`<placeholder N>` is the protocol's `{"_placeholder": true, "num": N}`.) Going out, `Args`
//! is a list of arguments, and each placeholder in it is sent as the attachment it stands for:
//!
//! | the handler | the client gets |
//! |---|---|
//! | returns `args`, or [`Ack(args)`](crate::Ack) | the acknowledgement with those arguments: `(...args) => ..` |
//! | returns [`WsResponse::new("e", args)`](crate::WsResponse) | the event `e` with those arguments |
//! | calls [`client.emit("e", &args)`](crate::Client::emit), [`ns.to(room).emit("e", &args)`](crate::Broadcast::emit) | the same |
//!
//! ```
//! use iogate::{Args, Gateway, WsException, WsResponse};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Upload {
//!     name: String,
//! }
//!
//! let gateway = Gateway::new("/files")
//!     // `socket.emit('echo', 1, 'two', buffer, (...args) => ..)`: the callback gets
//!     // `1, 'two', buffer` back.
//!     .subscribe_message("echo", async |args: Args| args)
//!     // `socket.emit('upload', { name: 'a.png' }, buffer)`: answered with the event
//!     // `uploaded`, whose arguments are the name and the file.
//!     .subscribe_message("upload", async |args: Args| {
//!         let (upload, _file): (Upload, serde_json::Value) = args.decode()?;
//!         let file = args
//!             .binary_at(1)
//!             .ok_or_else(|| WsException::new("the second argument must be a file"))?;
//!         let reply = Args::new().arg(&upload.name).binary(file.clone());
//!         Ok::<_, WsException>(WsResponse::new("uploaded", reply))
//!     });
//! ```
//!
//! The same type is what [`testing::TestClient`](crate::testing) sends and receives (feature
//! `testing`), so a test compares a reply with the `Args` it expects.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// Socket.io arguments: JSON values, and the binary attachments their placeholders refer to.
///
/// As a handler argument it is the event's arguments exactly as sent, count preserved (see the
/// [module](self) for how it differs from [`Data<T>`](crate::Data)). As a reply, or the data of
/// an emit, it is sent as that many arguments, with its attachments. A binary attachment
/// stands among the values as the placeholder `{"_placeholder": true, "num": <index>}`, as on
/// the wire and in [`Context::binaries`](crate::Context::binaries):
///
/// ```
/// use iogate::Args;
/// use serde_json::json;
///
/// let args = Args::new().arg(1).arg("two").binary(vec![1u8, 2, 3]);
/// assert_eq!(args.values, vec![json!(1), json!("two"), json!({"_placeholder": true, "num": 0})]);
/// assert_eq!(args.binaries.len(), 1);
/// assert_eq!(args.binary_at(2).map(|b| b.len()), Some(3));
/// ```
///
/// It serialises as a tuple, one element per argument, each placeholder as the bytes it stands
/// for: socketioxide, which iogate sends with, spreads a tuple into several arguments and sends
/// bytes as binary attachments. An `Args` with one value therefore sends one argument, and an
/// empty one sends none. A placeholder whose `num` has no attachment is sent as the object it
/// is.
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct Args {
    /// The arguments, in order; binary ones as placeholders.
    pub values: Vec<Value>,
    /// The binary attachments, in the order of their placeholders' `num`.
    pub binaries: Vec<Bytes>,
}

impl Args {
    /// No argument.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an argument.
    ///
    /// # Panics
    /// When `value` cannot be represented as JSON (a map with non-string keys), as
    /// `serde_json::json!` does. Add bytes with [`binary`](Self::binary): as an argument they
    /// would be an array of numbers.
    pub fn arg(mut self, value: impl Serialize) -> Self {
        let value =
            serde_json::to_value(value).expect("iogate::Args: an argument must serialise to JSON");
        self.values.push(value);
        self
    }

    /// Adds a binary argument: its placeholder as the argument, and `bytes` as the attachment.
    pub fn binary(mut self, bytes: impl Into<Bytes>) -> Self {
        let placeholder = serde_json::json!({ "_placeholder": true, "num": self.binaries.len() });
        self.values.push(placeholder);
        self.binaries.push(bytes.into());
        self
    }

    /// Adds an attachment without an argument, for a placeholder the caller put inside an
    /// argument itself (e.g. `{"file": {"_placeholder": true, "num": 0}}`).
    pub fn attachment(mut self, bytes: impl Into<Bytes>) -> Self {
        self.binaries.push(bytes.into());
        self
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there is no argument.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The argument at `index`, a placeholder for a binary one.
    pub fn get(&self, index: usize) -> Option<&Value> {
        self.values.get(index)
    }

    /// The first argument, `Null` when there is none: what `socket.emitWithAck` resolves to.
    pub fn data(&self) -> &Value {
        self.values.first().unwrap_or(&Value::Null)
    }

    /// The bytes of the argument at `index`, when it is a binary one (a placeholder whose
    /// attachment is here). A placeholder nested inside an argument is read from
    /// [`binaries`](Self::binaries) by its `num`.
    pub fn binary_at(&self, index: usize) -> Option<&Bytes> {
        placeholder(self.values.get(index)?).and_then(|num| self.binaries.get(num))
    }

    /// The arguments deserialised as a list: into a tuple (`(String, u32)` for
    /// `emit('e', 'a', 1)`), a `Vec<T>`, or a tuple struct. Binary arguments deserialise as
    /// their placeholders (take a `serde_json::Value` there, and the bytes with
    /// [`binary_at`](Self::binary_at)).
    ///
    /// The error is the one [`Data<T>`](crate::Data) fails with,
    /// [`Rejection::InvalidBody`](crate::Rejection::InvalidBody) (`Invalid message body: ..`),
    /// so that `?` in a handler reaches the client as a clear `exception`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, crate::Rejection> {
        let list = serde::de::value::SeqDeserializer::<_, serde_json::Error>::new(
            self.values.iter().map(ValueRef),
        );
        T::deserialize(list).map_err(|e| crate::Rejection::invalid_body(&e))
    }
}

/// A `&Value` as an element of [`Args::decode`]'s list.
struct ValueRef<'a>(&'a Value);

impl<'de> serde::de::IntoDeserializer<'de, serde_json::Error> for ValueRef<'de> {
    type Deserializer = &'de Value;

    fn into_deserializer(self) -> Self::Deserializer {
        self.0
    }
}

impl Serialize for Args {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.values.len())?;
        for value in &self.values {
            tuple.serialize_element(&WithBinaries(value, &self.binaries))?;
        }
        tuple.end()
    }
}

/// A value whose placeholders serialise as the bytes they stand for.
struct WithBinaries<'a>(&'a Value, &'a [Bytes]);

impl Serialize for WithBinaries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Self(value, binaries) = *self;
        if let Some(bytes) = placeholder(value).and_then(|num| binaries.get(num)) {
            return serializer.serialize_bytes(bytes);
        }
        match value {
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&WithBinaries(item, binaries))?;
                }
                seq.end()
            }
            Value::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, item) in fields {
                    map.serialize_entry(key, &WithBinaries(item, binaries))?;
                }
                map.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// The attachment index of a placeholder, `{"_placeholder": true, "num": N}` and nothing else.
fn placeholder(value: &Value) -> Option<usize> {
    let fields = value.as_object()?;
    if fields.len() != 2 || fields.get("_placeholder")? != &Value::Bool(true) {
        return None;
    }
    usize::try_from(fields.get("num")?.as_u64()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_recognised_only_as_the_protocol_writes_them() {
        assert_eq!(
            placeholder(&json!({"_placeholder": true, "num": 1})),
            Some(1)
        );
        assert_eq!(placeholder(&json!({"_placeholder": false, "num": 1})), None);
        assert_eq!(
            placeholder(&json!({"_placeholder": true, "num": 1, "x": 0})),
            None
        );
        assert_eq!(placeholder(&json!({"_placeholder": true, "num": -1})), None);
        assert_eq!(placeholder(&json!("text")), None);
    }

    #[test]
    fn without_binaries_the_arguments_serialise_as_a_json_list() {
        let args = Args::new().arg(1).arg(json!({"3": [true]}));
        assert_eq!(
            serde_json::to_value(&args).unwrap(),
            json!([1, {"3": [true]}])
        );
        assert_eq!(serde_json::to_value(Args::new()).unwrap(), json!([]));
    }

    #[test]
    fn placeholders_serialise_as_their_bytes_wherever_they_are() {
        let args = Args::new()
            .binary(vec![1u8, 2])
            .arg(json!({"nested": [{"_placeholder": true, "num": 1}]}))
            .arg(json!({"_placeholder": true, "num": 7}))
            .attachment(vec![3u8]);
        assert_eq!(
            serde_json::to_value(&args).unwrap(),
            json!([[1, 2], {"nested": [[3]]}, {"_placeholder": true, "num": 7}])
        );
    }

    #[test]
    fn binary_at_reads_a_binary_argument_and_nothing_else() {
        let args = Args::new()
            .arg("name")
            .binary(vec![1u8])
            .arg(json!({"_placeholder": true, "num": 5}));
        assert_eq!(args.binary_at(1), Some(&Bytes::from_static(&[1])));
        assert_eq!(args.binary_at(0), None);
        assert_eq!(args.binary_at(2), None, "no attachment 5");
        assert_eq!(args.binary_at(3), None);
        assert_eq!((args.len(), args.is_empty()), (3, false));
        assert_eq!(args.data(), "name");
        assert_eq!(Args::new().data(), &Value::Null);
    }

    #[test]
    fn decode_reads_the_list_into_a_tuple_or_says_what_is_wrong() {
        let args = Args::new().arg("a").arg(1).binary(vec![0u8]);
        let (text, n, file): (String, u32, Value) = args.decode().unwrap();
        assert_eq!((text.as_str(), n), ("a", 1));
        assert_eq!(file["_placeholder"], true);
        assert_eq!(args.decode::<Vec<Value>>().unwrap().len(), 3);

        let wrong = args.decode::<(String, String, Value)>().unwrap_err();
        assert_eq!(
            wrong.to_string(),
            "Invalid message body: invalid type: integer `1`, expected a string"
        );
        let short = Args::new().arg("a").decode::<(String, u32)>().unwrap_err();
        assert!(
            short
                .to_string()
                .starts_with("Invalid message body: invalid length 1")
        );
        let long = args.decode::<(String,)>().unwrap_err();
        assert!(
            long.to_string()
                .starts_with("Invalid message body: invalid length 3")
        );
    }
}
