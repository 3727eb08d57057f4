//! A lean websocket client for the fan-out's receivers, the load generator's hot path.
//!
//! With a thousand receivers on the same two cores as the server under test, whatever the
//! generator spends per delivered message is taken from the server. This client does only
//! what a receiver needs: the opening handshake, reading the server's (unmasked) frames
//! through one buffer that is never zero-filled, joining fragments, answering pings, and
//! sending a masked binary frame. It speaks to any RFC 6455 server (Nouage, y-sweet, Node's
//! `ws`); it offers no extension, so none is used.

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes read from the socket at most at once.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// A message longer than this ends the connection (the fan-out's updates are tiny).
const MESSAGE_MAX_BYTES: usize = 16 * 1024 * 1024;

pub struct LeanSocket {
    stream: TcpStream,
    /// Bytes read and not yet consumed are `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
    /// The payload of a fragmented message so far, then the whole message.
    message: Vec<u8>,
    fragmented: bool,
    mask: u32,
}

impl LeanSocket {
    /// Connects to `ws://host:port/path?query` with Nagle's algorithm off.
    pub async fn connect(url: &str) -> anyhow::Result<LeanSocket> {
        let rest = url
            .strip_prefix("ws://")
            .context("a lean socket speaks ws:// only")?;
        let (host, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let stream = TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        let mut socket = LeanSocket {
            stream,
            buf: Vec::with_capacity(READ_CHUNK_BYTES),
            start: 0,
            message: Vec::new(),
            fragmented: false,
            mask: 0x9e37_79b9 ^ std::process::id(),
        };
        // The key is the RFC's example: a load generator needs no fresh nonce.
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        socket.stream.write_all(request.as_bytes()).await?;
        let head_end = loop {
            if let Some(at) = socket.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if socket.buf.len() > 16 * 1024 {
                bail!("the server's handshake answer is too long");
            }
            if socket.fill().await? == 0 {
                bail!("the server closed the connection during the handshake");
            }
        };
        let head = String::from_utf8_lossy(&socket.buf[..head_end]);
        if !head.starts_with("HTTP/1.1 101") {
            bail!(
                "the server refused the websocket: {}",
                head.lines().next().unwrap_or("")
            );
        }
        socket.start = head_end;
        Ok(socket)
    }

    /// Reads more bytes after the unconsumed ones; the count read, 0 at the end of the stream.
    async fn fill(&mut self) -> anyhow::Result<usize> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.reserve(READ_CHUNK_BYTES);
        Ok(self.stream.read_buf(&mut self.buf).await?)
    }

    /// The next binary (or text) message; pings are answered on the way. `None` once the
    /// server closed the connection.
    pub async fn next_message(&mut self) -> anyhow::Result<Option<&[u8]>> {
        loop {
            let Some(frame) = parse_frame(&self.buf[self.start..])? else {
                if self.fill().await? == 0 {
                    return Ok(None);
                }
                continue;
            };
            let payload = self.start + frame.header_len..self.start + frame.len();
            self.start += frame.len();
            match frame.opcode {
                0x1 | 0x2 if frame.fin && !self.fragmented => return Ok(Some(&self.buf[payload])),
                0x0..=0x2 => {
                    if frame.opcode != 0x0 {
                        self.message.clear();
                    }
                    self.fragmented = !frame.fin;
                    self.message.extend_from_slice(&self.buf[payload]);
                    if self.message.len() > MESSAGE_MAX_BYTES {
                        bail!("a message over {MESSAGE_MAX_BYTES} bytes");
                    }
                    if frame.fin {
                        return Ok(Some(&self.message));
                    }
                }
                0x8 => return Ok(None),
                0x9 => {
                    let data = self.buf[payload].to_vec();
                    self.send_frame(0xA, &data).await?;
                }
                _ => {}
            }
        }
    }

    /// Sends `payload` as one masked binary frame.
    pub async fn send_binary(&mut self, payload: &[u8]) -> anyhow::Result<()> {
        self.send_frame(0x2, payload).await
    }

    async fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> anyhow::Result<()> {
        // xorshift: the RFC asks for a key the client's peer cannot predict, not for secrecy.
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 17;
        self.mask ^= self.mask << 5;
        let key = self.mask.to_be_bytes();
        let mut out = Vec::with_capacity(payload.len() + 14);
        out.push(0x80 | opcode);
        match payload.len() {
            len @ 0..=125 => out.push(0x80 | len as u8),
            len @ 126..=0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        self.stream.write_all(&out).await?;
        Ok(())
    }
}

struct Frame {
    fin: bool,
    opcode: u8,
    header_len: usize,
    payload_len: usize,
}

impl Frame {
    fn len(&self) -> usize {
        self.header_len + self.payload_len
    }
}

/// The frame at the start of `bytes` if all of it is there.
fn parse_frame(bytes: &[u8]) -> anyhow::Result<Option<Frame>> {
    if bytes.len() < 2 {
        return Ok(None);
    }
    if bytes[1] & 0x80 != 0 {
        bail!("the server sent a masked frame");
    }
    let (header_len, payload_len) = match bytes[1] & 0x7F {
        126 if bytes.len() >= 4 => (4, usize::from(u16::from_be_bytes([bytes[2], bytes[3]]))),
        127 if bytes.len() >= 10 => {
            let len = u64::from_be_bytes(bytes[2..10].try_into().expect("eight bytes"));
            (10, usize::try_from(len)?)
        }
        126 | 127 => return Ok(None),
        len => (2, usize::from(len)),
    };
    if payload_len > MESSAGE_MAX_BYTES {
        bail!("a frame over {MESSAGE_MAX_BYTES} bytes");
    }
    let frame = Frame {
        fin: bytes[0] & 0x80 != 0,
        opcode: bytes[0] & 0x0F,
        header_len,
        payload_len,
    };
    Ok((bytes.len() >= frame.len()).then_some(frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_only_once_whole() {
        let mut bytes = vec![0x82, 126, 0x01, 0x00];
        bytes.extend(std::iter::repeat_n(7, 256));
        for cut in 0..bytes.len() {
            assert!(
                parse_frame(&bytes[..cut]).unwrap().is_none(),
                "cut at {cut}"
            );
        }
        let frame = parse_frame(&bytes).unwrap().unwrap();
        assert_eq!(
            (frame.opcode, frame.header_len, frame.payload_len),
            (2, 4, 256)
        );
        assert!(frame.fin);
        assert!(parse_frame(&[0x82, 0x81, 0, 0, 0, 0, 1]).is_err());
    }
}
