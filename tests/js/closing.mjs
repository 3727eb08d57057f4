#!/usr/bin/env node
// The closing handshake as clients see it, driven by the Rust end-to-end tests: each command
// connects to a board's websocket URL, misbehaves in one way, and prints one JSON line with the
// close code and reason the client received (1006 when no close frame arrived).
import { parseArgs } from 'node:util'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'

const USAGE = `usage: closing.mjs COMMAND --url ws://HOST:PORT/ws/BOARD?token=T [--bytes N]
commands:
  binary            sends one binary message of N bytes
  text-then-binary  sends a text message, then a binary message of N bytes
  malformed         sends a frame with reserved bits set announcing N bytes, then the N bytes`

const { positionals, values: opts } = parseArgs({
  allowPositionals: true,
  options: { url: { type: 'string' }, bytes: { type: 'string', default: '0' }, 'timeout-ms': { type: 'string', default: '20000' } }
})
const timeoutMs = Number(opts['timeout-ms'])

// Resolves with the close that `run` reports through its callback, or fails after the time
// limit (a deadline on the whole command, not a wait).
function closeWithin (run) {
  return new Promise((resolve, reject) => {
    AbortSignal.timeout(timeoutMs).addEventListener('abort', () => reject(new Error('no close within the time limit')))
    run(resolve)
  })
}

// The stock `ws` client: resolves with what its 'close' event says.
function withWs (send) {
  return closeWithin((closed) => {
    const ws = new WebSocket(opts.url)
    ws.on('open', () => send(ws))
    ws.on('error', () => {})
    ws.on('close', (code, reason) => closed({ code, reason: reason.toString() }))
  })
}

// A raw TCP client: the handshake by hand, then a frame no library would send.
function malformed (bytes) {
  return closeWithin((closed) => {
    const url = new URL(opts.url)
    const socket = net.connect(Number(url.port), url.hostname)
    let received = Buffer.alloc(0)
    let upgraded = false
    let close = null
    socket.on('connect', () => {
      socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
    })
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk])
      if (!upgraded) {
        const end = received.indexOf('\r\n\r\n')
        if (end < 0) return
        upgraded = true
        received = received.subarray(end + 4)
        // FIN, RSV1 (no extension was negotiated) and binary; masked; 64-bit length.
        const header = Buffer.alloc(14)
        header[0] = 0xC2
        header[1] = 0x80 | 127
        header.writeBigUInt64BE(BigInt(bytes), 2)
        socket.write(header)
        const chunkBytes = 1 << 20
        let sent = 0
        const pump = () => {
          while (sent < bytes && !close) {
            const n = Math.min(chunkBytes, bytes - sent)
            sent += n
            if (!socket.write(Buffer.alloc(n))) return socket.once('drain', pump)
          }
        }
        pump()
      }
      // Server frames are unmasked: find the close frame (opcode 8).
      while (received.length >= 2 && !close) {
        const len = received[1] & 0x7F
        if (len > 125 || received.length < 2 + len) break
        if ((received[0] & 0x0F) === 8) {
          close = { code: received.readUInt16BE(2), reason: received.subarray(4, 2 + len).toString() }
          // The closing handshake: our close frame, then the server ends the connection.
          socket.write(Buffer.from([0x88, 0x82, 0, 0, 0, 0, received[2], received[3]]))
        }
        received = received.subarray(2 + len)
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => closed(close ?? { code: 1006, reason: '' }))
  })
}

async function main () {
  if (!opts.url) throw new Error(USAGE)
  const bytes = Number(opts.bytes)
  const commands = {
    binary: () => withWs((ws) => ws.send(Buffer.alloc(bytes))),
    'text-then-binary': () => withWs((ws) => { ws.send('bonjour'); ws.send(Buffer.alloc(bytes)) }),
    malformed: () => malformed(bytes)
  }
  const command = commands[positionals[0]]
  if (!command) throw new Error(`unknown command ${JSON.stringify(positionals[0])}\n${USAGE}`)
  process.stdout.write(JSON.stringify(await command()) + '\n')
  process.exit(0)
}

main().catch((e) => { process.stderr.write(`${e.stack ?? e}\n`); process.exit(1) })
