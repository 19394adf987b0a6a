// The IPFS node: Helia over libp2p (TCP, private network, Noise, Yamux, Identify), bitswap, and a
// repository on disk (blockstore-fs, datastore-fs, a persisted peer key). No DHT, no HTTP routing,
// no public bootstrap list, no mDNS: a private swarm of the peers it is told about.
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { FsBlockstore } from 'blockstore-fs'
import { FsDatastore } from 'datastore-fs'
import { createHeliaLight } from 'helia'
import { join } from 'node:path'
import { boundedPreSharedKey } from './pnet.mjs'

export const AGENT = 'proml-ipfs/0.1.0'

// blockstore-fs writes a block through a temporary file with a fixed name and renames it. Two concurrent
// writes of the same block (a file with repeated chunks: zero-filled weights, padded tables) collide on
// that name; the loser's rename fails and is retried ten times, 100 ms apart, before the store notices the
// block is already there: almost a second per duplicate. Concurrent puts of one block share one write.
export class DedupFsBlockstore extends FsBlockstore {
  #inflight = new Map()

  async put (key, val, options) {
    const id = key.multihash.bytes.toString()
    const pending = this.#inflight.get(id)
    if (pending != null) {
      await pending
      return key
    }
    const write = super.put(key, val, options)
    this.#inflight.set(id, write)
    try {
      return await write
    } finally {
      this.#inflight.delete(id)
    }
  }
}

export async function createNode ({ repo, privateKey, psk, swarmHost, swarmPort }) {
  const blockstore = new DedupFsBlockstore(join(repo, 'blocks'))
  const datastore = new FsDatastore(join(repo, 'datastore'))
  await blockstore.open()
  await datastore.open()

  const family = swarmHost.includes(':') ? 'ip6' : 'ip4'
  const helia = withBitswap(
    withLibp2pLight(createHeliaLight({ blockstore, datastore, start: false }), {
      privateKey,
      datastore,
      addresses: { listen: [`/${family}/${swarmHost}/tcp/${swarmPort}`] },
      transports: [tcp()],
      connectionProtector: boundedPreSharedKey({ psk }),
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: [],
      services: { identify: identify() },
      nodeInfo: { userAgent: AGENT }
    })
  )
  await helia.start()
  return { helia, blockstore, datastore }
}

export async function stopNode ({ helia, blockstore, datastore }) {
  await helia.stop()
  await blockstore.close?.()
  await datastore.close?.()
}

// Keep connections to the bootstrap peers: dial the ones that are not connected, every `interval` ms.
export function keepBootstrapPeers (libp2p, addrs, { interval = 5000, log = () => {} } = {}) {
  const targets = addrs.map((addr) => multiaddr(addr))
  let stopped = false
  let timer
  const round = async () => {
    await Promise.all(targets.map(async (ma) => {
      const peer = ma.getComponents().find((c) => c.name === 'p2p')?.value
      if (peer != null && libp2p.getConnections().some((c) => c.remotePeer.toString() === peer)) return
      try {
        await libp2p.dial(ma, { signal: AbortSignal.timeout(Math.max(1000, interval)) })
      } catch (err) {
        log(`bootstrap ${ma}: ${err.message}`)
      }
    }))
    if (!stopped) timer = setTimeout(round, interval)
  }
  round()
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}
