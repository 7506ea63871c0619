//! The long-polling transport: GET requests that wait for frames and POST
//! requests that carry packets.
//!
//! Buffers: a POST body is read whole (it is one payload of `\x1e`-separated
//! packets) and bounded by [`Config::max_payload`](crate::Config::max_payload);
//! at most one POST per session is read at a time, so a session holds at most
//! one such body (plus the messages the layer above keeps). A GET response is
//! built from the frames taken off the queue, so it is bounded by the queue's
//! own bounds.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::driver;
use crate::errors::{ErrorCode, error_response};
use crate::packet::{self, Frame};
use crate::session::{Session, State, Upgrade};
use crate::shared::Shared;
use crate::str::Str;
use crate::{CloseReason, Handler, TransportKind};

fn text_response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn payload_response(body: Bytes) -> Response<Body> {
    text_response(StatusCode::OK, "text/plain; charset=UTF-8", body)
}

/// Clears `poll_active`/`post_active` however the request ends, including
/// when hyper drops it because the client went away.
struct Active<'a, D> {
    session: &'a Session<D>,
    post: bool,
}

impl<D> Drop for Active<'_, D> {
    fn drop(&mut self) {
        let mut inner = self.session.lock();
        if self.post {
            inner.post_active = false;
        } else {
            inner.poll_active = false;
        }
    }
}

/// Why a request cannot be served by this session.
fn check<D>(session: &Session<D>, post: bool) -> Result<Active<'_, D>, ErrorCode> {
    let mut inner = session.lock();
    if let State::Closed(_) = inner.state {
        return Err(ErrorCode::UnknownSid);
    }
    if inner.state == State::Open && inner.pong_overdue(tokio::time::Instant::now()) {
        // The ping timeout expired; the driver task may just not have run yet.
        drop(inner);
        session.fail(CloseReason::PingTimeout);
        return Err(ErrorCode::UnknownSid);
    }
    if inner.transport != TransportKind::Polling {
        // Upgraded: polling requests with this sid are refused, as Node.
        return Err(ErrorCode::BadRequest);
    }
    let busy = if post {
        &mut inner.post_active
    } else {
        &mut inner.poll_active
    };
    if *busy {
        // Overlapping requests break the protocol: Node closes the session.
        drop(inner);
        tracing::debug!(post, "overlapping polling request, closing the session");
        session.fail(CloseReason::TransportError);
        return Err(ErrorCode::BadRequest);
    }
    *busy = true;
    drop(inner);
    Ok(Active { session, post })
}

/// A GET: answers at once with the queued frames, or waits for some.
pub(crate) async fn get<D>(session: &Session<D>) -> Response<Body> {
    let _active = match check(session, false) {
        Ok(active) => active,
        Err(code) => return error_response(code),
    };
    loop {
        let notified = session.writer.notified();
        {
            let mut inner = session.lock();
            match inner.state {
                State::Closed(reason) => {
                    // As Node: a client CLOSE ends the waiting poll with NOOP,
                    // any other end of the session with CLOSE.
                    let body = if reason == CloseReason::TransportClose {
                        "6"
                    } else {
                        "1"
                    };
                    return payload_response(Bytes::from_static(body.as_bytes()));
                }
                State::Closing(reason) => {
                    let mut frames = inner.take_queue();
                    frames.push_back(Frame::Text(Str::from("1")));
                    inner.set_closed(reason);
                    drop(inner);
                    session.control.notify_one();
                    session.count_out(frames.iter().map(Frame::len).sum(), frames.len());
                    return payload_response(packet::encode_payload(&frames));
                }
                State::Open => {}
            }
            if inner.transport != TransportKind::Polling {
                drop(inner);
                // The wake-up was for the websocket task too: pass it on.
                session.writer.notify_one();
                return payload_response(Bytes::from_static(b"6"));
            }
            if !inner.queue.is_empty() {
                let frames = inner.take_queue();
                drop(inner);
                session.count_out(frames.iter().map(Frame::len).sum(), frames.len());
                return payload_response(packet::encode_payload(&frames));
            }
            if inner.upgrade == Upgrade::Probed {
                return payload_response(Bytes::from_static(b"6"));
            }
        }
        notified.await;
    }
}

/// A POST: reads the body (bounded), hands its packets over, answers `ok`.
pub(crate) async fn post<H: Handler>(
    shared: &Shared<H>,
    session: &Arc<Session<H::Data>>,
    body: Body,
    content_length: Option<usize>,
) -> Response<Body> {
    let _active = match check(session, true) {
        Ok(active) => active,
        Err(code) => return error_response(code),
    };
    let max = shared.config.max_payload;
    let too_large = || {
        // As Node: 413; and the session closes.
        session.fail(CloseReason::TransportError);
        text_response(StatusCode::PAYLOAD_TOO_LARGE, "text/html", Bytes::new())
    };
    if content_length.is_some_and(|len| len > max) {
        return too_large();
    }
    let body = match Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return too_large(),
        Err(_) => {
            session.fail(CloseReason::TransportError);
            return error_response(ErrorCode::BadRequest);
        }
    };
    session.count_in(body.len(), 0);
    let packets = match packet::decode_payload(body) {
        Ok(packets) => packets,
        Err(_) => {
            session.fail(CloseReason::ParseError);
            return error_response(ErrorCode::BadRequest);
        }
    };
    session.count_in(0, packets.len());
    let mut input = driver::InputTurn::default();
    for p in packets {
        let len = p.len();
        if let Err(reason) = driver::receive(shared, session, p) {
            session.fail(reason);
            break;
        }
        input.spend(len).await;
    }
    text_response(StatusCode::OK, "text/html", Bytes::from_static(b"ok"))
}
