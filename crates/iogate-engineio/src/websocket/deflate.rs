//! permessage-deflate (RFC 7692): the negotiation of `Sec-WebSocket-Extensions`
//! and the compression of one message. No I/O.
//!
//! A connection keeps a compressor or decompressor only when context takeover
//! was agreed in that direction; otherwise each message borrows one from a
//! per-thread pool and resets it before giving it back. Compressing a message
//! never awaits, so a borrowed state never crosses threads or tasks.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use http::{HeaderMap, HeaderValue, header};

use crate::config::Deflate;

/// The extension's registered name.
const NAME: &str = "permessage-deflate";

/// The end of a sync flush: the sender strips it, the receiver puts it back (RFC 7692 §7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// The smallest window zlib compresses with: it turns a raw-deflate window of
/// 2^8 into 2^9, which would break a client's `server_max_window_bits=8`.
const MIN_WINDOW_BITS: u8 = 9;

/// What the server agreed with one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Agreed {
    /// Messages shorter than this go out uncompressed.
    threshold: usize,
    /// zlib level.
    level: u32,
    /// The server resets its compressor after each message.
    server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    client_no_context_takeover: bool,
    /// The window the server compresses with.
    server_window_bits: u8,
    /// The window the server decompresses with.
    client_window_bits: u8,
}

/// The first acceptable permessage-deflate offer in `headers`, with the
/// `Sec-WebSocket-Extensions` value that accepts it; `None` declines them all.
pub(crate) fn negotiate(headers: &HeaderMap, config: &Deflate) -> Option<(Agreed, HeaderValue)> {
    headers
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_top_level(','))
        .filter_map(|offer| accept(offer, config))
        .next()
}

/// Splits at `sep` outside quoted strings.
fn split_top_level(sep: char) -> impl Fn(&str) -> Vec<&str> {
    move |s| {
        let mut parts = Vec::new();
        let (mut start, mut quoted, mut escaped) = (0, false, false);
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == sep && !quoted => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&s[start..]);
        parts
    }
}

/// An RFC 7230 token.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A parameter's value: a token or a quoted string whose content is a token (RFC 6455 §9.1).
fn param_value(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let value = match raw.strip_prefix('"') {
        Some(rest) => {
            let inner = rest.strip_suffix('"')?;
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' { chars.next()? } else { c });
            }
            out
        }
        None => raw.to_owned(),
    };
    is_token(&value).then_some(value)
}

/// Window bits as RFC 7692 writes them: 8 to 15, no leading zero.
fn window_bits(value: &str) -> Option<u8> {
    match value.parse() {
        Ok(bits @ 8..=15) if !value.starts_with('0') => Some(bits),
        _ => None,
    }
}

/// Accepts one offer, or declines it (`None`) when it is another extension,
/// malformed, repeats a parameter, or asks for what the server cannot do.
fn accept(offer: &str, config: &Deflate) -> Option<(Agreed, HeaderValue)> {
    let mut parts = split_top_level(';')(offer).into_iter();
    if !parts.next()?.trim().eq_ignore_ascii_case(NAME) {
        return None;
    }
    let mut seen: Vec<String> = Vec::new();
    let mut server_no_context_takeover = config.server_no_context_takeover;
    let mut client_no_context_takeover = config.client_no_context_takeover;
    let mut server_window_bits = config.server_max_window_bits.clamp(MIN_WINDOW_BITS, 15);
    let mut server_bits_offered = false;
    // `None`: the client did not offer `client_max_window_bits`, so the
    // response must not carry it and the client may use a 2^15 window.
    let mut client_bits_offered: Option<u8> = None;
    for part in parts {
        let (name, value) = match part.split_once('=') {
            Some((name, value)) => (name.trim(), Some(param_value(value)?)),
            None => (part.trim(), None),
        };
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return None;
        }
        match (name.as_str(), value.as_deref()) {
            ("server_no_context_takeover", None) => server_no_context_takeover = true,
            ("client_no_context_takeover", None) => client_no_context_takeover = true,
            ("server_max_window_bits", Some(v)) => {
                server_window_bits = server_window_bits.min(window_bits(v)?);
                if server_window_bits < MIN_WINDOW_BITS {
                    return None;
                }
                server_bits_offered = true;
            }
            ("client_max_window_bits", None) => client_bits_offered = Some(15),
            ("client_max_window_bits", Some(v)) => client_bits_offered = Some(window_bits(v)?),
            _ => return None,
        }
        seen.push(name);
    }
    let client_window_bits = match client_bits_offered {
        Some(offered) => offered.min(config.client_max_window_bits.clamp(MIN_WINDOW_BITS, 15)),
        None => 15,
    };
    let mut response = String::from(NAME);
    if server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    if server_bits_offered {
        response.push_str(&format!("; server_max_window_bits={server_window_bits}"));
    }
    if client_bits_offered.is_some() && client_window_bits < 15 {
        response.push_str(&format!("; client_max_window_bits={client_window_bits}"));
    }
    let agreed = Agreed {
        threshold: config.threshold,
        level: config.level.min(9),
        server_no_context_takeover,
        client_no_context_takeover,
        server_window_bits,
        // A client told 8 may still use 9, as zlib does: decompress with at least 9.
        client_window_bits: client_window_bits.max(MIN_WINDOW_BITS),
    };
    Some((agreed, HeaderValue::from_str(&response).ok()?))
}

/// Why a compressed message could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// It decompresses to more than the limit.
    TooLarge,
    /// It is not valid deflate data.
    Corrupt,
}

thread_local! {
    /// Compressors lent to connections without server context takeover,
    /// keyed by level and window: one per key and thread at most, since a
    /// thread compresses one message at a time.
    static COMPRESSORS: RefCell<Vec<(u32, u8, Compress)>> = const { RefCell::new(Vec::new()) };
    /// Decompressors lent to connections without client context takeover, keyed by window.
    static DECOMPRESSORS: RefCell<Vec<(u8, Decompress)>> = const { RefCell::new(Vec::new()) };
}

/// One connection's compression state.
pub(crate) struct Deflater {
    agreed: Agreed,
    /// Kept between messages only with server context takeover; created on first use.
    compress: Option<Box<Compress>>,
    /// Kept between messages only with client context takeover; created on first use.
    decompress: Option<Box<Decompress>>,
}

impl Deflater {
    /// The state for a connection that agreed on `agreed`: nothing allocated yet.
    pub(crate) fn new(agreed: Agreed) -> Deflater {
        Deflater {
            agreed,
            compress: None,
            decompress: None,
        }
    }

    /// Whether a message of `len` bytes is sent compressed.
    pub(crate) fn compresses(&self, len: usize) -> bool {
        len >= self.agreed.threshold
    }

    /// The compressed payload of one message, without the sync-flush tail.
    pub(crate) fn compress(&mut self, data: &[u8]) -> Vec<u8> {
        let Agreed {
            level,
            server_window_bits: bits,
            ..
        } = self.agreed;
        let new = || Compress::new_with_window_bits(Compression::new(level), false, bits);
        if !self.agreed.server_no_context_takeover {
            let compress = self.compress.get_or_insert_with(|| Box::new(new()));
            return deflate(compress, data);
        }
        let taken = COMPRESSORS.with_borrow_mut(|pool| {
            let at = pool
                .iter()
                .position(|(l, b, _)| (*l, *b) == (level, bits))?;
            Some(pool.swap_remove(at).2)
        });
        let mut compress = taken.unwrap_or_else(new);
        let out = deflate(&mut compress, data);
        compress.reset();
        COMPRESSORS.with_borrow_mut(|pool| pool.push((level, bits, compress)));
        out
    }

    /// The message `data` decompresses to, refused once it passes `max` bytes.
    pub(crate) fn decompress(&mut self, data: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
        let bits = self.agreed.client_window_bits;
        let new = || Decompress::new_with_window_bits(false, bits);
        if !self.agreed.client_no_context_takeover {
            let decompress = self.decompress.get_or_insert_with(|| Box::new(new()));
            let result = inflate(decompress, data, max);
            if result.is_err() {
                // Its window no longer matches the client's: the connection
                // closes, and this state must not be used again.
                self.decompress = None;
            }
            return result;
        }
        let taken = DECOMPRESSORS.with_borrow_mut(|pool| {
            let at = pool.iter().position(|(b, _)| *b == bits)?;
            Some(pool.swap_remove(at).1)
        });
        let mut decompress = taken.unwrap_or_else(new);
        let result = inflate(&mut decompress, data, max);
        decompress.reset(false);
        DECOMPRESSORS.with_borrow_mut(|pool| pool.push((bits, decompress)));
        result
    }
}

/// Compresses `input` with a sync flush and strips the flush's tail.
fn deflate(compress: &mut Compress, mut input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        let before = compress.total_in();
        compress
            .compress_vec(input, &mut out, FlushCompress::Sync)
            .expect("deflate cannot fail on a valid stream");
        input = &input[(compress.total_in() - before) as usize..];
        // A sync flush is complete once it leaves output space unused.
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    if out.is_empty() {
        // zlib writes nothing for an empty message after an earlier flush;
        // RFC 7692 §7.2.3.6 wants the header of an empty stored block.
        out.push(0x00);
    }
    out
}

/// Decompresses one message, its tail put back, growing the output no further than `max + 1`.
fn inflate(decompress: &mut Decompress, data: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::with_capacity((data.len() * 2).max(256).min(max + 1));
    let mut ended = false;
    for mut input in [data, &TAIL[..]] {
        while !ended {
            if out.len() == out.capacity() {
                if out.len() > max {
                    return Err(InflateError::TooLarge);
                }
                let grow = out.len().max(1024).min(max + 1 - out.len());
                out.reserve_exact(grow);
            }
            let (before, produced) = (decompress.total_in(), out.len());
            let status = decompress
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .map_err(|_| InflateError::Corrupt)?;
            let used = (decompress.total_in() - before) as usize;
            input = &input[used..];
            if out.len() > max {
                return Err(InflateError::TooLarge);
            }
            match status {
                // A final block (BFINAL) ends the message; what follows is ignored.
                Status::StreamEnd => ended = true,
                _ if input.is_empty() && out.len() < out.capacity() => break,
                Status::BufError if used == 0 && out.len() == produced => {
                    return Err(InflateError::Corrupt);
                }
                _ => {}
            }
        }
    }
    if ended {
        // The client starts a new stream after a final block.
        decompress.reset(false);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(value: &str, config: &Deflate) -> Option<(Agreed, String)> {
        let mut headers = HeaderMap::new();
        for v in value.split('\n') {
            headers.append(header::SEC_WEBSOCKET_EXTENSIONS, v.parse().unwrap());
        }
        negotiate(&headers, config).map(|(a, v)| (a, v.to_str().unwrap().to_owned()))
    }

    fn response(value: &str) -> Option<String> {
        offer(value, &Deflate::default()).map(|(_, v)| v)
    }

    #[test]
    fn node_ws_and_chromium_offers_are_accepted() {
        // Node's `ws` (socket.io-client in Node) and Chromium, as they send them.
        let node = response("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(
            node,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
        let chromium = response("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(chromium, node);
    }

    #[test]
    fn parameters_with_values_and_quotes() {
        let config = Deflate {
            client_max_window_bits: 10,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            ..Deflate::default()
        };
        let (agreed, value) = offer(
            "permessage-deflate; server_max_window_bits=\"12\"; client_max_window_bits=14",
            &config,
        )
        .unwrap();
        assert_eq!(
            value,
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10"
        );
        assert_eq!(
            (agreed.server_window_bits, agreed.client_window_bits),
            (12, 10)
        );
        assert!(!agreed.server_no_context_takeover && !agreed.client_no_context_takeover);

        // Without the client's permission the server may not shrink its window.
        let (agreed, value) = offer("permessage-deflate", &config).unwrap();
        assert_eq!(value, "permessage-deflate");
        assert_eq!(agreed.client_window_bits, 15);

        // The client's own context-takeover requests are honoured.
        let (agreed, value) = offer(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            &config,
        )
        .unwrap();
        assert!(agreed.server_no_context_takeover && agreed.client_no_context_takeover);
        assert!(value.contains("; server_no_context_takeover; client_no_context_takeover"));
    }

    #[test]
    fn a_bad_offer_is_declined_and_the_next_one_taken() {
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=08",
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; client_max_window_bits=\"1 5\"",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; unknown_param",
            "x-webkit-deflate-frame",
        ] {
            assert_eq!(response(bad), None, "{bad}");
            let fallback = format!("{bad}, permessage-deflate; server_max_window_bits=10");
            let (agreed, _) = offer(&fallback, &Deflate::default()).expect(bad);
            assert_eq!(agreed.server_window_bits, 10, "{bad}");
        }
        // Offers may also come in separate header lines.
        let (agreed, _) = offer(
            "foo; bar=\"a,b\"\npermessage-deflate; server_max_window_bits=11",
            &Deflate::default(),
        )
        .unwrap();
        assert_eq!(agreed.server_window_bits, 11);
        assert_eq!(response(""), None);
        // An unclosed quote leaves the rest of the header unreadable.
        assert_eq!(
            response("permessage-deflate; client_max_window_bits=\"15"),
            None
        );
    }

    fn round_trip(agreed: Agreed, messages: &[Vec<u8>]) {
        let mut server = Deflater::new(agreed);
        let mut client = Deflater::new(agreed);
        for message in messages {
            let compressed = server.compress(message);
            assert!(!compressed.ends_with(&TAIL));
            let back = client.decompress(&compressed, message.len()).unwrap();
            assert_eq!(&back, message);
        }
    }

    fn agreed(takeover: bool) -> Agreed {
        Agreed {
            threshold: 0,
            level: 6,
            server_no_context_takeover: !takeover,
            client_no_context_takeover: !takeover,
            server_window_bits: 15,
            client_window_bits: 15,
        }
    }

    #[test]
    fn messages_round_trip_with_and_without_context_takeover() {
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("{{\"n\":{i}}}").into_bytes())
            .collect();
        let messages = vec![text.clone(), text.clone(), b"x".to_vec(), Vec::new(), text];
        round_trip(agreed(true), &messages);
        round_trip(agreed(false), &messages);
    }

    #[test]
    fn context_takeover_shrinks_a_repeated_message() {
        let message: Vec<u8> = (0..4000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        let mut with = Deflater::new(agreed(true));
        let mut without = Deflater::new(agreed(false));
        let _ = (with.compress(&message), without.compress(&message));
        assert!(with.compress(&message).len() < 100);
        assert!(without.compress(&message).len() > 1000);
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        let bomb = vec![b'a'; 10_000_000];
        let compressed = Deflater::new(agreed(false)).compress(&bomb);
        assert!(compressed.len() < 20_000);
        let mut d = Deflater::new(agreed(false));
        assert_eq!(
            d.decompress(&compressed, 100_000),
            Err(InflateError::TooLarge)
        );
        assert_eq!(
            d.decompress(&compressed, 10_000_000).map(|v| v.len()),
            Ok(10_000_000)
        );
        assert_eq!(
            d.decompress(&[0xff, 0xff, 0xff], 1000),
            Err(InflateError::Corrupt)
        );
    }
}
