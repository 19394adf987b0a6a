#!/usr/bin/env node
// ProML's embedded IPFS daemon. See deploy/ipfs/README.md.
// The polyfills must run before libp2p and Helia load: imports are evaluated in order.
import './lib/polyfills.mjs'
import { main } from './lib/main.mjs'

main(process.argv.slice(2)).then((code) => {
  if (code !== undefined) process.exit(code)
}, (err) => {
  process.stderr.write(`proml-ipfs: ${err?.stack ?? err}\n`)
  process.exit(1)
})
