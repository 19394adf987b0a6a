// Kubo conventions: Go's boolean and duration parsing, the swarm key format, the error shape.
import '../lib/polyfills.mjs'
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { boolOption, parseGoBool, parseGoDuration, RpcError, clientError } from '../lib/kubo.mjs'
import { formatSwarmKey, parseSwarmKey } from '../lib/swarm-key.mjs'

test('booleans parse like strconv.ParseBool', () => {
  for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(t), true, t)
  for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(f), false, f)
  for (const bad of ['yes', 'no', 'tRUE', '2', ' true', 'on']) assert.equal(parseGoBool(bad), undefined, bad)
})

test('boolean options: default, bare flag, and a 400 for anything else', () => {
  const p = new URLSearchParams('pin=f&progress&bad=maybe')
  assert.equal(boolOption(p, 'pin', true), false)
  assert.equal(boolOption(p, 'progress', false), true)
  assert.equal(boolOption(p, 'absent', true), true)
  assert.throws(() => boolOption(p, 'bad', true), (err) => err instanceof RpcError && err.status === 400 && err.code === 1)
})

test('durations parse like time.ParseDuration', () => {
  assert.equal(parseGoDuration('300ms'), 300)
  assert.equal(parseGoDuration('1.5s'), 1500)
  assert.equal(parseGoDuration('1m30s'), 90_000)
  assert.equal(parseGoDuration('2h'), 7_200_000)
  assert.equal(parseGoDuration('0'), 0)
  for (const bad of ['', '10', 's', '1x', '1s ', '-1s']) assert.equal(parseGoDuration(bad), undefined, bad)
})

test('errors have Kubo\'s JSON shape', () => {
  assert.deepEqual(new RpcError('boom').toJSON(), { Message: 'boom', Code: 0, Type: 'error' })
  assert.equal(new RpcError('boom').status, 500)
  assert.deepEqual(clientError('bad').toJSON(), { Message: 'bad', Code: 1, Type: 'error' })
  assert.equal(clientError('bad').status, 400)
})

test('swarm keys: generated keys parse, malformed ones are refused', () => {
  const text = formatSwarmKey()
  assert.match(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
  assert.equal(parseSwarmKey(text).hex, text.split('\n')[2])
  assert.equal(parseSwarmKey(text.replace(/\n/g, '\r\n')).hex, text.split('\n')[2])
  assert.throws(() => parseSwarmKey('/key/swarm/psk/1.0.0/\n/base16/\nabc\n'), /64 hexadecimal/)
  assert.throws(() => parseSwarmKey('/key/swarm/psk/1.0.0/\n/base64/\n' + 'a'.repeat(64)), /base16/)
  assert.throws(() => parseSwarmKey('hello'), /first line/)
})
