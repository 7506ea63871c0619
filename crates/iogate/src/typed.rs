//! Typed events: what each namespace's clients send and receive, declared on its gateways with
//! the Rust types of the data ([`Gateway::accepts`](crate::Gateway::accepts),
//! [`accepts_with_ack`](crate::Gateway::accepts_with_ack),
//! [`emits`](crate::Gateway::emits)), and what is made of it:
//!
//! - [`Contract::typescript`]: per namespace, the TypeScript interfaces socket.io-client's
//!   typed `Socket<ServerToClientEvents, ClientToServerEvents>` takes, with the data's types;
//! - [`Contract::asyncapi`]: an AsyncAPI 3.0 document of every namespace, event and payload.
//!
//! The types derive two well-kept crates' traits: `ts_rs::TS` writes their TypeScript, and
//! `schemars::JsonSchema` their JSON Schema; both read the types' serde attributes, so what is
//! generated follows what goes on the wire.
//!
//! ```
//! use iogate::Gateway;
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//! use ts_rs::TS;
//!
//! #[derive(Deserialize, JsonSchema, TS)]
//! struct RoomMessage { room: String, message: String }
//!
//! #[derive(Serialize, JsonSchema, TS)]
//! #[serde(rename_all = "camelCase")]
//! struct Said { user_id: String, message: String }
//!
//! let gateway = Gateway::new("/chat")
//!     .accepts::<RoomMessage>("messageToRoom")
//!     .accepts_with_ack::<String, bool>("joinRoom")
//!     .emits::<Said>("message");
//! let files = iogate::App::new().gateway(gateway).contract().typescript();
//! assert!(files["chat.ts"].contains("messageToRoom: (data: RoomMessage) => void;"));
//! ```

use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};
use ts_rs::{TS, TypeVisitor};

/// A type an event's data or acknowledgement may have: one with a JSON Schema and a TypeScript
/// type (derive `schemars::JsonSchema` and `ts_rs::TS`).
pub trait EventType: JsonSchema + TS + 'static {}

impl<T: JsonSchema + TS + 'static> EventType for T {}

/// One event of a namespace, as a gateway declared it.
#[derive(Clone)]
pub(crate) struct Declared {
    pub(crate) event: String,
    /// Sent by clients (`true`) or by the server.
    pub(crate) from_client: bool,
    pub(crate) data: Desc,
    pub(crate) ack: Option<Desc>,
}

impl Declared {
    pub(crate) fn new<T: EventType>(event: String, from_client: bool, ack: Option<Desc>) -> Self {
        Self {
            event,
            from_client,
            data: Desc::of::<T>(),
            ack,
        }
    }
}

/// How to describe a type: functions of it, called when something is generated.
#[derive(Clone, Copy)]
pub(crate) struct Desc {
    /// No data at all (`()`): the event takes no argument.
    none: bool,
    typescript: fn(&mut Declarations) -> String,
    schema: fn(&mut SchemaGenerator) -> Schema,
}

impl Desc {
    pub(crate) fn of<T: EventType>() -> Self {
        Self {
            none: TypeId::of::<T>() == TypeId::of::<()>(),
            typescript: typescript_of::<T>,
            schema: |generator| generator.subschema_for::<T>(),
        }
    }
}

/// The TypeScript of `T` where it is used: its name when it is declared on its own (a struct
/// or enum), the type itself otherwise (`string`, `Array<Foo>`); the declarations it needs go
/// to `decls`.
fn typescript_of<T: TS + 'static>(decls: &mut Declarations) -> String {
    if declared::<T>() {
        decls.visit::<T>();
        T::name()
    } else {
        T::visit_dependencies(decls);
        T::inline()
    }
}

/// Whether ts-rs declares `T` on its own (derived types), rather than writing it inline.
fn declared<T: TS + ?Sized>() -> bool {
    T::output_path().is_some()
}

/// The TypeScript declarations one file needs, each once, in the order first met.
#[derive(Default)]
pub(crate) struct Declarations {
    seen: HashSet<TypeId>,
    /// The names declared: several Rust types may be one TypeScript type (`JsonValue`).
    names: HashSet<String>,
    out: Vec<String>,
}

impl TypeVisitor for Declarations {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if !declared::<T>()
            || !self.seen.insert(TypeId::of::<T>())
            || !self.names.insert(T::ident())
        {
            return;
        }
        T::visit_dependencies(self);
        self.out.push(format!("export {}", T::decl()));
    }
}

/// Every namespace's declared events.
#[derive(Clone, Default)]
pub struct Contract {
    pub(crate) namespaces: BTreeMap<String, Vec<Declared>>,
}

impl Contract {
    pub(crate) fn add(&mut self, namespace: &str, declared: Vec<Declared>) {
        let events = self.namespaces.entry(namespace.to_owned()).or_default();
        for d in declared {
            // A later declaration of the same event and direction replaces an earlier one.
            events.retain(|e| !(e.event == d.event && e.from_client == d.from_client));
            events.push(d);
        }
    }

    /// Whether no event is declared.
    pub fn is_empty(&self) -> bool {
        self.namespaces.values().all(Vec::is_empty)
    }

    /// One TypeScript file per namespace that declares events, by file name (`root.ts` for
    /// `/`, `chat.ts` for `/chat`): its data types, and `ServerToClientEvents` and
    /// `ClientToServerEvents` for `Socket<ServerToClientEvents, ClientToServerEvents>`.
    pub fn typescript(&self) -> BTreeMap<String, String> {
        self.namespaces
            .iter()
            .filter(|(_, events)| !events.is_empty())
            .map(|(ns, events)| (format!("{}.ts", slug(ns)), file(ns, events)))
            .collect()
    }

    /// An AsyncAPI 3.0 document: a channel per namespace, a message and an operation per
    /// event (`receive` for what clients send, `send` for what the server emits; an
    /// acknowledgement is the operation's reply), and the payloads' JSON Schemas. A channel's
    /// messages are keyed `in.<event>` (from clients), `out.<event>` (to them) and
    /// `ack.<event>` (an acknowledgement's answer).
    pub fn asyncapi(&self, title: &str, version: &str) -> Value {
        let mut generator = SchemaSettings::draft07()
            .with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.meta_schema = None;
            })
            .into_generator();
        let (mut channels, mut operations, mut messages) = (Map::new(), Map::new(), Map::new());
        for (ns, events) in &self.namespaces {
            let id = slug(ns);
            let mut channel_messages = Map::new();
            for e in events {
                let mut message = |key: String, name: &str, desc: &Desc| {
                    let message_id = format!("{id}.{key}");
                    messages.insert(
                        message_id.clone(),
                        json!({"name": name, "payload": payload((desc.schema)(&mut generator))}),
                    );
                    channel_messages.insert(
                        key.clone(),
                        json!({"$ref": format!("#/components/messages/{}", pointer(&message_id))}),
                    );
                    json!({"$ref": format!("#/channels/{id}/messages/{}", pointer(&key))})
                };
                // An event may go both ways under one name (`message`): keys by direction.
                let way = if e.from_client { "in" } else { "out" };
                let data = message(format!("{way}.{}", e.event), &e.event, &e.data);
                let reply = e
                    .ack
                    .as_ref()
                    .map(|ack| message(format!("ack.{}", e.event), &e.event, ack));
                let action = if e.from_client { "receive" } else { "send" };
                let mut op = json!({
                    "action": action,
                    "channel": {"$ref": format!("#/channels/{id}")},
                    "messages": [data],
                });
                if let Some(reply) = reply {
                    op["reply"] = json!({
                        "channel": {"$ref": format!("#/channels/{id}")},
                        "messages": [reply],
                    });
                }
                operations.insert(format!("{id}.{action}.{}", e.event), op);
            }
            channels.insert(
                id.clone(),
                json!({"address": ns, "messages": channel_messages}),
            );
        }
        let schemas = generator.take_definitions(true);
        json!({
            "asyncapi": "3.0.0",
            "info": {"title": title, "version": version},
            "defaultContentType": "application/json",
            "channels": channels,
            "operations": operations,
            "components": {"messages": messages, "schemas": schemas},
        })
    }
}

/// A schema as an AsyncAPI payload, which must be an object: any value (`true`, as schemars
/// writes `serde_json::Value`) is `{}`.
fn payload(schema: Schema) -> Value {
    match schema.as_bool() {
        Some(true) => json!({}),
        Some(false) => json!({"not": {}}),
        None => schema.to_value(),
    }
}

/// A namespace's name in file names and AsyncAPI ids: `root` for `/`, `chat` for `/chat`,
/// `a-b` for `/a/b`.
fn slug(ns: &str) -> String {
    let name = ns.trim_matches('/').replace('/', "-");
    if name.is_empty() {
        "root".to_owned()
    } else {
        name
    }
}

/// `key` as one token of a JSON pointer.
fn pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The TypeScript file of namespace `ns`.
fn file(ns: &str, events: &[Declared]) -> String {
    let mut decls = Declarations::default();
    let mut side = |from_client: bool| {
        let mut out = String::new();
        for e in events.iter().filter(|e| e.from_client == from_client) {
            let mut params = Vec::new();
            if !e.data.none {
                params.push(format!("data: {}", (e.data.typescript)(&mut decls)));
            }
            if let Some(ack) = &e.ack {
                let response = if ack.none {
                    String::new()
                } else {
                    format!("response: {}", (ack.typescript)(&mut decls))
                };
                params.push(format!("ack: ({response}) => void"));
            }
            out.push_str(&format!(
                "  {}: ({}) => void;\n",
                ts_key(&e.event),
                params.join(", ")
            ));
        }
        out
    };
    let to_client = side(false);
    let from_client = side(true);
    let mut text = format!(
        "// The events of the namespace {ns:?}, generated by iogate from its gateways: do not edit.\n\
         // import type {{ ServerToClientEvents, ClientToServerEvents }} from \"./{}\";\n\
         // const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url + {ns:?});\n\n",
        slug(ns)
    );
    for decl in decls.out {
        text.push_str(&decl);
        text.push_str("\n\n");
    }
    text.push_str("export interface ServerToClientEvents {\n");
    text.push_str(&to_client);
    text.push_str("}\n\nexport interface ClientToServerEvents {\n");
    text.push_str(&from_client);
    text.push_str("}\n");
    text
}

/// An event name as a TypeScript property key: as it is when it is an identifier, quoted
/// otherwise.
fn ts_key(event: &str) -> String {
    let ident = event.chars().enumerate().all(|(i, c)| {
        c == '_' || c == '$' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
    });
    if ident && !event.is_empty() {
        event.to_owned()
    } else {
        serde_json::to_string(event).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{App, Gateway};

    #[derive(serde::Serialize, serde::Deserialize, JsonSchema, TS)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[derive(serde::Serialize, JsonSchema, TS)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Outer {
        user_id: String,
        inner: Vec<Inner>,
        note: Option<serde_json::Value>,
    }

    fn contract() -> Contract {
        let gateway = Gateway::new("/game")
            .accepts::<Inner>("move")
            .accepts_with_ack::<String, Outer>("join:room")
            .accepts_with_ack::<(), ()>("ping")
            .emits::<Outer>("state");
        App::new().gateway(gateway).contract()
    }

    #[test]
    fn typescript_has_each_event_and_each_type_once() {
        let files = contract().typescript();
        let game = &files["game.ts"];
        assert!(game.contains("  move: (data: Inner) => void;\n"), "{game}");
        assert!(
            game.contains(
                "  \"join:room\": (data: string, ack: (response: Outer) => void) => void;"
            ),
            "{game}"
        );
        assert!(
            game.contains("  ping: (ack: () => void) => void;"),
            "{game}"
        );
        assert!(game.contains("  state: (data: Outer) => void;"), "{game}");
        assert_eq!(game.matches("export type Inner =").count(), 1, "{game}");
        assert!(game.contains("export type Outer = { userId: string, inner: Array<Inner>, note: JsonValue | null, };"), "{game}");
        assert_eq!(game.matches("export type JsonValue =").count(), 1, "{game}");
        // Declared before use.
        assert!(game.find("export type Inner").unwrap() < game.find("export type Outer").unwrap());
    }

    #[test]
    fn asyncapi_links_channels_operations_messages_and_schemas() {
        let doc = contract().asyncapi("game", "1.0.0");
        assert_eq!(doc["asyncapi"], "3.0.0");
        assert_eq!(doc["channels"]["game"]["address"], "/game");
        let op = &doc["operations"]["game.receive.join:room"];
        assert_eq!(op["action"], "receive");
        assert_eq!(
            op["messages"][0]["$ref"],
            "#/channels/game/messages/in.join:room"
        );
        assert_eq!(
            op["reply"]["messages"][0]["$ref"],
            "#/channels/game/messages/ack.join:room"
        );
        assert_eq!(doc["operations"]["game.send.state"]["action"], "send");
        let payload = &doc["components"]["messages"]["game.out.state"]["payload"];
        assert_eq!(payload["$ref"], "#/components/schemas/Outer");
        assert!(doc["components"]["schemas"]["Inner"].is_object());
    }
}
