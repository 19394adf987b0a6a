// The repository directory of one daemon:
//
//   <repo>/identity.json   the peer's private key (libp2p protobuf, base64), like Kubo's Identity section
//   <repo>/blocks/         the blocks (blockstore-fs)
//   <repo>/datastore/      pins, the peer store, Helia's metadata (datastore-fs)
//   <repo>/repo.lock       the PID of the daemon using the repo (one daemon per repo)
//   <repo>/api             the RPC API address while the daemon runs, as a multiaddr (as Kubo writes it)
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export async function ensureRepo (dir) {
  await mkdir(join(dir, 'blocks'), { recursive: true, mode: 0o700 })
  await mkdir(join(dir, 'datastore'), { recursive: true, mode: 0o700 })
}

function processAlive (pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

// Take the repo lock, or explain who holds it. A lock left by a dead process is taken over.
export function lockRepo (dir) {
  const path = join(dir, 'repo.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path)
        } catch {}
      }
    } catch (err) {
      if (err.code !== 'EEXIST') throw err
      const holder = Number.parseInt(readFileSync(path, 'utf8').trim(), 10)
      if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new Error(`the repo ${dir} is in use by the daemon with PID ${holder}`)
      }
      unlinkSync(path)
    }
  }
  throw new Error(`cannot lock the repo ${dir}`)
}

// Load the peer key, or create and store one (mode 0600) on first start.
export async function loadOrCreateIdentity (dir) {
  const path = join(dir, 'identity.json')
  let text
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (err.code !== 'ENOENT') throw err
  }
  if (text != null) {
    const doc = JSON.parse(text)
    const privateKey = privateKeyFromProtobuf(Buffer.from(doc.PrivKey, 'base64'))
    const peerId = peerIdFromPrivateKey(privateKey)
    if (doc.PeerID != null && doc.PeerID !== peerId.toString()) {
      throw new Error(`${path}: PeerID ${doc.PeerID} does not match the private key (${peerId})`)
    }
    return { privateKey, peerId, created: false }
  }
  const privateKey = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(privateKey)
  const doc = { PeerID: peerId.toString(), PrivKey: Buffer.from(privateKeyToProtobuf(privateKey)).toString('base64') }
  const tmp = `${path}.tmp`
  await writeFile(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, path)
  return { privateKey, peerId, created: true }
}

export async function writeApiFile (dir, host, port) {
  const family = host.includes(':') ? 'ip6' : 'ip4'
  await writeFile(join(dir, 'api'), `/${family}/${host}/tcp/${port}`)
}

export function removeApiFile (dir) {
  try {
    unlinkSync(join(dir, 'api'))
  } catch {}
}
