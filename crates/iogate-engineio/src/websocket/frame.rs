//! The bytes of one websocket frame (RFC 6455 §5.2): parse a header from a
//! buffer, encode one, unmask a payload. No I/O.

/// A frame's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpCode {
    /// The next fragment of a fragmented message.
    Continuation,
    /// The first (or only) frame of a text message.
    Text,
    /// The first (or only) frame of a binary message.
    Binary,
    /// Close, with an optional code and reason.
    Close,
    /// Ping; answered with a pong carrying the same payload.
    Ping,
    /// Pong.
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong: never fragmented, at most 125 bytes.
    pub(crate) fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// The last frame of its message.
    pub(crate) fin: bool,
    /// RSV1: with permessage-deflate, the message is compressed.
    pub(crate) rsv1: bool,
    /// What the frame carries.
    pub(crate) opcode: OpCode,
    /// The masking key; every frame from a client has one.
    pub(crate) mask: Option<[u8; 4]>,
    /// Payload length.
    pub(crate) len: u64,
    /// Header length: the payload starts at this offset.
    pub(crate) header_len: usize,
}

/// A header that breaks RFC 6455 whatever the extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadFrame {
    /// RSV2 or RSV3 set: no extension negotiated here uses them.
    Reserved,
    /// An opcode RFC 6455 reserves.
    OpCode,
    /// A control frame that is fragmented or longer than 125 bytes.
    Control,
    /// A 64-bit length with its top bit set.
    Length,
}

/// The header at the start of `buf`, `Ok(None)` while it is incomplete.
pub(crate) fn parse_header(buf: &[u8]) -> Result<Option<Header>, BadFrame> {
    let [first, second, ..] = *buf else {
        return Ok(None);
    };
    if first & 0x30 != 0 {
        return Err(BadFrame::Reserved);
    }
    let opcode = OpCode::from_bits(first & 0x0F).ok_or(BadFrame::OpCode)?;
    let fin = first & 0x80 != 0;
    let masked = second & 0x80 != 0;
    let (len, mut at) = match second & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let len = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                if len >> 63 != 0 {
                    return Err(BadFrame::Length);
                }
                (len, 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if opcode.is_control() && (!fin || len > 125) {
        return Err(BadFrame::Control);
    }
    let mask = if masked {
        match buf.get(at..at + 4) {
            Some(b) => {
                at += 4;
                Some(b.try_into().expect("4 bytes"))
            }
            None => return Ok(None),
        }
    } else {
        None
    };
    Ok(Some(Header {
        fin,
        rsv1: first & 0x40 != 0,
        opcode,
        mask,
        len,
        header_len: at,
    }))
}

/// Appends the header of an unmasked (server) frame carrying `len` bytes.
pub(crate) fn encode_header(out: &mut Vec<u8>, opcode: OpCode, rsv1: bool, len: usize) {
    out.push(0x80 | if rsv1 { 0x40 } else { 0 } | opcode.bits());
    match len {
        0..=125 => out.push(len as u8),
        126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// XORs `data` with the masking key, in place.
pub(crate) fn unmask(data: &mut [u8], key: [u8; 4]) {
    // Eight bytes at a time: the key repeats every 4, so twice per word.
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes((&*chunk).try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(opcode: OpCode, rsv1: bool, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        encode_header(&mut out, opcode, rsv1, len);
        out
    }

    #[test]
    fn header_round_trips_every_length_form() {
        for len in [0, 125, 126, 0xFFFF, 0x1_0000, 5_000_000] {
            let bytes = encoded(OpCode::Binary, len % 2 == 0, len);
            let header = parse_header(&bytes).unwrap().unwrap();
            assert_eq!(header.len, len as u64);
            assert_eq!(header.header_len, bytes.len());
            assert_eq!(header.rsv1, len % 2 == 0);
            assert!(header.fin && header.mask.is_none());
            // Every shorter prefix is incomplete, not an error.
            for cut in 0..bytes.len() {
                assert_eq!(parse_header(&bytes[..cut]), Ok(None));
            }
        }
    }

    #[test]
    fn masked_header_needs_its_key() {
        let bytes = [0x81, 0x85, 1, 2, 3];
        assert_eq!(parse_header(&bytes), Ok(None));
        let bytes = [0x81, 0x85, 1, 2, 3, 4];
        let header = parse_header(&bytes).unwrap().unwrap();
        assert_eq!(header.mask, Some([1, 2, 3, 4]));
        assert_eq!(header.header_len, 6);
    }

    #[test]
    fn broken_headers_are_refused() {
        assert_eq!(parse_header(&[0xA1, 0]), Err(BadFrame::Reserved));
        assert_eq!(parse_header(&[0x91, 0]), Err(BadFrame::Reserved));
        assert_eq!(parse_header(&[0x83, 0]), Err(BadFrame::OpCode));
        assert_eq!(parse_header(&[0x0B, 0]), Err(BadFrame::OpCode));
        assert_eq!(parse_header(&[0x09, 0]), Err(BadFrame::Control));
        assert_eq!(parse_header(&[0x89, 126, 0, 126]), Err(BadFrame::Control));
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(parse_header(&huge), Err(BadFrame::Length));
    }

    #[test]
    fn unmask_matches_the_byte_by_byte_definition() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..40 {
            let plain: Vec<u8> = (0..len as u8).collect();
            let mut data = plain.clone();
            unmask(&mut data, key);
            let expected: Vec<u8> = plain
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            assert_eq!(data, expected);
        }
    }
}
