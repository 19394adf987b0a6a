// The private-network connection protector: @libp2p/pnet, with its stream cipher kept within bounds.
//
// @libp2p/pnet (<= 3.0.27, the newest release) encrypts with the `xsalsa20` package. Its WebAssembly
// build keeps the state of every cipher in one shared WebAssembly.Memory (10 pages at start, 1000 at
// most) and each cipher object caches a Uint8Array view of that memory. An `update()` larger than the
// free memory grows it; growing detaches the ArrayBuffer behind every other cipher's cached view, each
// of those then sees a memory of length 0 on its next call and grows the memory again by its whole
// working size, which detaches the others again. Under bulk transfer (bitswap writes blocks of 256 KiB
// and more at once) the memory runs into its maximum and the daemon dies with
// "WebAssembly.Memory.grow(): Maximum memory size exceeded". Each cipher's 64-byte slot is also never
// released (pnet never calls finalize()), so a long-running daemon leaks slots, one pair per connection.
//
// Three measures, none of which changes a byte on the wire (peers running Kubo or an unpatched js-libp2p
// with the same swarm key interoperate):
// 1. bounded windows: XSalsa20 is a stream cipher, so feeding the same bytes in pieces of at most WINDOW
//    bytes gives the same output, and the memory never has to grow for a large write;
// 2. a stale view (detached by a growth that did happen) is replaced by the current one before use;
// 3. both ciphers of a connection are finalized when it closes, which returns their slots for reuse.
import { preSharedKey } from '@libp2p/pnet'

export const WINDOW = 16 * 1024

// The newest live view of xsalsa20's WebAssembly memory that any cipher has seen.
let currentView

function refreshView (state) {
  if (state == null || !(state._memory instanceof Uint8Array)) return
  if (state._memory.byteLength === 0 && currentView != null && currentView.byteLength > 0) {
    state._memory = currentView
  }
}

function rememberView (state) {
  if (state == null || !(state._memory instanceof Uint8Array)) return
  if (state._memory.byteLength > 0) currentView = state._memory
}

export function boundedXor (xor) {
  if (xor == null || xor.__promlBounded === true) return xor
  const update = xor.update.bind(xor)
  const finalize = typeof xor.finalize === 'function' ? xor.finalize.bind(xor) : undefined
  let finalized = false

  const step = (input, output) => {
    refreshView(xor._xor)
    const result = update(input, output)
    rememberView(xor._xor)
    return result
  }

  xor.update = function boundedUpdate (input, output) {
    if (finalized) {
      // Bytes that arrive after the connection closed are dropped by libp2p anyway.
      return output ?? new Uint8Array(input.length)
    }
    if (input.length <= WINDOW) return step(input, output)
    const out = output ?? new Uint8Array(input.length)
    for (let offset = 0; offset < input.length; offset += WINDOW) {
      const end = Math.min(offset + WINDOW, input.length)
      step(input.subarray(offset, end), out.subarray(offset, end))
    }
    return out
  }
  xor.release = function release () {
    if (finalized || finalize == null) return
    finalized = true
    refreshView(xor._xor)
    finalize()
  }
  xor.__promlBounded = true
  return xor
}

export function boundedPreSharedKey (init) {
  const factory = preSharedKey(init)
  return (components) => {
    const protector = factory(components)
    const protect = protector.protect.bind(protector)
    protector.protect = async function boundedProtect (connection, options) {
      const stream = await protect(connection, options)
      if (stream.inboundXor == null || stream.outboundXor == null) {
        // A future @libp2p/pnet changed its internals: refuse to run with an unbounded cipher.
        throw new Error('@libp2p/pnet internals changed: cannot bound the xsalsa20 windows')
      }
      const inbound = boundedXor(stream.inboundXor)
      const outbound = boundedXor(stream.outboundXor)
      stream.addEventListener('close', () => {
        inbound.release()
        outbound.release()
      }, { once: true })
      return stream
    }
    return protector
  }
}
