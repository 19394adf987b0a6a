// Command-line flags of the daemon.
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'

export const USAGE = `Usage: node deploy/ipfs/daemon.mjs --repo DIR [options]
       node deploy/ipfs/daemon.mjs gen-swarm-key

The embedded IPFS daemon of ProML: Helia in a private libp2p network, behind the subset of the Kubo RPC
API that the ProML node uses. Prints one JSON line on stdout once it serves:
  {"peerId": "...", "api": "http://127.0.0.1:PORT", "swarm": ["/ip4/127.0.0.1/tcp/PORT/p2p/..."]}

Options:
  --repo DIR            repository: blocks, datastore, peer key (created when missing)
  --api-host HOST       RPC API address (default 127.0.0.1)
  --api-port PORT       RPC API port (default 5001; 0 picks a free port)
  --swarm-host HOST     swarm (libp2p TCP) address (default 127.0.0.1)
  --swarm-port PORT     swarm port (default 4001; 0 picks a free port)
  --swarm-key PATH      pre-shared swarm key (default DIR/swarm.key); the daemon never runs without one
  --bootstrap ADDR      peer to connect to and keep connected, /ip4/.../tcp/.../p2p/ID (repeatable)
  --help                this text

gen-swarm-key prints a new random swarm key in the /key/swarm/psk/1.0.0/ format.`

function port (value, name) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name}: not a port: ${value}`)
  return n
}

export function parseFlags (argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      repo: { type: 'string' },
      'api-host': { type: 'string', default: '127.0.0.1' },
      'api-port': { type: 'string', default: '5001' },
      'swarm-host': { type: 'string', default: '127.0.0.1' },
      'swarm-port': { type: 'string', default: '4001' },
      'swarm-key': { type: 'string' },
      bootstrap: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) return { command: 'help' }
  if (positionals.length > 0) {
    if (positionals.length === 1 && positionals[0] === 'gen-swarm-key') return { command: 'gen-swarm-key' }
    throw new Error(`unknown command: ${positionals.join(' ')}`)
  }
  if (values.repo == null || values.repo === '') throw new Error('--repo is required')
  const repo = resolve(values.repo)
  return {
    command: 'daemon',
    repo,
    apiHost: values['api-host'],
    apiPort: port(values['api-port'], 'api-port'),
    swarmHost: values['swarm-host'],
    swarmPort: port(values['swarm-port'], 'swarm-port'),
    swarmKey: resolve(values['swarm-key'] ?? join(repo, 'swarm.key')),
    bootstrap: values.bootstrap.flatMap((b) => b.split(',')).map((b) => b.trim()).filter((b) => b !== '')
  }
}
