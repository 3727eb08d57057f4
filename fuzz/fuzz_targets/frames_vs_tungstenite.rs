//! Differential fuzzing of the websocket edge: the same client byte stream (what follows the
//! opening handshake) goes to the relay's `FrameReader` and to tungstenite's server-side
//! reader, configured with the same size limit; both must yield the same messages and end the
//! same way. tungstenite is the oracle: `wsframe.rs` replaced it for memory, not for its
//! behaviour. The differences that are on purpose are listed in `deliberate` below and in
//! docs/security.md; any other difference is a crash.
#![no_main]

use std::io::{Cursor, Read, Write};

use futures_util::FutureExt;
use libfuzzer_sys::fuzz_target;
use server::wsframe::{FrameError, FrameReader, Incoming};
use tungstenite::error::{Error, ProtocolError};
use tungstenite::protocol::{Message, Role, WebSocket, WebSocketConfig};

/// The message size limit of both readers, small so the fuzzer reaches it.
const LIMIT: usize = 1_024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong,
    /// A text message: the relay closes at the first (1003), so the comparison stops there.
    Text,
    /// The client's close frame: the connection ends, the comparison stops.
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The stream ended (between frames or inside one).
    Ended,
    /// A text message or a close frame arrived (see `Event`).
    Stopped,
    /// A message or frame over the limit (1009).
    TooBig,
    /// A frame that breaks RFC 6455 (1002).
    Protocol,
    /// tungstenite only: a text message that is not UTF-8, or a close frame whose code or
    /// reason is invalid.
    Invalid,
}

fn relay(bytes: &[u8]) -> (Vec<Event>, End) {
    let mut reader = FrameReader::new(bytes, LIMIT);
    let mut events = Vec::new();
    loop {
        let next = reader
            .next()
            .now_or_never()
            .expect("a byte slice is always ready");
        let event = match next {
            Ok(None) | Err(FrameError::Io(_)) => return (events, End::Ended),
            Err(FrameError::TooBig(_)) => return (events, End::TooBig),
            Err(FrameError::Protocol(_)) => return (events, End::Protocol),
            Ok(Some(Incoming::Binary(data))) => Event::Binary(data.to_vec()),
            Ok(Some(Incoming::Ping(data))) => Event::Ping(data.to_vec()),
            Ok(Some(Incoming::Pong)) => Event::Pong,
            Ok(Some(Incoming::Text)) => Event::Text,
            Ok(Some(Incoming::Close)) => Event::Close,
        };
        let stop = matches!(event, Event::Text | Event::Close);
        events.push(event);
        if stop {
            return (events, End::Stopped);
        }
    }
}

/// The client's bytes to read; what tungstenite writes (pongs) goes nowhere.
struct Client(Cursor<Vec<u8>>);

impl Read for Client {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Client {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn oracle(bytes: &[u8]) -> (Vec<Event>, End) {
    let config = WebSocketConfig::default()
        .max_message_size(Some(LIMIT))
        .max_frame_size(Some(LIMIT));
    let mut ws = WebSocket::from_raw_socket(
        Client(Cursor::new(bytes.to_vec())),
        Role::Server,
        Some(config),
    );
    let mut events = Vec::new();
    loop {
        let event = match ws.read() {
            Ok(Message::Binary(data)) => Event::Binary(data.to_vec()),
            Ok(Message::Ping(data)) => Event::Ping(data.to_vec()),
            Ok(Message::Pong(_)) => Event::Pong,
            Ok(Message::Text(_)) => Event::Text,
            Ok(Message::Close(_)) => Event::Close,
            Ok(Message::Frame(_)) => unreachable!("raw frames are only read by clients"),
            Err(Error::Capacity(_)) => return (events, End::TooBig),
            Err(Error::Utf8(_)) => return (events, End::Invalid),
            Err(Error::Protocol(ProtocolError::InvalidCloseSequence)) => {
                return (events, End::Invalid);
            }
            Err(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake))
            | Err(Error::Io(_))
            | Err(Error::ConnectionClosed)
            | Err(Error::AlreadyClosed) => return (events, End::Ended),
            Err(Error::Protocol(_)) => return (events, End::Protocol),
            Err(other) => panic!("tungstenite answered {other:?}"),
        };
        let stop = matches!(event, Event::Text | Event::Close);
        events.push(event);
        if stop {
            return (events, End::Stopped);
        }
    }
}

/// Whether the last frame header in `bytes` that the relay read breaks a rule of its own,
/// besides its size: reserved bits, no mask, a fragmented or long control frame, an unknown
/// opcode, a continuation without a message or a new message inside a fragmented one. Found
/// by walking the frames from the start.
fn last_header_breaks_a_rule(bytes: &[u8]) -> bool {
    let mut at = 0;
    let mut fragmented = false;
    loop {
        let Some(&[b0, b1]) = bytes.get(at..at + 2) else {
            return false;
        };
        let extra = match b1 & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let masked = b1 & 0x80 != 0;
        let Some(ext) = bytes.get(at + 2..at + 2 + extra) else {
            return false;
        };
        let len = match extra {
            2 => u64::from(u16::from_be_bytes([ext[0], ext[1]])),
            8 => u64::from_be_bytes(ext.try_into().expect("8 bytes")),
            _ => u64::from(b1 & 0x7F),
        };
        let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0F);
        let control = opcode & 0x08 != 0;
        let fragment_fault = match opcode {
            0 => !fragmented,
            1 | 2 => fragmented,
            _ => false,
        };
        if b0 & 0x70 != 0
            || !masked
            || !matches!(opcode, 0 | 1 | 2 | 8 | 9 | 10)
            || (control && (!fin || len > 125))
            || fragment_fault
        {
            return true;
        }
        if !control {
            fragmented = !fin;
        }
        let header = 2 + extra + 4;
        match usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(at + header))
        {
            Some(next) if next <= bytes.len() => at = next,
            _ => return false,
        }
    }
}

/// The differences that are on purpose: (relay's end, tungstenite's end), with why. The
/// events before the end must still be the same.
fn deliberate(relay: End, oracle: End, bytes: &[u8]) -> Option<&'static str> {
    match (relay, oracle) {
        // A header with a protocol fault that also announces more than the limit: the relay
        // names the fault (1002), tungstenite checks the size first (1009). Both refuse it on
        // the header.
        (End::Protocol, End::TooBig) if last_header_breaks_a_rule(bytes) => {
            Some("a frame both faulty and too big: 1002 here, 1009 in tungstenite")
        }
        // tungstenite refuses a text message that is not UTF-8 (1007), as soon as a fragment
        // shows it, and a close frame with an invalid code or reason (1002); the relay
        // validates neither (it closes at any text message, 1003, and at any close frame), so
        // from there on the two readers are not compared.
        (_, End::Invalid) => {
            Some("text and close payloads are not validated: the relay closes at them anyway")
        }
        _ => None,
    }
}

fuzz_target!(|bytes: &[u8]| {
    let (relay_events, relay_end) = relay(bytes);
    let (oracle_events, mut oracle_end) = oracle(bytes);
    if matches!(relay_end, End::Protocol | End::TooBig) && oracle_end == End::Ended {
        // The relay refuses a frame as soon as its header shows the fault; tungstenite reads
        // the payload first, and here the stream ended inside it. Given the rest of the
        // payload (zeros), tungstenite must refuse it the same way.
        let mut completed = bytes.to_vec();
        completed.resize(bytes.len() + LIMIT + 16, 0);
        let (completed_events, completed_end) = oracle(&completed);
        if completed_events.len() == oracle_events.len() {
            oracle_end = completed_end;
        }
    }
    if relay_end == oracle_end || deliberate(relay_end, oracle_end, bytes).is_some() {
        let shared = relay_events.len().min(oracle_events.len());
        assert_eq!(relay_events[..shared], oracle_events[..shared], "{bytes:?}");
        if relay_end == oracle_end {
            assert_eq!(relay_events, oracle_events, "{bytes:?}");
        }
        return;
    }
    panic!(
        "the relay ended with {relay_end:?} after {relay_events:?}, tungstenite with {oracle_end:?} after {oracle_events:?}: {bytes:?}"
    );
});
