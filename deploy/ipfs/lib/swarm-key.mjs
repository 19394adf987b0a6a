// The pre-shared swarm key of a private network, in the format Kubo and IPFS Cluster use:
//
//   /key/swarm/psk/1.0.0/
//   /base16/
//   <64 hex digits>
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'

const HEADER = '/key/swarm/psk/1.0.0/'

export function formatSwarmKey (key = randomBytes(32)) {
  return `${HEADER}\n/base16/\n${Buffer.from(key).toString('hex')}\n`
}

// Parse and validate a swarm key file; returns the bytes libp2p's pnet protector expects.
export function parseSwarmKey (text, source = '') {
  const where = source === '' ? 'invalid swarm key' : `invalid swarm key ${source}`
  const lines = text.split(/\r\n|\r|\n/).map((line) => line.trim())
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  if (lines[0] !== HEADER) {
    throw new Error(`${where}: the first line must be ${HEADER}`)
  }
  if (lines[1] !== '/base16/') {
    throw new Error(`${where}: only the /base16/ encoding is supported`)
  }
  if (lines.length !== 3 || !/^[0-9a-fA-F]{64}$/.test(lines[2] ?? '')) {
    throw new Error(`${where}: the third line must be the key as 64 hexadecimal digits`)
  }
  return {
    hex: lines[2].toLowerCase(),
    psk: new TextEncoder().encode(`${HEADER}\n/base16/\n${lines[2].toLowerCase()}\n`)
  }
}

export async function readSwarmKey (path) {
  let text
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new Error(`cannot read the swarm key ${path}: ${err.message}`)
  }
  return parseSwarmKey(text, path)
}
