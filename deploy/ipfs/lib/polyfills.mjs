// Runs before any other module of the daemon (daemon.mjs imports it first).
//
// Node 20 lacks Promise.withResolvers (added in Node 22); libp2p and Helia call it.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}
