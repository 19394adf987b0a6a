// Kubo RPC conventions: errors, option parsing.

// go-ipfs-cmds error types (cmds.ErrorType) and the HTTP status Kubo answers with.
export const ErrNormal = 0
export const ErrClient = 1
export const ErrImplementation = 2
export const ErrNotFound = 3

const STATUS = { [ErrNormal]: 500, [ErrClient]: 400, [ErrImplementation]: 500, [ErrNotFound]: 404 }

export class RpcError extends Error {
  constructor (message, code = ErrNormal) {
    super(message)
    this.name = 'RpcError'
    this.code = code
  }

  get status () {
    return STATUS[this.code] ?? 500
  }

  toJSON () {
    return { Message: this.message, Code: this.code, Type: 'error' }
  }
}

export function clientError (message) {
  return new RpcError(message, ErrClient)
}

// strconv.ParseBool: exactly the spellings Go accepts.
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True'])
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False'])

export function parseGoBool (value) {
  if (TRUE.has(value)) return true
  if (FALSE.has(value)) return false
  return undefined
}

// A boolean query option. A bare `?pin` (empty value) means true, like a command-line flag.
export function boolOption (params, name, fallback) {
  if (!params.has(name)) return fallback
  const raw = params.get(name)
  if (raw === '') return true
  const value = parseGoBool(raw)
  if (value === undefined) {
    throw clientError(`Could not convert value "${raw}" to type "bool" (for option "-${name}")`)
  }
  return value
}

export function intOption (params, name, fallback) {
  if (!params.has(name)) return fallback
  const raw = params.get(name)
  if (!/^-?\d+$/.test(raw)) {
    throw clientError(`Could not convert value "${raw}" to type "int" (for option "-${name}")`)
  }
  return Number.parseInt(raw, 10)
}

// time.ParseDuration, for the global `timeout` option ("300ms", "1.5s", "2m", "1h30m").
const UNITS = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

export function parseGoDuration (text) {
  if (text === '0') return 0
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y
  let total = 0
  let matched = 0
  re.lastIndex = 0
  while (re.lastIndex < text.length) {
    const m = re.exec(text)
    if (m == null) return undefined
    total += Number.parseFloat(m[1]) * UNITS[m[2]]
    matched++
  }
  return matched > 0 ? total : undefined
}

export function durationOption (params, name) {
  if (!params.has(name)) return undefined
  const raw = params.get(name)
  const ms = parseGoDuration(raw)
  if (ms === undefined) {
    throw clientError(`time: invalid duration "${raw}" (for option "--${name}")`)
  }
  return ms
}

// Positional arguments (`arg=`), in order.
export function args (params) {
  return params.getAll('arg')
}

export function requiredArg (params, name) {
  const values = args(params)
  if (values.length === 0 || values[0] === '') {
    throw clientError(`argument "${name}" is required`)
  }
  return values
}
