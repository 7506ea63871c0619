//! [`Str`]: valid UTF-8 held in shared [`Bytes`].
//!
//! Incoming text packets are slices of the buffer they arrived in (a POST body
//! or a websocket message), so handing one to the layer above costs a
//! reference count, not a copy.

use std::fmt;
use std::ops::{Deref, Range};

use bytes::Bytes;
use bytestring::ByteString;

/// Valid UTF-8 held in shared, reference-counted [`Bytes`].
///
/// Cloning and [`Str::slice`] never copy. A slice keeps the whole buffer it was
/// cut from alive, like any `Bytes` slice: copy it (`String::from(&*s)`) to
/// keep a small part of a large message for long.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Str(ByteString);

impl Str {
    /// Validates `bytes` as UTF-8 without copying them.
    pub fn from_utf8(bytes: Bytes) -> Result<Str, std::str::Utf8Error> {
        ByteString::try_from(bytes).map(Str)
    }

    /// A zero-copy sub-string; panics when a bound is not on a char boundary,
    /// like `&str[range]`.
    pub fn slice(&self, range: Range<usize>) -> Str {
        let sub: &str = &self.0[range];
        Str(self.0.slice_ref(sub))
    }

    /// The shared bytes behind this string (no copy).
    pub fn as_bytes_shared(&self) -> Bytes {
        self.0.as_bytes().clone()
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        Str(ByteString::from(s))
    }
}

impl From<&'static str> for Str {
    fn from(s: &'static str) -> Str {
        Str(ByteString::from_static(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_shares_the_buffer() {
        let s = Str::from(String::from("4héllo"));
        let tail = s.slice(1..s.len());
        assert_eq!(&*tail, "héllo");
        assert_eq!(
            tail.as_bytes_shared().as_ptr(),
            s.as_bytes_shared()[1..].as_ptr()
        );
    }

    #[test]
    #[should_panic]
    fn slice_off_char_boundary_panics() {
        let s = Str::from("é");
        let _ = s.slice(1..2);
    }

    #[test]
    fn rejects_invalid_utf8() {
        assert!(Str::from_utf8(Bytes::from_static(&[0xff, 0x41])).is_err());
    }
}
