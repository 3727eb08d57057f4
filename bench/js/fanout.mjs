#!/usr/bin/env node
// Fan-out measured with stock npm Yjs clients: R receivers and S senders, each a `Y.Doc` behind
// an unmodified `y-websocket` `WebsocketProvider`, in one room; each sender sets its key of a
// `Y.Map` U times per second to a value carrying its send time; each receiver notes the delay
// from that send to the moment its provider applied the update (one clock: this process).
// Prints one JSON object, with the same fields as `nouage-bench --mode fanout`.
//
// usage: node fanout.mjs --url 'ws://HOST/ws/{room}?token={token}' [--nouage-api http://HOST
//          --admin-token T] [--receivers 100] [--senders 10] [--rate 10] [--seconds 10]
//          [--timeout-ms 30000]
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    'nouage-api': { type: 'string' },
    'admin-token': { type: 'string' },
    receivers: { type: 'string', default: '100' },
    senders: { type: 'string', default: '10' },
    rate: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    'timeout-ms': { type: 'string', default: '30000' },
    // Accepted for symmetry with nouage-bench; memory is read by the caller.
    'server-pid': { type: 'string' }
  }
})
if (!args.url) {
  console.error('missing --url (a template with {room}, and {token} for Nouage)')
  process.exit(2)
}
const receivers = Number(args.receivers)
const senders = Number(args.senders)
const rate = Number(args.rate)
const seconds = Number(args.seconds)
const timeoutMs = Number(args['timeout-ms'])
const MARK = '@@T'
// Every provider listens for the process's exit.
process.setMaxListeners(0)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor (check, what) {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

// The room's websocket URL: on Nouage a new mind map board made through the REST API.
async function roomUrl () {
  const name = `js-fanout-${process.pid}-${Date.now()}`
  if (!args['nouage-api']) return args.url.replace('{room}', name).replace('{token}', '')
  const headers = { 'content-type': 'application/json' }
  if (args['admin-token']) headers.authorization = `Bearer ${args['admin-token']}`
  const response = await fetch(`${args['nouage-api']}/api/boards`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ kind: 'mindmap', title: name })
  })
  if (!response.ok) throw new Error(`creating a board: ${response.status}`)
  const body = await response.json()
  return args.url.replace('{room}', body.id).replace('{token}', body.tokens.editor)
}

// A provider for `url`: the part before the room is the server URL, the query its params.
function provider (url, doc) {
  const parsed = new URL(url)
  const room = parsed.pathname.split('/').pop()
  const path = parsed.pathname.slice(0, -room.length - 1)
  const params = Object.fromEntries(parsed.searchParams)
  return new WebsocketProvider(`${parsed.protocol}//${parsed.host}${path}`, room, doc, {
    WebSocketPolyfill: WebSocket,
    params,
    // All the clients live in this process: they must talk through the server only.
    disableBc: true
  })
}

function quantile (sorted, q) {
  if (sorted.length === 0) return 0
  return sorted[Math.floor((sorted.length - 1) * q)]
}

async function main () {
  const url = await roomUrl()
  const latencies = []
  const providers = []
  for (let i = 0; i < receivers; i++) {
    const doc = new Y.Doc()
    const map = doc.getMap('bench')
    map.observe((event) => {
      const now = performance.now()
      for (const key of event.keysChanged) {
        const value = map.get(key)
        if (typeof value !== 'string' || !value.startsWith(MARK)) continue
        const sent = Number(value.slice(MARK.length, value.indexOf('@@', MARK.length)))
        latencies.push(now - sent)
      }
    })
    providers.push(provider(url, doc))
  }
  await waitFor(() => providers.every((p) => p.synced), 'the receivers to sync')
  const sending = []
  for (let id = 0; id < senders; id++) {
    const doc = new Y.Doc()
    const map = doc.getMap('bench')
    const p = provider(url, doc)
    providers.push(p)
    sending.push({ id, map, p })
  }
  await waitFor(() => sending.every((s) => s.p.synced), 'the senders to sync')
  const count = rate * seconds
  await Promise.all(sending.map(({ id, map }) => new Promise((resolve) => {
    let seq = 0
    // Spread the senders over the period, as independent people would be.
    setTimeout(() => {
      const timer = setInterval(() => {
        map.set(`s${id}`, `${MARK}${performance.now()}@@${seq}`)
        seq += 1
        if (seq === count) {
          clearInterval(timer)
          resolve()
        }
      }, 1000 / rate)
    }, (id * 1000) / rate / senders)
  })))
  const expected = senders * count * receivers
  // Let the last updates arrive.
  const deadline = performance.now() + 2000
  while (latencies.length < expected && performance.now() < deadline) await sleep(10)
  for (const p of providers) p.destroy()
  latencies.sort((a, b) => a - b)
  console.log(JSON.stringify({
    node: process.version,
    receivers,
    senders,
    rate_per_sender: rate,
    seconds,
    updates_expected: expected,
    updates_received: latencies.length,
    p50_ms: quantile(latencies, 0.5),
    p99_ms: quantile(latencies, 0.99),
    max_ms: latencies.length ? latencies[latencies.length - 1] : 0
  }))
  process.exit(0)
}

main().catch((error) => {
  console.error(error.stack || String(error))
  process.exit(1)
})
