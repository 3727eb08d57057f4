//! The y-websocket wire protocol, as `y-protocols` encodes it, without any I/O.
//!
//! A websocket frame holds one or more messages, each a lib0 var-uint message type followed by
//! its body. This module only frames and unframes: the update and state-vector payloads are
//! handed over as byte slices, and decoding them with yrs is the caller's business (and the
//! caller's risk, since the yrs decoder may panic on hostile input).

use thiserror::Error;

/// Message type of the sync protocol (`y-protocols/sync`).
pub const MESSAGE_SYNC: u64 = 0;
/// Message type of the awareness protocol (`y-protocols/awareness`).
pub const MESSAGE_AWARENESS: u64 = 1;
/// Message type of `y-protocols/auth`; stock clients only ever receive it.
pub const MESSAGE_AUTH: u64 = 2;
/// A client asks for every awareness state the server knows.
pub const MESSAGE_QUERY_AWARENESS: u64 = 3;

const SYNC_STEP_1: u64 = 0;
const SYNC_STEP_2: u64 = 1;
const SYNC_UPDATE: u64 = 2;

/// Largest value lib0 encodes as a var-uint on the JavaScript side (`Number.MAX_SAFE_INTEGER`).
const VAR_UINT_MAX: u64 = (1 << 53) - 1;
/// A var-uint of more bytes than this cannot be a valid 53-bit value.
const VAR_UINT_BYTES_MAX: usize = 8;

/// One message of a frame, borrowing its payload from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// Sync step 1: the sender's encoded state vector.
    SyncStep1(&'a [u8]),
    /// Sync step 2: an update holding what the receiver of step 1 was missing.
    SyncStep2(&'a [u8]),
    /// An incremental document update.
    Update(&'a [u8]),
    /// An encoded awareness update (see [`AwarenessUpdate`]).
    Awareness(&'a [u8]),
    /// A request for the full awareness state.
    QueryAwareness,
    /// An auth message; the server sends these, clients never need to.
    Auth(&'a [u8]),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    #[error("the message ends in the middle of a field")]
    UnexpectedEnd,
    #[error("a variable-length integer is longer than 53 bits")]
    VarUintOverflow,
    #[error("unknown message type {0}")]
    UnknownMessageType(u64),
    #[error("unknown sync message type {0}")]
    UnknownSyncType(u64),
    #[error("a string is not valid UTF-8")]
    InvalidUtf8,
    #[error("the frame is empty")]
    EmptyFrame,
    #[error("the frame holds more than {0} messages")]
    TooManyMessages(usize),
}

/// Reads every message of one websocket frame.
///
/// Errors on the first malformed message: a frame is accepted whole or not at all, so a bad
/// frame never half-applies.
pub fn decode_frame(frame: &[u8], messages_max: usize) -> Result<Vec<Message<'_>>, ProtocolError> {
    if frame.is_empty() {
        return Err(ProtocolError::EmptyFrame);
    }
    let mut reader = Reader::new(frame);
    let mut messages = Vec::new();
    while !reader.is_empty() {
        if messages.len() == messages_max {
            return Err(ProtocolError::TooManyMessages(messages_max));
        }
        messages.push(read_message(&mut reader)?);
    }
    Ok(messages)
}

fn read_message<'a>(reader: &mut Reader<'a>) -> Result<Message<'a>, ProtocolError> {
    match reader.var_uint()? {
        MESSAGE_SYNC => {
            let sync_type = reader.var_uint()?;
            let payload = reader.var_bytes()?;
            match sync_type {
                SYNC_STEP_1 => Ok(Message::SyncStep1(payload)),
                SYNC_STEP_2 => Ok(Message::SyncStep2(payload)),
                SYNC_UPDATE => Ok(Message::Update(payload)),
                other => Err(ProtocolError::UnknownSyncType(other)),
            }
        }
        MESSAGE_AWARENESS => Ok(Message::Awareness(reader.var_bytes()?)),
        MESSAGE_AUTH => Ok(Message::Auth(reader.rest())),
        MESSAGE_QUERY_AWARENESS => Ok(Message::QueryAwareness),
        other => Err(ProtocolError::UnknownMessageType(other)),
    }
}

/// Encodes one message as a frame of its own.
pub fn encode(message: &Message<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, message);
    out
}

/// Appends one message to `out`, so several messages can share a frame.
pub fn encode_into(out: &mut Vec<u8>, message: &Message<'_>) {
    let (sync_type, payload) = match *message {
        Message::SyncStep1(p) => (SYNC_STEP_1, p),
        Message::SyncStep2(p) => (SYNC_STEP_2, p),
        Message::Update(p) => (SYNC_UPDATE, p),
        Message::Awareness(p) => {
            write_var_uint(out, MESSAGE_AWARENESS);
            write_var_bytes(out, p);
            return;
        }
        Message::QueryAwareness => {
            write_var_uint(out, MESSAGE_QUERY_AWARENESS);
            return;
        }
        Message::Auth(p) => {
            write_var_uint(out, MESSAGE_AUTH);
            out.extend_from_slice(p);
            return;
        }
    };
    out.reserve(payload.len() + 12);
    write_var_uint(out, MESSAGE_SYNC);
    write_var_uint(out, sync_type);
    write_var_bytes(out, payload);
}

/// One client's entry in an awareness update. `state` is the JSON text of the state, `"null"`
/// when the client went away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwarenessEntry {
    pub client_id: u64,
    pub clock: u64,
    pub state: String,
}

impl AwarenessEntry {
    /// True when this entry announces that the client is gone.
    pub fn is_removal(&self) -> bool {
        self.state == "null"
    }
}

/// Decodes the payload of an awareness message.
pub fn decode_awareness(
    payload: &[u8],
    entries_max: usize,
) -> Result<Vec<AwarenessEntry>, ProtocolError> {
    let mut reader = Reader::new(payload);
    let count = reader.var_uint()?;
    if count > entries_max as u64 {
        return Err(ProtocolError::TooManyMessages(entries_max));
    }
    let mut entries = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let client_id = reader.var_uint()?;
        let clock = reader.var_uint()?;
        let state = reader.var_string()?.to_owned();
        entries.push(AwarenessEntry {
            client_id,
            clock,
            state,
        });
    }
    Ok(entries)
}

/// Encodes the payload of an awareness message.
pub fn encode_awareness<'a>(entries: impl IntoIterator<Item = &'a AwarenessEntry>) -> Vec<u8> {
    let entries: Vec<&AwarenessEntry> = entries.into_iter().collect();
    let mut out = Vec::new();
    write_var_uint(&mut out, entries.len() as u64);
    for entry in entries {
        write_var_uint(&mut out, entry.client_id);
        write_var_uint(&mut out, entry.clock);
        write_var_bytes(&mut out, entry.state.as_bytes());
    }
    out
}

/// Appends a lib0 var-uint.
pub fn write_var_uint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a lib0 var-uint8array: its length, then its bytes.
pub fn write_var_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_var_uint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A bounds-checked cursor over a byte slice; every read either succeeds or errors.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn var_uint(&mut self) -> Result<u64, ProtocolError> {
        let mut value: u64 = 0;
        for (index, &byte) in self.bytes.iter().enumerate().take(VAR_UINT_BYTES_MAX) {
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                self.bytes = &self.bytes[index + 1..];
                if value > VAR_UINT_MAX {
                    return Err(ProtocolError::VarUintOverflow);
                }
                return Ok(value);
            }
        }
        if self.bytes.len() < VAR_UINT_BYTES_MAX {
            Err(ProtocolError::UnexpectedEnd)
        } else {
            Err(ProtocolError::VarUintOverflow)
        }
    }

    pub fn var_bytes(&mut self) -> Result<&'a [u8], ProtocolError> {
        let len = self.var_uint()?;
        if len > self.bytes.len() as u64 {
            return Err(ProtocolError::UnexpectedEnd);
        }
        let (head, tail) = self.bytes.split_at(len as usize);
        self.bytes = tail;
        Ok(head)
    }

    pub fn var_string(&mut self) -> Result<&'a str, ProtocolError> {
        std::str::from_utf8(self.var_bytes()?).map_err(|_| ProtocolError::InvalidUtf8)
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MESSAGES_MAX: usize = 64;

    #[test]
    fn frames_round_trip_with_several_messages() {
        let mut frame = Vec::new();
        encode_into(&mut frame, &Message::SyncStep1(&[0]));
        encode_into(&mut frame, &Message::Update(&[1, 2, 3]));
        encode_into(&mut frame, &Message::Awareness(&[0]));
        encode_into(&mut frame, &Message::QueryAwareness);
        let decoded = decode_frame(&frame, MESSAGES_MAX).unwrap();
        assert_eq!(
            decoded,
            vec![
                Message::SyncStep1(&[0]),
                Message::Update(&[1, 2, 3]),
                Message::Awareness(&[0]),
                Message::QueryAwareness,
            ]
        );
    }

    #[test]
    fn malformed_frames_are_errors() {
        let cases: &[(&[u8], ProtocolError)] = &[
            (&[], ProtocolError::EmptyFrame),
            (&[7], ProtocolError::UnknownMessageType(7)),
            (&[0, 9, 0], ProtocolError::UnknownSyncType(9)),
            (&[0, 2, 5, 1], ProtocolError::UnexpectedEnd),
            (&[0, 2], ProtocolError::UnexpectedEnd),
            (&[0x80], ProtocolError::UnexpectedEnd),
            (&[0xff; 12], ProtocolError::VarUintOverflow),
        ];
        for (frame, expected) in cases {
            assert_eq!(
                decode_frame(frame, MESSAGES_MAX).unwrap_err(),
                *expected,
                "{frame:?}"
            );
        }
    }

    #[test]
    fn a_frame_of_too_many_messages_is_refused() {
        let mut frame = Vec::new();
        for _ in 0..3 {
            encode_into(&mut frame, &Message::QueryAwareness);
        }
        assert_eq!(
            decode_frame(&frame, 2).unwrap_err(),
            ProtocolError::TooManyMessages(2)
        );
    }

    #[test]
    fn awareness_round_trips() {
        let entries = vec![
            AwarenessEntry {
                client_id: 1 << 40,
                clock: 3,
                state: r#"{"user":{"name":"Élodie"}}"#.into(),
            },
            AwarenessEntry {
                client_id: 7,
                clock: 9,
                state: "null".into(),
            },
        ];
        let decoded = decode_awareness(&encode_awareness(&entries), 16).unwrap();
        assert_eq!(decoded, entries);
        assert!(decoded[1].is_removal());
    }

    proptest! {
        #[test]
        fn var_uint_round_trips(value in 0u64..=VAR_UINT_MAX) {
            let mut out = Vec::new();
            write_var_uint(&mut out, value);
            let mut reader = Reader::new(&out);
            prop_assert_eq!(reader.var_uint().unwrap(), value);
            prop_assert!(reader.is_empty());
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_frame(&bytes, MESSAGES_MAX);
            let _ = decode_awareness(&bytes, MESSAGES_MAX);
        }
    }
}
