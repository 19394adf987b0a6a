// The daemon's life: parse flags, open the repo, start the node and the RPC server, print the ready
// line, and on SIGTERM / SIGINT stop everything and exit 0.
import { once } from 'node:events'
import { arch, platform } from 'node:os'
import { parseFlags, USAGE } from './args.mjs'
import { createNode, keepBootstrapPeers, stopNode } from './node.mjs'
import { ensureRepo, loadOrCreateIdentity, lockRepo, removeApiFile, writeApiFile } from './repo.mjs'
import { createRpcServer, KuboRpc } from './rpc.mjs'
import { formatSwarmKey, readSwarmKey } from './swarm-key.mjs'

export const DAEMON_VERSION = '0.1.0'

function log (message) {
  process.stderr.write(`proml-ipfs: ${message}\n`)
}

export async function main (argv) {
  let flags
  try {
    flags = parseFlags(argv)
  } catch (err) {
    log(err.message)
    process.stderr.write(USAGE + '\n')
    return 2
  }
  if (flags.command === 'help') {
    process.stdout.write(USAGE + '\n')
    return 0
  }
  if (flags.command === 'gen-swarm-key') {
    process.stdout.write(formatSwarmKey())
    return 0
  }

  let psk
  let unlock
  try {
    ({ psk } = await readSwarmKey(flags.swarmKey))
    await ensureRepo(flags.repo)
    unlock = lockRepo(flags.repo)
  } catch (err) {
    log(`cannot start: ${err.message}`)
    return 1
  }
  let node
  let server
  let stopBootstrap = () => {}
  let stopping = false

  const shutdown = async (signal) => {
    if (stopping) return
    stopping = true
    log(`${signal}: stopping`)
    const force = setTimeout(() => {
      log('shutdown took too long; exiting')
      removeApiFile(flags.repo)
      unlock()
      process.exit(1)
    }, 15_000)
    force.unref()
    stopBootstrap()
    if (server != null) {
      server.close()
      server.closeAllConnections()
    }
    try {
      if (node != null) await stopNode(node)
    } catch (err) {
      log(`stopping the node: ${err.message}`)
    }
    removeApiFile(flags.repo)
    unlock()
    process.exit(0)
  }
  process.on('SIGTERM', () => { shutdown('SIGTERM') })
  process.on('SIGINT', () => { shutdown('SIGINT') })
  process.on('unhandledRejection', (err) => log(`unhandled rejection: ${err?.stack ?? err}`))

  try {
    const identity = await loadOrCreateIdentity(flags.repo)
    node = await createNode({
      repo: flags.repo,
      privateKey: identity.privateKey,
      psk,
      swarmHost: flags.swarmHost,
      swarmPort: flags.swarmPort
    })
    const { helia } = node
    const rpc = new KuboRpc({
      helia,
      log,
      version: {
        Version: DAEMON_VERSION,
        Commit: '',
        Repo: '1',
        System: `${arch()}/${platform()}`,
        Golang: `node ${process.version}`,
        Implementation: `proml-ipfs ${DAEMON_VERSION}, helia ${helia.info.version}`
      }
    })
    server = createRpcServer(rpc)
    server.listen(flags.apiPort, flags.apiHost)
    await once(server, 'listening')
    const { port } = server.address()
    await writeApiFile(flags.repo, flags.apiHost, port)
    if (flags.apiHost !== '127.0.0.1' && flags.apiHost !== '::1' && flags.apiHost !== 'localhost') {
      log(`warning: the RPC API (no authentication) listens on ${flags.apiHost}`)
    }
    stopBootstrap = keepBootstrapPeers(helia.libp2p, flags.bootstrap, { log })
    const apiHost = flags.apiHost.includes(':') ? `[${flags.apiHost}]` : flags.apiHost
    const ready = {
      peerId: helia.libp2p.peerId.toString(),
      api: `http://${apiHost}:${port}`,
      swarm: helia.libp2p.getMultiaddrs().map((ma) => ma.toString())
    }
    process.stdout.write(JSON.stringify(ready) + '\n')
    return undefined
  } catch (err) {
    log(`cannot start: ${err?.stack ?? err}`)
    if (server != null) server.close()
    try {
      if (node != null) await stopNode(node)
    } catch {}
    removeApiFile(flags.repo)
    unlock()
    return 1
  }
}
