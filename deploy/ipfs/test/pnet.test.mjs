// The bounded xsalsa20 windows of lib/pnet.mjs: same bytes as the plain cipher, and no memory blow-up.
import '../lib/polyfills.mjs'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { boundedXor, WINDOW } from '../lib/pnet.mjs'

// The very xsalsa20 module that @libp2p/pnet uses.
const require = createRequire(createRequire(import.meta.url).resolve('@libp2p/pnet'))
const xsalsa20 = require('xsalsa20')

const KEY = new Uint8Array(32).map((_, i) => i * 7 + 1)
const nonce = (n) => new Uint8Array(24).fill(n)

function pattern (length, seed) {
  const out = new Uint8Array(length)
  let x = seed >>> 0
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    out[i] = x >>> 24
  }
  return out
}

test('a bounded cipher encrypts exactly like the plain one fed in small pieces', () => {
  const data = pattern(3 * 1024 * 1024 + 123, 1)
  const bounded = boundedXor(xsalsa20(nonce(1), KEY))
  const plain = xsalsa20(nonce(1), KEY)
  // Uneven sizes around the window and the 64-byte block, one of them far larger than the window.
  const sizes = [1, 63, 64, 65, WINDOW - 1, WINDOW, WINDOW + 1, 2 * 1024 * 1024]
  const encrypted = new Uint8Array(data.length)
  let offset = 0
  for (let i = 0; offset < data.length; i++) {
    const end = Math.min(data.length, offset + sizes[i % sizes.length])
    encrypted.set(bounded.update(data.subarray(offset, end)), offset)
    offset = end
  }
  const reference = new Uint8Array(data.length)
  for (let o = 0; o < data.length; o += 4096) {
    const end = Math.min(data.length, o + 4096)
    reference.set(plain.update(data.subarray(o, end)), o)
  }
  assert.deepEqual(encrypted, reference)
  // and decrypting (XOR with the same key stream) gives the data back
  const back = boundedXor(xsalsa20(nonce(1), KEY)).update(encrypted)
  assert.deepEqual(back, data)
})

test('large interleaved writes on several ciphers do not exhaust the WebAssembly memory', () => {
  // Unbounded, this loop dies with "WebAssembly.Memory.grow(): Maximum memory size exceeded": each
  // growth detaches the other ciphers' views, which then grow the memory again on their next call.
  const ciphers = [1, 2, 3, 4].map((n) => boundedXor(xsalsa20(nonce(n), KEY)))
  const big = pattern(2 * 1024 * 1024, 2)
  for (let round = 0; round < 100; round++) {
    for (const cipher of ciphers) cipher.update(big)
  }
})

test('a cipher whose memory view went stale keeps working and stays correct', () => {
  const bounded = boundedXor(xsalsa20(nonce(5), KEY))
  const twin = xsalsa20(nonce(5), KEY)
  const first = pattern(1000, 3)
  assert.deepEqual(bounded.update(first), twin.update(first))
  // An unbounded cipher grows the shared memory once, detaching the bounded cipher's view.
  xsalsa20(nonce(6), KEY).update(new Uint8Array(4 * 1024 * 1024))
  const second = pattern(100_000, 4)
  const expected = new Uint8Array(second.length)
  for (let o = 0; o < second.length; o += 1000) {
    expected.set(twin.update(second.subarray(o, o + 1000)), o)
  }
  assert.deepEqual(bounded.update(second), expected)
})

test('a released cipher returns its slot and ignores late bytes', () => {
  const cipher = boundedXor(xsalsa20(nonce(7), KEY))
  cipher.update(pattern(100, 5))
  cipher.release()
  cipher.release()
  assert.equal(cipher.update(new Uint8Array(10)).length, 10)
})
