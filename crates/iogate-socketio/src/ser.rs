//! Event data to JSON text, the way socket.io sends it.
//!
//! Two conventions sit on top of plain JSON: a tuple or fixed-size array at the top is several
//! arguments (the empty tuple none), anything else (a `Vec`, `()`, `null`) one; and bytes (`bytes::Bytes`, anything serialised with
//! `serialize_bytes`), at any depth, become binary attachments, replaced in the text by the
//! placeholder `{"_placeholder":true,"num":<index>}`. Both are applied while serde_json writes
//! straight into the packet's buffer: no intermediate value tree.

use std::cell::RefCell;

use bytes::Bytes;
use serde::ser::{self, Serialize, Serializer};

/// The arguments array `["event", ...args]` (or `[...args]` with no event) of `data`, and its
/// attachments.
pub fn args<T: Serialize + ?Sized>(
    event: Option<&str>,
    data: &T,
) -> Result<(String, Vec<Bytes>), serde_json::Error> {
    let mut out = Vec::with_capacity(64);
    out.push(b'[');
    if let Some(event) = event {
        serde_json::to_writer(&mut out, event)?;
    }
    let bins = RefCell::new(Vec::new());
    match data.serialize(Shape) {
        Ok(Top::Tuple) => {
            if event.is_some() {
                out.push(b',');
            }
            let start = out.len();
            serde_json::to_writer(&mut out, &Bin(data, &bins))?;
            // `[a,b]` spliced in as `a,b`; `[]` as nothing.
            out.truncate(out.len() - 1);
            out.remove(start);
            if out.len() == start && event.is_some() {
                out.pop();
            }
        }
        Ok(Top::One) | Err(_) => {
            if event.is_some() {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, &Bin(data, &bins))?;
        }
    }
    out.push(b']');
    // serde_json writes UTF-8 only.
    let text = String::from_utf8(out).map_err(ser::Error::custom)?;
    Ok((text, bins.into_inner()))
}

/// What a value is at the top: several arguments, or one.
enum Top {
    Tuple,
    One,
}

/// Finds [`Top`] without serialising the value: every method answers at once.
struct Shape;

#[derive(Debug)]
struct ShapeError;
impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("shape")
    }
}
impl std::error::Error for ShapeError {}
impl ser::Error for ShapeError {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        ShapeError
    }
}

/// Absorbs a tuple's elements without looking at them.
struct Skip;
impl ser::SerializeTuple for Skip {
    type Ok = Top;
    type Error = ShapeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), ShapeError> {
        Ok(())
    }
    fn end(self) -> Result<Top, ShapeError> {
        Ok(Top::Tuple)
    }
}

macro_rules! one {
    ($($name:ident($($arg:ty),*);)*) => {
        $(fn $name(self, $(_: $arg),*) -> Result<Top, ShapeError> { Ok(Top::One) })*
    };
}

impl Serializer for Shape {
    type Ok = Top;
    type Error = ShapeError;
    type SerializeSeq = ser::Impossible<Top, ShapeError>;
    type SerializeTuple = Skip;
    type SerializeTupleStruct = ser::Impossible<Top, ShapeError>;
    type SerializeTupleVariant = ser::Impossible<Top, ShapeError>;
    type SerializeMap = ser::Impossible<Top, ShapeError>;
    type SerializeStruct = ser::Impossible<Top, ShapeError>;
    type SerializeStructVariant = ser::Impossible<Top, ShapeError>;

    one! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32);
        serialize_i64(i64); serialize_i128(i128); serialize_u8(u8); serialize_u16(u16);
        serialize_u32(u32); serialize_u64(u64); serialize_u128(u128); serialize_f32(f32);
        serialize_f64(f64); serialize_char(char); serialize_str(&str); serialize_bytes(&[u8]);
        serialize_none(); serialize_unit(); serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Top, ShapeError> {
        Ok(Top::One)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Top, ShapeError> {
        // A newtype is what it wraps (`Json(tuple)` is still several arguments).
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Top, ShapeError> {
        Ok(Top::One)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, ShapeError> {
        Err(ShapeError)
    }
    fn serialize_tuple(self, _: usize) -> Result<Skip, ShapeError> {
        Ok(Skip)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, ShapeError> {
        Err(ShapeError)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, ShapeError> {
        Err(ShapeError)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, ShapeError> {
        Err(ShapeError)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, ShapeError> {
        Err(ShapeError)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, ShapeError> {
        Err(ShapeError)
    }
}

/// A value whose bytes, at any depth, go to `bins` as attachments.
struct Bin<'a, T: ?Sized>(&'a T, &'a RefCell<Vec<Bytes>>);

impl<T: Serialize + ?Sized> Serialize for Bin<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Catch(s, self.1))
    }
}

/// A serializer that hands everything to `S`, but bytes, which it turns into placeholders.
struct Catch<'a, S>(S, &'a RefCell<Vec<Bytes>>);

/// A compound value of `S` whose elements are wrapped in [`Bin`] in turn.
struct Each<'a, C>(C, &'a RefCell<Vec<Bytes>>);

macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $name(self, $($arg: $ty),*) -> Result<S::Ok, S::Error> { self.0.$name($($arg),*) })*
    };
}

impl<'a, S: Serializer> Serializer for Catch<'a, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Each<'a, S::SerializeSeq>;
    type SerializeTuple = Each<'a, S::SerializeTuple>;
    type SerializeTupleStruct = Each<'a, S::SerializeTupleStruct>;
    type SerializeTupleVariant = Each<'a, S::SerializeTupleVariant>;
    type SerializeMap = Each<'a, S::SerializeMap>;
    type SerializeStruct = Each<'a, S::SerializeStruct>;
    type SerializeStructVariant = Each<'a, S::SerializeStructVariant>;

    forward! {
        serialize_bool(v: bool); serialize_i8(v: i8); serialize_i16(v: i16); serialize_i32(v: i32);
        serialize_i64(v: i64); serialize_i128(v: i128); serialize_u8(v: u8); serialize_u16(v: u16);
        serialize_u32(v: u32); serialize_u64(v: u64); serialize_u128(v: u128); serialize_f32(v: f32);
        serialize_f64(v: f64); serialize_char(v: char); serialize_str(v: &str);
        serialize_none(); serialize_unit(); serialize_unit_struct(n: &'static str);
        serialize_unit_variant(n: &'static str, i: u32, v: &'static str);
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<S::Ok, S::Error> {
        let num = {
            let mut bins = self.1.borrow_mut();
            bins.push(Bytes::copy_from_slice(v));
            bins.len() - 1
        };
        Placeholder(num).serialize(self.0)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Bin(v, self.1))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        n: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(n, &Bin(v, self.1))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        n: &'static str,
        i: u32,
        var: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_variant(n, i, var, &Bin(v, self.1))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        Ok(Each(self.0.serialize_seq(len)?, self.1))
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        Ok(Each(self.0.serialize_tuple(len)?, self.1))
    }
    fn serialize_tuple_struct(
        self,
        n: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        Ok(Each(self.0.serialize_tuple_struct(n, len)?, self.1))
    }
    fn serialize_tuple_variant(
        self,
        n: &'static str,
        i: u32,
        v: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        Ok(Each(self.0.serialize_tuple_variant(n, i, v, len)?, self.1))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        Ok(Each(self.0.serialize_map(len)?, self.1))
    }
    fn serialize_struct(
        self,
        n: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        Ok(Each(self.0.serialize_struct(n, len)?, self.1))
    }
    fn serialize_struct_variant(
        self,
        n: &'static str,
        i: u32,
        v: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Ok(Each(self.0.serialize_struct_variant(n, i, v, len)?, self.1))
    }
}

/// `{"_placeholder":true,"num":n}`.
struct Placeholder(usize);

impl Serialize for Placeholder {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::SerializeStruct as _;
        let mut st = s.serialize_struct("Placeholder", 2)?;
        st.serialize_field("_placeholder", &true)?;
        st.serialize_field("num", &self.0)?;
        st.end()
    }
}

macro_rules! each {
    ($trait:ident, field) => {
        impl<C: ser::$trait> ser::$trait for Each<'_, C> {
            type Ok = C::Ok;
            type Error = C::Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                k: &'static str,
                v: &T,
            ) -> Result<(), C::Error> {
                self.0.serialize_field(k, &Bin(v, self.1))
            }
            fn end(self) -> Result<C::Ok, C::Error> {
                self.0.end()
            }
        }
    };
    ($trait:ident, $method:ident) => {
        impl<C: ser::$trait> ser::$trait for Each<'_, C> {
            type Ok = C::Ok;
            type Error = C::Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), C::Error> {
                self.0.$method(&Bin(v, self.1))
            }
            fn end(self) -> Result<C::Ok, C::Error> {
                self.0.end()
            }
        }
    };
}

each!(SerializeSeq, serialize_element);
each!(SerializeTuple, serialize_element);
each!(SerializeTupleStruct, serialize_field);
each!(SerializeTupleVariant, serialize_field);
each!(SerializeStruct, field);
each!(SerializeStructVariant, field);

impl<C: ser::SerializeMap> ser::SerializeMap for Each<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), C::Error> {
        self.0.serialize_key(k)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), C::Error> {
        self.0.serialize_value(&Bin(v, self.1))
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.0.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text<T: Serialize + ?Sized>(event: Option<&str>, v: &T) -> (String, usize) {
        let (t, b) = args(event, v).unwrap();
        (t, b.len())
    }

    #[test]
    fn one_value_is_one_argument() {
        assert_eq!(text(Some("e"), &json!({"a": 1})).0, r#"["e",{"a":1}]"#);
        assert_eq!(text(Some("e"), &vec![1, 2]).0, r#"["e",[1,2]]"#);
        assert_eq!(text(Some("e"), "hi").0, r#"["e","hi"]"#);
        assert_eq!(text(None, &5).0, "[5]");
    }

    /// No argument: an empty tuple.
    struct Args0;
    impl Serialize for Args0 {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use ser::SerializeTuple as _;
            s.serialize_tuple(0)?.end()
        }
    }

    #[test]
    fn a_tuple_is_several_and_unit_one() {
        assert_eq!(text(Some("e"), &(1, "b")).0, r#"["e",1,"b"]"#);
        assert_eq!(text(Some("e"), &()).0, r#"["e",null]"#);
        assert_eq!(text(Some("e"), &serde_json::Value::Null).0, r#"["e",null]"#);
        assert_eq!(text(Some("e"), &Args0).0, r#"["e"]"#);
        assert_eq!(text(None, &Args0).0, "[]");
        assert_eq!(text(None, &(1, 2)).0, "[1,2]");
        // Fixed-size arrays serialise as tuples, and spread too (as socketioxide's); a `Vec`
        // is one argument.
        assert_eq!(text(Some("e"), &[1, 2]).0, r#"["e",1,2]"#);
        assert_eq!(text(Some("e"), &Vec::<u8>::new()).0, r#"["e",[]]"#);
    }

    #[test]
    fn bytes_become_attachments_at_any_depth() {
        let b = Bytes::from_static(b"\x01\x02");
        let (t, n) = text(Some("up"), &(1, &b, json!({"k": null})));
        assert_eq!(t, r#"["up",1,{"_placeholder":true,"num":0},{"k":null}]"#);
        assert_eq!(n, 1);
        #[derive(serde::Serialize)]
        struct File {
            name: &'static str,
            body: Bytes,
            more: Vec<Bytes>,
        }
        let f = File {
            name: "f",
            body: b.clone(),
            more: vec![b.clone()],
        };
        let (t, n) = text(None, &f);
        assert_eq!(
            t,
            r#"[{"name":"f","body":{"_placeholder":true,"num":0},"more":[{"_placeholder":true,"num":1}]}]"#
        );
        assert_eq!(n, 2);
    }
}
