// The subset of the Kubo RPC API (/api/v0) that the ProML node uses, served over Helia.
//
// Conventions kept from Kubo (go-ipfs-cmds): POST only (405 otherwise), a request with an Origin header is
// refused (403), errors are {"Message","Code","Type":"error"} with 500 (Code 0) or 400 (Code 1), boolean
// options parse like Go's strconv.ParseBool, `arg` carries positional arguments, the global `timeout`
// option takes a Go duration, `add` answers NDJSON {"Name","Hash","Size"} lines, `cat` streams the bytes.
import * as dagPb from '@ipld/dag-pb'
import { unixfs } from '@helia/unixfs'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import Busboy from 'busboy'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import { setMaxListeners } from 'node:events'
import { createServer } from 'node:http'
import { AGENT } from './node.mjs'
import {
  ErrClient, ErrNormal, RpcError, args, boolOption, clientError, durationOption, intOption, requiredArg
} from './kubo.mjs'

export const CHUNK_SIZE = 262_144
export const MAX_LINKS = 174
const DAG_PB = 0x70

// Kubo's `ipfs add` settings: 256 KiB fixed-size chunks, a balanced DAG of at most 174 links per node,
// UnixFS "file" leaves in dag-pb (CIDv0) unless raw leaves are asked for, and a single-chunk file is its
// own root.
export function kuboImporterOptions ({ cidVersion, rawLeaves }) {
  return {
    cidVersion,
    rawLeaves,
    leafType: 'file',
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: MAX_LINKS }),
    wrapWithDirectory: false,
    shardSplitThresholdBytes: 262_144
  }
}

// A blockstore that stores nothing: `add --only-hash`.
const hashOnlyBlockstore = {
  async put (cid) { return cid },
  async has () { return false },
  // eslint-disable-next-line require-yield
  async * get (cid) { throw new RpcError(`block ${cid} was not stored (only-hash)`) }
}

function parseCidArg (value) {
  let text = value
  if (text.startsWith('/ipfs/')) text = text.slice('/ipfs/'.length)
  if (text.includes('/')) {
    throw new RpcError(`invalid path "${value}": paths inside a DAG are not supported by this daemon`)
  }
  try {
    return CID.parse(text)
  } catch (err) {
    throw new RpcError(`invalid path "${value}": invalid cid: ${err.message}`)
  }
}

function timeoutSignal (params, base) {
  const ms = durationOption(params, 'timeout')
  if (ms == null || ms <= 0) return base
  const signal = AbortSignal.any([base, AbortSignal.timeout(ms)])
  setMaxListeners(Infinity, signal)
  return signal
}

function describe (err, signal) {
  if (signal?.aborted && signal.reason?.name === 'TimeoutError') return 'context deadline exceeded'
  if (err?.name === 'TimeoutError') return 'context deadline exceeded'
  if (err?.name === 'AbortError' && signal?.aborted) return 'context canceled'
  if (err?.name === 'LoadBlockFailedError' && Array.isArray(err.errors) && err.errors.length > 0) {
    return `${err.message}: ${err.errors.map((e) => e.message).join('; ')}`
  }
  return err?.message ?? String(err)
}

function sendJson (res, status, body) {
  const text = JSON.stringify(body) + '\n'
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache'
  })
  res.end(text)
}

function sendError (res, err, signal) {
  const rpc = err instanceof RpcError ? err : new RpcError(describe(err, signal), ErrNormal)
  if (res.headersSent) {
    // The status line is gone: cut the stream so that the client cannot mistake a truncated body for a
    // whole one (Kubo announces such errors in an X-Stream-Error trailer that many clients ignore).
    res.destroy(rpc)
    return
  }
  sendJson(res, rpc.status, rpc.toJSON())
}

function sendText (res, status, text, extra = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...extra })
  res.end(text + '\n')
}

// Write with backpressure: wait for 'drain' (or for the client to go away) before the next chunk.
async function write (res, chunk) {
  if (res.write(chunk) || res.destroyed) return
  await new Promise((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

// The bytes of a block, whether the blockstore yields it whole or in pieces.
async function blockBytes (blockstore, cid, options) {
  const value = blockstore.get(cid, options)
  if (value instanceof Uint8Array) return value
  const resolved = await value
  if (resolved instanceof Uint8Array) return resolved
  const parts = []
  for await (const part of resolved) parts.push(part)
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

export class KuboRpc {
  constructor ({ helia, log = () => {}, version }) {
    this.helia = helia
    this.fs = unixfs(helia)
    this.hashOnlyFs = unixfs({ ...helia, blockstore: hashOnlyBlockstore })
    this.log = log
    this.version = version
    this.routes = new Map([
      ['/api/v0/add', (req, res, p, s) => this.add(req, res, p, s)],
      ['/api/v0/cat', (req, res, p, s) => this.cat(req, res, p, s)],
      ['/api/v0/pin/add', (req, res, p, s) => this.pinAdd(req, res, p, s)],
      ['/api/v0/pin/rm', (req, res, p, s) => this.pinRm(req, res, p, s)],
      ['/api/v0/pin/ls', (req, res, p, s) => this.pinLs(req, res, p, s)],
      ['/api/v0/id', (req, res, p, s) => this.id(req, res, p, s)],
      ['/api/v0/version', (req, res, p, s) => this.versionInfo(req, res, p, s)],
      ['/api/v0/swarm/connect', (req, res, p, s) => this.swarmConnect(req, res, p, s)],
      ['/api/v0/swarm/peers', (req, res, p, s) => this.swarmPeers(req, res, p, s)]
    ])
  }

  get libp2p () {
    return this.helia.libp2p
  }

  async handle (req, res) {
    const url = new URL(req.url, 'http://localhost')
    const route = this.routes.get(url.pathname.replace(/\/+$/, ''))
    if (route == null) {
      req.resume()
      sendText(res, 404, '404 page not found')
      return
    }
    if (req.headers.origin != null) {
      req.resume()
      sendText(res, 403, '403 - Forbidden')
      return
    }
    if (req.method !== 'POST') {
      req.resume()
      sendText(res, 405, '405 - Method Not Allowed', { Allow: 'POST' })
      return
    }
    // Cancel the work when the client goes away before the answer is complete.
    const controller = new AbortController()
    setMaxListeners(Infinity, controller.signal)
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new Error('client disconnected'))
    })
    let signal = controller.signal
    try {
      signal = timeoutSignal(url.searchParams, controller.signal)
      await route(req, res, url.searchParams, signal)
    } catch (err) {
      if (!(err instanceof RpcError)) {
        // Timeouts, cancellations and blocks nobody had are part of the job: one line. Anything else: the stack.
        const expected = signal.aborted || ['LoadBlockFailedError', 'AbortError', 'TimeoutError'].includes(err?.name)
        this.log(`${url.pathname}: ${expected ? describe(err, signal) : err?.stack ?? err}`)
      }
      sendError(res, err, signal)
    } finally {
      if (!req.complete) req.resume()
    }
  }

  // POST /api/v0/add — multipart files; one NDJSON line per file.
  async add (req, res, params, signal) {
    const cidVersion = intOption(params, 'cid-version', 0)
    if (cidVersion !== 0 && cidVersion !== 1) {
      throw clientError(`unknown CID version: ${cidVersion} (0 or 1)`)
    }
    // Like Kubo: CIDv1 implies raw leaves unless raw-leaves says otherwise.
    const rawLeaves = boolOption(params, 'raw-leaves', cidVersion === 1)
    const pin = boolOption(params, 'pin', true)
    const onlyHash = boolOption(params, 'only-hash', false)
    const chunker = params.get('chunker') ?? 'size-262144'
    if (chunker !== 'size-262144' && chunker !== '') {
      throw clientError(`chunker "${chunker}" is not supported: only size-262144 (Kubo's default)`)
    }
    const hash = params.get('hash') ?? 'sha2-256'
    if (hash !== 'sha2-256') throw clientError(`hash "${hash}" is not supported: only sha2-256`)
    for (const unsupported of ['trickle', 'wrap-with-directory', 'inline', 'nocopy', 'fscache']) {
      if (boolOption(params, unsupported, false)) {
        throw clientError(`option "${unsupported}" is not supported by this daemon`)
      }
    }
    const quieter = boolOption(params, 'quieter', false)
    const contentType = req.headers['content-type'] ?? ''
    if (!contentType.toLowerCase().startsWith('multipart/')) {
      throw clientError('file argument \'path\' is required')
    }

    const files = fileParts(req, signal)
    const importerOptions = kuboImporterOptions({ cidVersion, rawLeaves })
    const fs = onlyHash ? this.hashOnlyFs : this.fs
    const results = []
    const roots = []
    for await (const { name, stream } of files) {
      let result
      for await (const entry of fs.addAll([{ content: stream }], { ...importerOptions, signal })) {
        result = entry
      }
      const cid = result.cid.toString()
      roots.push(result.cid)
      results.push({ Name: name === '' ? cid : name, Hash: cid, Size: String(result.size) })
    }
    if (results.length === 0) throw clientError('file argument \'path\' is required')
    // Like Kubo, pin once everything is added; the pins of many small files then overlap their writes.
    if (pin && !onlyHash) await Promise.all(roots.map((cid) => this.pinRecursive(cid, signal)))
    if (!quieter) {
      startStream(res)
      for (const line of results) await write(res, JSON.stringify(line) + '\n')
    }
    if (quieter) {
      startStream(res)
      await write(res, JSON.stringify(results[results.length - 1]) + '\n')
    }
    res.end()
  }

  async pinRecursive (cid, signal) {
    try {
      for await (const _ of this.helia.pins.add(cid, { signal, metadata: { cid: cid.toString() } })) {
        // walk the whole DAG (fetching what is missing) and mark every block
      }
    } catch (err) {
      if (err.name !== 'AlreadyPinnedError') throw err
    }
  }

  // POST /api/v0/cat?arg=CID[&offset=N][&length=N] — the file's bytes, fetched over bitswap if missing.
  async cat (req, res, params, signal) {
    const cid = parseCidArg(requiredArg(params, 'ipfs-path')[0])
    const offset = intOption(params, 'offset', 0)
    const length = params.has('length') ? intOption(params, 'length', 0) : undefined
    if (offset < 0) throw clientError('cannot specify negative offset')
    if (length != null && length < 0) throw clientError('cannot specify negative length')
    const source = this.fs.cat(cid, { offset, length, signal })[Symbol.asyncIterator]()
    // Wait for the first bytes before sending the status line, so that "not found", "not a file" and
    // timeouts are answered as errors rather than as an empty body.
    let next
    try {
      next = await source.next()
    } catch (err) {
      if (err?.name === 'NotAFileError') throw new RpcError('this dag node is a directory')
      throw err
    }
    res.writeHead(200, {
      'Content-Type': 'text/plain',
      'X-Stream-Output': '1',
      'Cache-Control': 'no-cache',
      Trailer: 'X-Stream-Error'
    })
    while (!next.done) {
      if (next.value.length > 0) await write(res, next.value)
      if (signal.aborted) throw signal.reason ?? new Error('aborted')
      next = await source.next()
    }
    res.end()
  }

  // POST /api/v0/pin/add?arg=CID — recursive pins (Kubo's default); recursive=false pins one block.
  async pinAdd (req, res, params, signal) {
    const recursive = boolOption(params, 'recursive', true)
    const cids = requiredArg(params, 'ipfs-path').map(parseCidArg)
    // Several CIDs are pinned at once: their datastore writes overlap.
    await Promise.all(cids.map(async (cid) => {
      if (recursive) {
        await this.pinRecursive(cid, signal)
      } else {
        try {
          for await (const _ of this.helia.pins.add(cid, { signal, depth: 0, metadata: { cid: cid.toString() } })) {}
        } catch (err) {
          if (err.name !== 'AlreadyPinnedError') throw err
        }
      }
    }))
    sendJson(res, 200, { Pins: cids.map((cid) => cid.toString()) })
  }

  // POST /api/v0/pin/rm?arg=CID
  async pinRm (req, res, params, signal) {
    const removed = []
    for (const arg of requiredArg(params, 'ipfs-path')) {
      const cid = parseCidArg(arg)
      try {
        await this.helia.pins.get(cid, { signal })
      } catch (err) {
        if (err.name === 'NotFoundError') throw new RpcError('not pinned or pinned indirectly')
        throw err
      }
      for await (const _ of this.helia.pins.rm(cid, { signal })) {}
      removed.push(cid.toString())
    }
    sendJson(res, 200, { Pins: removed })
  }

  // The pins as Kubo lists them: CID string (as it was pinned) -> "recursive" | "direct".
  async listPins (signal) {
    const pins = new Map()
    for await (const pin of this.helia.pins.ls({ signal })) {
      const text = typeof pin.metadata?.cid === 'string' ? pin.metadata.cid : pin.cid.toString()
      pins.set(text, { cid: CID.parse(text), type: pin.depth === 0 ? 'direct' : 'recursive' })
    }
    return pins
  }

  // Every block below the recursive pins (Kubo's "indirect" pins), from the local blockstore.
  async indirectPins (pins, signal) {
    const seen = new Set()
    const indirect = new Map()
    const visit = async (cid) => {
      if (cid.code !== DAG_PB) return
      const key = cid.multihash.bytes.toString()
      if (seen.has(key)) return
      seen.add(key)
      const node = dagPb.decode(await blockBytes(this.helia.blockstore, cid, { signal, offline: true }))
      for (const link of node.Links) {
        indirect.set(link.Hash.toString(), link.Hash)
        await visit(link.Hash)
      }
    }
    for (const { cid, type } of pins.values()) {
      if (type === 'recursive') await visit(cid)
    }
    return indirect
  }

  // POST /api/v0/pin/ls[?arg=CID][&type=all|recursive|direct|indirect] — {"Keys":{cid:{"Type":...}}}
  async pinLs (req, res, params, signal) {
    const type = params.get('type') ?? 'all'
    if (!['all', 'recursive', 'direct', 'indirect'].includes(type)) {
      throw clientError(`invalid type '${type}', must be one of {direct, indirect, recursive, all}`)
    }
    const pins = await this.listPins(signal)
    const keys = {}
    const wanted = args(params).filter((a) => a !== '')
    if (wanted.length > 0) {
      const indirect = type === 'all' || type === 'indirect' ? await this.indirectPins(pins, signal) : new Map()
      for (const arg of wanted) {
        const cid = parseCidArg(arg)
        const direct = [...pins.entries()].find(([, pin]) => pin.cid.multihash.bytes.toString() === cid.multihash.bytes.toString())
        if (direct != null && (type === 'all' || type === direct[1].type)) {
          keys[cid.toString()] = { Type: direct[1].type }
        } else if ([...indirect.values()].some((c) => c.multihash.bytes.toString() === cid.multihash.bytes.toString())) {
          keys[cid.toString()] = { Type: 'indirect' }
        } else {
          throw new RpcError(`path '${arg}' is not pinned`)
        }
      }
    } else {
      for (const [text, pin] of pins) {
        if (type === 'all' || type === pin.type) keys[text] = { Type: pin.type }
      }
      if (type === 'all' || type === 'indirect') {
        for (const [text] of await this.indirectPins(pins, signal)) {
          if (keys[text] == null) keys[text] = { Type: 'indirect' }
        }
      }
    }
    sendJson(res, 200, { Keys: keys })
  }

  // POST /api/v0/id[?arg=PEER]
  async id (req, res, params) {
    const wanted = args(params).filter((a) => a !== '')
    const self = this.libp2p.peerId.toString()
    if (wanted.length > 0 && wanted[0] !== self) {
      let peer
      try {
        const { peerIdFromString } = await import('@libp2p/peer-id')
        peer = await this.libp2p.peerStore.get(peerIdFromString(wanted[0]))
      } catch (err) {
        throw new RpcError(`peer ${wanted[0]} not found: ${err.message}`)
      }
      sendJson(res, 200, {
        ID: peer.id.toString(),
        PublicKey: peer.id.publicKey != null ? Buffer.from(publicKeyToProtobuf(peer.id.publicKey)).toString('base64') : '',
        Addresses: peer.addresses.map((a) => `${a.multiaddr.toString()}/p2p/${peer.id}`),
        AgentVersion: decodeMetadata(peer.metadata, 'AgentVersion'),
        Protocols: [...peer.protocols].sort()
      })
      return
    }
    sendJson(res, 200, {
      ID: self,
      PublicKey: Buffer.from(publicKeyToProtobuf(this.libp2p.peerId.publicKey)).toString('base64'),
      Addresses: this.libp2p.getMultiaddrs().map((a) => a.toString()),
      AgentVersion: AGENT,
      Protocols: [...this.libp2p.getProtocols()].sort()
    })
  }

  // POST /api/v0/version
  async versionInfo (req, res) {
    sendJson(res, 200, this.version)
  }

  // POST /api/v0/swarm/connect?arg=/ip4/.../tcp/.../p2p/PEER
  async swarmConnect (req, res, params, signal) {
    const strings = []
    for (const arg of requiredArg(params, 'address')) {
      let ma
      try {
        ma = multiaddr(arg)
      } catch (err) {
        throw new RpcError(`invalid peer address: ${err.message}`)
      }
      const peer = ma.getComponents().find((c) => c.name === 'p2p')?.value
      if (peer == null) throw new RpcError(`invalid peer address: ${arg}: no /p2p/ peer ID`)
      try {
        await this.libp2p.dial(ma, { signal })
      } catch (err) {
        throw new RpcError(`connect ${peer} failure: ${describe(err, signal)}`)
      }
      strings.push(`connect ${peer} success`)
    }
    sendJson(res, 200, { Strings: strings })
  }

  // POST /api/v0/swarm/peers — {"Peers":[{"Addr","Peer","Direction",...}]} (null when none, like Kubo)
  async swarmPeers (req, res) {
    const peers = this.libp2p.getConnections().filter((c) => c.status === 'open').map((c) => ({
      Addr: c.remoteAddr.decapsulateCode(421).toString(),
      Peer: c.remotePeer.toString(),
      Latency: '',
      Muxer: c.multiplexer ?? '',
      Direction: c.direction === 'inbound' ? 1 : 2,
      Streams: null
    }))
    sendJson(res, 200, { Peers: peers.length > 0 ? peers : null })
  }
}

function decodeMetadata (metadata, key) {
  const value = metadata?.get?.(key)
  return value == null ? '' : new TextDecoder().decode(value)
}

function startStream (res) {
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'X-Chunked-Output': '1',
    'Cache-Control': 'no-cache',
    Trailer: 'X-Stream-Error'
  })
}

// Kubo's clients URL-escape file names (go-ipfs-files unescapes them).
function decodeFilename (name) {
  try {
    return decodeURIComponent(name)
  } catch {
    return name
  }
}

// The file parts of a multipart body, one at a time, each as a stream to import.
async function * fileParts (req, signal) {
  const queue = []
  let wake
  let finished = false
  let failure
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  let parser
  try {
    parser = Busboy({ headers: req.headers, defParamCharset: 'utf8', fileHwm: 1024 * 1024 })
  } catch (err) {
    throw clientError(`invalid multipart body: ${err.message}`)
  }
  parser.on('file', (field, stream, info) => {
    queue.push({ name: decodeFilename(info.filename ?? ''), stream })
    notify()
  })
  parser.on('field', () => {})
  parser.on('close', () => {
    finished = true
    notify()
  })
  parser.on('error', (err) => {
    failure = clientError(`invalid multipart body: ${err.message}`)
    finished = true
    notify()
  })
  const onAbort = () => {
    failure = signal.reason ?? new Error('aborted')
    req.unpipe(parser)
    parser.destroy()
    finished = true
    notify()
  }
  signal.addEventListener('abort', onAbort, { once: true })
  req.pipe(parser)
  try {
    while (true) {
      if (failure != null) throw failure
      if (queue.length > 0) {
        const part = queue.shift()
        yield part
        // Whatever the importer did not read (it reads everything) must not stall the parser.
        part.stream.resume()
        continue
      }
      if (finished) {
        if (failure != null) throw failure
        return
      }
      await new Promise((resolve) => { wake = resolve })
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

export function createRpcServer (rpc) {
  const server = createServer((req, res) => {
    rpc.handle(req, res).catch((err) => {
      rpc.log(`unhandled: ${err?.stack ?? err}`)
      if (!res.headersSent) sendJson(res, 500, new RpcError(String(err?.message ?? err)).toJSON())
      else res.destroy()
    })
  })
  // Large uploads and slow fetches: no whole-request deadline (Node's default is 5 minutes).
  server.requestTimeout = 0
  server.headersTimeout = 60_000
  server.keepAliveTimeout = 5_000
  return server
}
