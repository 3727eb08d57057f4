//! Websocket framing (RFC 6455), server side, on the connection hyper hands over after the
//! upgrade handshake.
//!
//! Written here rather than taken from tungstenite (through axum) for memory: tungstenite reads
//! into one buffer per connection that grows to hold the largest frame received and keeps that
//! size, so 2,000 connections that each sent a 20 KB update once held about 30 KB each, 60 MB in
//! all, for as long as they stayed open. Here the read buffer has a fixed size
//! (`READ_BUFFER_BYTES`), a message gets an allocation that grows as its bytes arrive up to its
//! exact size and is freed with it, and nothing is kept between writes.
//!
//! What the relay needs and no more: binary messages (fragmented or not), ping, pong and close;
//! text messages are reported so the caller can refuse them; no extension is negotiated, so
//! the reserved bits must be zero.

use std::io;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes read from the socket at a time; headers and small frames are parsed from here, larger
/// payloads are read straight into their own allocation.
pub const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Frames gathered into one write (one system call) when the queue holds several.
pub const WRITE_BATCH_BYTES: usize = 64 * 1024;
/// The largest gathering buffer a connection keeps between writes.
const WRITE_SCRATCH_KEPT_BYTES: usize = 2 * 1024;
/// A payload's allocation grows by at least this much (doubling) as its bytes arrive, never
/// past the length the frame announced: a client that announces 8 MiB and sends 10 bytes holds
/// this much, not 8 MiB.
pub const PAYLOAD_GROWTH_BYTES: usize = 4 * 1024;
/// The scratch buffer a closing connection reads the rest of a large refused message through
/// (allocated only then, thrown away with what it read).
const SKIP_SCRATCH_BYTES: usize = 64 * 1024;
/// The largest payload of a control frame (RFC 6455, 5.5).
const CONTROL_PAYLOAD_BYTES_MAX: usize = 125;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// A complete message or control frame from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Binary(Bytes),
    /// A text message: not part of the y-websocket protocol (its content is dropped).
    Text,
    Ping(Bytes),
    Pong,
    Close,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("message over the size limit of {0} bytes")]
    TooBig(usize),
    #[error("websocket protocol error: {0}")]
    Protocol(&'static str),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads the client's frames.
pub struct FrameReader<R> {
    io: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    max_message_bytes: usize,
    /// A fragmented message being put together: its opcode and what came so far.
    partial: Option<(u8, Vec<u8>)>,
    /// The frame whose payload is arriving. Kept here, not in the future that reads it, so a
    /// read interrupted by the caller (a close decided meanwhile) resumes where it was.
    frame: Option<Frame>,
    /// Payload bytes of a refused frame still to come: skipped while closing.
    skip: u64,
}

/// A frame whose header was read, with the part of its payload that arrived.
struct Frame {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    len: usize,
    payload: Vec<u8>,
}

/// A frame's header, as read before its payload.
struct Header {
    fin: bool,
    opcode: u8,
    masked: bool,
    reserved: bool,
    len: u64,
    mask: [u8; 4],
    /// Bytes of the header.
    bytes: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(io: R, max_message_bytes: usize) -> Self {
        FrameReader {
            io,
            buf: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            max_message_bytes,
            partial: None,
            frame: None,
            skip: 0,
        }
    }

    fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Makes at least `n` bytes (at most the buffer's size) buffered; false if the connection
    /// ended before any byte of them came.
    async fn fill(&mut self, n: usize) -> Result<bool, FrameError> {
        debug_assert!(n <= self.buf.len());
        if self.buffered() >= n {
            return Ok(true);
        }
        if self.start + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.buffered() < n {
            let read = self.io.read(&mut self.buf[self.end..]).await?;
            if read == 0 {
                if self.buffered() == 0 {
                    return Ok(false);
                }
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            self.end += read;
        }
        Ok(true)
    }

    /// Reads the next frame's header without consuming it; `None` when the connection ended
    /// between frames.
    async fn header(&mut self) -> Result<Option<Header>, FrameError> {
        if !self.fill(2).await? {
            return Ok(None);
        }
        let (b0, b1) = (self.buf[self.start], self.buf[self.start + 1]);
        let masked = b1 & 0x80 != 0;
        let extra = match b1 & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let bytes = 2 + extra + if masked { 4 } else { 0 };
        if !self.fill(bytes).await? {
            return Ok(None);
        }
        let h = &self.buf[self.start..self.start + bytes];
        let len = match extra {
            2 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            8 => u64::from_be_bytes(h[2..10].try_into().expect("8 bytes")),
            _ => u64::from(b1 & 0x7F),
        };
        let mask = if masked {
            h[bytes - 4..bytes].try_into().expect("4 bytes")
        } else {
            [0; 4]
        };
        Ok(Some(Header {
            fin: b0 & 0x80 != 0,
            opcode: b0 & 0x0F,
            masked,
            reserved: b0 & 0x70 != 0,
            len,
            mask,
            bytes,
        }))
    }

    /// The next message or control frame; `None` when the client closed the TCP connection
    /// between frames. Cancel-safe: a call dropped half-way loses nothing.
    pub async fn next(&mut self) -> Result<Option<Incoming>, FrameError> {
        loop {
            if self.frame.is_none() {
                let Some(h) = self.header().await? else {
                    return Ok(None);
                };
                if h.reserved {
                    return Err(FrameError::Protocol("reserved bits set"));
                }
                if !h.masked {
                    return Err(FrameError::Protocol("unmasked frame from a client"));
                }
                if !matches!(
                    h.opcode,
                    OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
                ) {
                    // Refused on its header, as tungstenite does, not after its payload.
                    return Err(FrameError::Protocol("unknown opcode"));
                }
                let control = h.opcode & 0x08 != 0;
                if control && (!h.fin || h.len > CONTROL_PAYLOAD_BYTES_MAX as u64) {
                    return Err(FrameError::Protocol(
                        "fragmented or oversized control frame",
                    ));
                }
                match (h.opcode, self.partial.is_some()) {
                    (OP_CONTINUATION, false) => {
                        return Err(FrameError::Protocol("continuation without a message"));
                    }
                    (OP_TEXT | OP_BINARY, true) => {
                        return Err(FrameError::Protocol("new message inside a fragmented one"));
                    }
                    _ => {}
                }
                let so_far = self.partial.as_ref().map_or(0, |(_, data)| data.len());
                if !control
                    && h.len > (self.max_message_bytes - so_far.min(self.max_message_bytes)) as u64
                {
                    self.start += h.bytes;
                    self.skip = h.len;
                    return Err(FrameError::TooBig(self.max_message_bytes));
                }
                self.start += h.bytes;
                let len = h.len as usize;
                // What is buffered now; the rest grows the allocation as it arrives.
                let from_buffer = len.min(self.buffered());
                let mut payload =
                    Vec::with_capacity(from_buffer.max(len.min(PAYLOAD_GROWTH_BYTES)));
                payload.extend_from_slice(&self.buf[self.start..self.start + from_buffer]);
                self.start += from_buffer;
                self.frame = Some(Frame {
                    fin: h.fin,
                    opcode: h.opcode,
                    mask: h.mask,
                    len,
                    payload,
                });
            }
            let Some(frame) = self.frame.as_mut() else {
                unreachable!("a frame was just set");
            };
            while frame.payload.len() < frame.len {
                if frame.payload.len() == frame.payload.capacity() {
                    // Doubling, at least by a step, never past the announced length: a client
                    // that announces a large frame and sends little of it costs that little.
                    let capacity = frame.payload.capacity();
                    let grown = (capacity * 2)
                        .max(capacity + PAYLOAD_GROWTH_BYTES)
                        .min(frame.len);
                    frame.payload.reserve_exact(grown - frame.payload.len());
                }
                let room = (frame.payload.capacity() - frame.payload.len()) as u64;
                let read = (&mut self.io)
                    .take(room)
                    .read_buf(&mut frame.payload)
                    .await?;
                if read == 0 {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
                }
            }
            let Frame {
                fin,
                opcode,
                mask,
                mut payload,
                ..
            } = self.frame.take().expect("a frame is being read");
            unmask(&mut payload, mask);
            match opcode {
                OP_CONTINUATION => {
                    let Some((_, data)) = self.partial.as_mut() else {
                        unreachable!("checked on the header");
                    };
                    data.extend_from_slice(&payload);
                    if fin {
                        let (opcode, data) = self.partial.take().expect("checked above");
                        return Ok(Some(message(opcode, data)));
                    }
                }
                OP_TEXT | OP_BINARY => {
                    if fin {
                        return Ok(Some(message(opcode, payload)));
                    }
                    self.partial = Some((opcode, payload));
                }
                OP_CLOSE => return Ok(Some(Incoming::Close)),
                OP_PING => return Ok(Some(Incoming::Ping(Bytes::from(payload)))),
                OP_PONG => return Ok(Some(Incoming::Pong)),
                _ => unreachable!("checked on the header"),
            }
        }
    }

    /// The closing handshake's second half, once the server sent its close frame: reads the
    /// client's bytes and throws them away (through the fixed read buffer: nothing is kept)
    /// until the client's close frame arrives, the connection ends, or `max_bytes` were read.
    /// The rest of a refused or interrupted frame is skipped first; after a malformed frame
    /// the headers that follow are read as leniently as they come. The caller bounds the time.
    pub async fn discard_until_close(&mut self, max_bytes: u64) -> Result<(), FrameError> {
        self.partial = None;
        if let Some(frame) = self.frame.take() {
            self.skip = (frame.len - frame.payload.len()) as u64;
        }
        // The stream's bytes passed over, counted as frames announce them.
        let mut passed = self.skip;
        let mut skip_scratch: Option<Vec<u8>> = None;
        loop {
            if passed > max_bytes {
                return Err(FrameError::TooBig(max_bytes as usize));
            }
            while self.skip > 0 {
                if self.buffered() == 0 {
                    // Large remainders go through a scratch buffer that lives only while this
                    // connection closes: a 64 MiB message is skipped in 1,024 reads, not 16,384.
                    if self.skip >= SKIP_SCRATCH_BYTES as u64 {
                        let scratch =
                            skip_scratch.get_or_insert_with(|| vec![0; SKIP_SCRATCH_BYTES]);
                        let want = (self.skip as usize).min(SKIP_SCRATCH_BYTES);
                        let read = self.io.read(&mut scratch[..want]).await?;
                        if read == 0 {
                            return Ok(());
                        }
                        self.skip -= read as u64;
                        continue;
                    }
                    self.start = 0;
                    self.end = self.io.read(&mut self.buf).await?;
                    if self.end == 0 {
                        return Ok(());
                    }
                }
                let skipped = self.skip.min(self.buffered() as u64);
                self.start += skipped as usize;
                self.skip -= skipped;
            }
            let Some(h) = self.header().await? else {
                return Ok(());
            };
            if h.opcode == OP_CLOSE {
                return Ok(());
            }
            self.start += h.bytes;
            self.skip = h.len;
            passed = passed.saturating_add(h.bytes as u64).saturating_add(h.len);
        }
    }
}

fn message(opcode: u8, data: Vec<u8>) -> Incoming {
    if opcode == OP_TEXT {
        Incoming::Text
    } else {
        Incoming::Binary(Bytes::from(data))
    }
}

/// XORs the payload with the client's masking key, eight bytes at a time.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let value = u64::from_ne_bytes(chunk.try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    // The remainder starts at a multiple of 8, so at mask index 0.
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
}

/// Appends the header of an unmasked server frame carrying `len` bytes.
fn put_header(out: &mut Vec<u8>, opcode: u8, len: usize) {
    out.push(0x80 | opcode);
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

/// Writes binary messages, in order. Small ones are gathered into one write; a large one is
/// written from its own bytes after its header. `scratch` is the gathering buffer, kept by the
/// caller from one write to the next so a fan-out allocates nothing per message; it is let go
/// when a write made it larger than `WRITE_SCRATCH_KEPT_BYTES`, so an idle connection keeps no
/// large buffer.
pub async fn write_binary<W: AsyncWrite + Unpin>(
    io: &mut W,
    messages: &[Bytes],
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    scratch.clear();
    let written = gather_and_write(io, messages, scratch).await;
    scratch.clear();
    if scratch.capacity() > WRITE_SCRATCH_KEPT_BYTES {
        *scratch = Vec::new();
    }
    written?;
    io.flush().await
}

async fn gather_and_write<W: AsyncWrite + Unpin>(
    io: &mut W,
    messages: &[Bytes],
    batch: &mut Vec<u8>,
) -> io::Result<()> {
    for message in messages {
        if message.len() > WRITE_BATCH_BYTES / 2 {
            put_header(batch, OP_BINARY, message.len());
            io.write_all(batch).await?;
            batch.clear();
            io.write_all(message).await?;
        } else {
            put_header(batch, OP_BINARY, message.len());
            batch.extend_from_slice(message);
        }
    }
    if !batch.is_empty() {
        io.write_all(batch).await?;
    }
    Ok(())
}

pub async fn write_ping<W: AsyncWrite + Unpin>(io: &mut W) -> io::Result<()> {
    write_control(io, OP_PING, &[]).await
}

pub async fn write_pong<W: AsyncWrite + Unpin>(io: &mut W, payload: &[u8]) -> io::Result<()> {
    write_control(io, OP_PONG, payload).await
}

/// Sends a close frame with its code and reason (cut at a character boundary to fit), then
/// ends the sending side of the connection.
pub async fn write_close<W: AsyncWrite + Unpin>(
    io: &mut W,
    code: u16,
    reason: &str,
) -> io::Result<()> {
    let mut cut = reason.len().min(CONTROL_PAYLOAD_BYTES_MAX - 2);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(&reason.as_bytes()[..cut]);
    write_control(io, OP_CLOSE, &payload).await?;
    io.shutdown().await
}

async fn write_control<W: AsyncWrite + Unpin>(
    io: &mut W,
    opcode: u8,
    payload: &[u8],
) -> io::Result<()> {
    debug_assert!(payload.len() <= CONTROL_PAYLOAD_BYTES_MAX);
    let mut frame = Vec::with_capacity(2 + payload.len());
    put_header(&mut frame, opcode, payload.len());
    frame.extend_from_slice(payload);
    io.write_all(&frame).await?;
    io.flush().await
}

/// The `Sec-WebSocket-Accept` value answering a client's `Sec-WebSocket-Key`.
pub fn accept_key(client_key: &[u8]) -> String {
    use base64::Engine;
    use sha1::{Digest, Sha1};
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut sha = Sha1::new();
    sha.update(client_key);
    sha.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: masked, as browsers send them.
    fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xFA, 0x21, 0x3D];
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            0..=125 => out.push(0x80 | payload.len() as u8),
            126..=0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            }
            len => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    async fn read_all(bytes: Vec<u8>, max: usize) -> Vec<Result<Incoming, String>> {
        let mut reader = FrameReader::new(&bytes[..], max);
        let mut out = Vec::new();
        loop {
            match reader.next().await {
                Ok(Some(incoming)) => out.push(Ok(incoming)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn a_frame_announced_large_holds_what_arrived_and_resumes_after_an_interrupted_read() {
        let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let frame = client_frame(true, OP_BINARY, &payload);
        // The header (100,000 bytes announced) and ten bytes of payload arrive; the read
        // waits for the rest and is dropped, as when the server decides to close meanwhile.
        let (mut reader, mut client, holding) =
            reading_part_of(&frame[..14 + 10], 8 * 1024 * 1024).await;
        assert!(
            holding < 64 * 1024,
            "holds {holding} bytes for 10 that arrived"
        );
        // The rest arrives: the next read gives the whole message, nothing lost or repeated.
        client.write_all(&frame[14 + 10..]).await.unwrap();
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), reader.next())
            .await
            .expect("the message arrives")
            .unwrap();
        assert_eq!(message, Some(Incoming::Binary(Bytes::from(payload))));
        // A client announces 8 MiB (the default limit) and sends 10 bytes of it.
        let limit = 8 * 1024 * 1024;
        let mut announced = vec![0x82, 0x80 | 127];
        announced.extend_from_slice(&(limit as u64).to_be_bytes());
        announced.extend_from_slice(&[1, 2, 3, 4]);
        announced.extend_from_slice(&[0; 10]);
        let (_, _, holding) = reading_part_of(&announced, limit).await;
        assert!(
            holding < 64 * 1024,
            "holds {holding} bytes for 10 of 8 MiB announced"
        );
    }

    /// A reader given `bytes`, which stop inside a frame's payload, after one read that waits
    /// for the rest; with the client's end and the bytes the reader holds for that payload.
    async fn reading_part_of(
        bytes: &[u8],
        limit: usize,
    ) -> (
        FrameReader<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
        usize,
    ) {
        use futures_util::FutureExt;
        let (mut client, server) = tokio::io::duplex(256 * 1024);
        client.write_all(bytes).await.unwrap();
        let mut reader = FrameReader::new(server, limit);
        assert!(
            reader.next().now_or_never().is_none(),
            "the rest is missing"
        );
        let holding = reader.frame.as_ref().map(|f| f.payload.capacity()).unwrap();
        (reader, client, holding)
    }

    #[tokio::test]
    async fn closing_skips_what_the_client_still_sends_up_to_its_close_frame() {
        let within = std::time::Duration::from_secs(10);
        // Refused for its size mid-stream, then a ping and a malformed frame before the
        // client's close frame: the reader throws them away and stops at the close frame.
        let mut reserved_bits = client_frame(true, OP_BINARY, &[1; 300]);
        reserved_bits[0] |= 0x40;
        let after_close = client_frame(true, OP_BINARY, b"never read");
        let mut stream = client_frame(true, OP_BINARY, &[7; 20_000]);
        stream.extend(client_frame(true, OP_PING, b"?"));
        stream.extend(&reserved_bits);
        let close = client_frame(true, OP_CLOSE, &1000u16.to_be_bytes());
        stream.extend(&close);
        stream.extend(&after_close);
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        client.write_all(&stream).await.unwrap();
        let mut reader = FrameReader::new(server, 1_024);
        assert!(matches!(
            reader.next().await,
            Err(FrameError::TooBig(1_024))
        ));
        tokio::time::timeout(within, reader.discard_until_close(1 << 20))
            .await
            .expect("the client's close frame is found")
            .unwrap();
        // The connection is still open (the client did not end it): the reading stopped at the
        // close frame, and what follows it is left unread.
        assert_eq!(reader.buffered(), close.len() + after_close.len());
        // A client that keeps sending past the bound is not read further.
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        client
            .write_all(&client_frame(true, OP_BINARY, &[0; 40_000]))
            .await
            .unwrap();
        let mut reader = FrameReader::new(server, 1_024);
        assert!(reader.next().await.is_err());
        let bounded = tokio::time::timeout(within, reader.discard_until_close(10_000)).await;
        assert!(matches!(bounded, Ok(Err(FrameError::TooBig(10_000)))));
    }

    #[tokio::test]
    async fn messages_of_every_length_class_arrive_whole_and_unmasked() {
        let sizes = [0, 1, 7, 125, 126, 4_095, 4_096, 65_535, 65_536, 300_001];
        let mut stream = Vec::new();
        let payloads: Vec<Vec<u8>> = sizes
            .iter()
            .map(|&n| (0..n).map(|i| (i * 7 % 251) as u8).collect())
            .collect();
        for payload in &payloads {
            stream.extend(client_frame(true, OP_BINARY, payload));
        }
        let got = read_all(stream, 1 << 20).await;
        let expected: Vec<_> = payloads
            .into_iter()
            .map(|p| Ok(Incoming::Binary(Bytes::from(p))))
            .collect();
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn a_fragmented_message_is_put_together_around_a_ping() {
        let mut stream = client_frame(false, OP_BINARY, b"mind ");
        stream.extend(client_frame(true, OP_PING, b"?"));
        stream.extend(client_frame(false, OP_CONTINUATION, b"map "));
        stream.extend(client_frame(true, OP_CONTINUATION, b"node"));
        stream.extend(client_frame(true, OP_CLOSE, &1000u16.to_be_bytes()));
        let got = read_all(stream, 1024).await;
        assert_eq!(
            got,
            vec![
                Ok(Incoming::Ping(Bytes::from_static(b"?"))),
                Ok(Incoming::Binary(Bytes::from_static(b"mind map node"))),
                Ok(Incoming::Close),
            ]
        );
    }

    #[tokio::test]
    async fn oversized_unmasked_and_malformed_frames_are_refused() {
        let too_big = client_frame(true, OP_BINARY, &[1; 101]);
        assert_eq!(
            read_all(too_big, 100).await,
            vec![Err("message over the size limit of 100 bytes".into())]
        );
        // Fragments count together against the limit.
        let mut fragments = client_frame(false, OP_BINARY, &[1; 60]);
        fragments.extend(client_frame(true, OP_CONTINUATION, &[1; 60]));
        assert_eq!(
            read_all(fragments, 100).await,
            vec![Err("message over the size limit of 100 bytes".into())]
        );
        let mut unmasked = client_frame(true, OP_BINARY, b"x");
        unmasked[1] &= 0x7F;
        assert!(read_all(unmasked, 100).await[0].is_err());
        let mut reserved = client_frame(true, OP_BINARY, b"x");
        reserved[0] |= 0x40;
        assert!(read_all(reserved, 100).await[0].is_err());
        let long_ping = client_frame(true, OP_PING, &[0; 126]);
        assert!(read_all(long_ping, 1000).await[0].is_err());
        let stray = client_frame(true, OP_CONTINUATION, b"x");
        assert!(read_all(stray, 100).await[0].is_err());
        // Cut in the middle of a frame: an error, not a message.
        let mut cut = client_frame(true, OP_BINARY, &[5; 50]);
        cut.truncate(30);
        assert!(read_all(cut, 100).await[0].is_err());
    }

    #[tokio::test]
    async fn written_frames_have_the_header_of_their_length() {
        let messages = [
            Bytes::from_static(b"abc"),
            Bytes::from(vec![9; 300]),
            Bytes::from(vec![8; WRITE_BATCH_BYTES]),
        ];
        let mut out = Vec::new();
        write_binary(&mut out, &messages, &mut Vec::new())
            .await
            .unwrap();
        assert_eq!(&out[..5], &[0x82, 3, b'a', b'b', b'c']);
        assert_eq!(&out[5..9], &[0x82, 126, 0x01, 0x2C]);
        let big = 9 + 300;
        assert_eq!(&out[big..big + 2], &[0x82, 127]);
        assert_eq!(
            u64::from_be_bytes(out[big + 2..big + 10].try_into().unwrap()),
            WRITE_BATCH_BYTES as u64
        );
        assert_eq!(out.len(), big + 10 + WRITE_BATCH_BYTES);
        let mut close = Vec::new();
        write_close(&mut close, 4401, &"é".repeat(100))
            .await
            .unwrap();
        assert_eq!(close[0], 0x88);
        assert_eq!(usize::from(close[1]), close.len() - 2);
        assert!(close.len() - 2 <= 125);
        assert!(std::str::from_utf8(&close[4..]).is_ok());
    }

    #[tokio::test]
    async fn the_gathering_buffer_is_kept_small_and_leaves_no_bytes_behind() {
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        write_binary(&mut out, &[Bytes::from_static(b"one")], &mut scratch)
            .await
            .unwrap();
        let kept = scratch.capacity();
        assert!(kept > 0 && kept <= WRITE_SCRATCH_KEPT_BYTES);
        // A batch of 20 KB passes through it, then it is let go.
        let large = vec![Bytes::from(vec![7; 5_000]); 4];
        write_binary(&mut out, &large, &mut scratch).await.unwrap();
        assert_eq!(scratch.capacity(), 0);
        write_binary(&mut out, &[Bytes::from_static(b"two")], &mut scratch)
            .await
            .unwrap();
        // Each write starts from an empty buffer: the stream is the frames, in order.
        assert_eq!(&out[..5], &[0x82, 3, b'o', b'n', b'e']);
        assert_eq!(out.len(), 5 + 4 * (4 + 5_000) + 5);
        assert_eq!(&out[out.len() - 5..], &[0x82, 3, b't', b'w', b'o']);
    }

    #[test]
    fn the_accept_key_is_the_one_of_the_rfc_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
