/**
 * IP allowlist entries checked as the server's `IpAllowlist` field does (Python's `ipaddress`):
 * an IPv4/IPv6 address, or a CIDR network with no host bits set. Messages are the server's.
 */

const V4_OCTET = /^(?:0|[1-9]\d{0,2})$/
const V6_GROUP = /^[0-9a-fA-F]{1,4}$/

export function parseIPv4(text: string): bigint | null {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  let value = 0n
  for (const part of parts) {
    if (!V4_OCTET.test(part)) return null
    const octet = Number(part)
    if (octet > 255) return null
    value = (value << 8n) | BigInt(octet)
  }
  return value
}

function groups(text: string): bigint[] | null {
  if (text === '') return []
  const parts = text.split(':')
  const out: bigint[] = []
  for (const [index, part] of parts.entries()) {
    if (index === parts.length - 1 && part.includes('.')) {
      const v4 = parseIPv4(part)
      if (v4 === null) return null
      out.push(v4 >> 16n, v4 & 0xffffn)
    } else {
      if (!V6_GROUP.test(part)) return null
      out.push(BigInt(parseInt(part, 16)))
    }
  }
  return out
}

export function parseIPv6(text: string): bigint | null {
  const address = text.split('%')[0] ?? '' // a scope id (fe80::1%eth0) is allowed
  if (text.includes('%') && text.endsWith('%')) return null
  const halves = address.split('::')
  if (halves.length > 2) return null
  let all: bigint[]
  if (halves.length === 2) {
    const head = groups(halves[0] ?? '')
    const tail = groups(halves[1] ?? '')
    if (!head || !tail || head.length + tail.length > 7) return null
    all = [...head, ...Array.from({ length: 8 - head.length - tail.length }, () => 0n), ...tail]
  } else {
    const only = groups(address)
    if (!only || only.length !== 8) return null
    all = only
  }
  return all.reduce((acc, group) => (acc << 16n) | group, 0n)
}

function formatIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.')
}

/** Compressed lower-case form: the longest run (≥ 2) of zero groups becomes "::". */
function formatIPv6(value: bigint): string {
  const hextets = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16))
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < 8; ) {
    if (hextets[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && hextets[j] === '0') j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  if (bestLength < 2) return hextets.join(':')
  const head = hextets.slice(0, bestStart).join(':')
  const tail = hextets.slice(bestStart + bestLength).join(':')
  return `${head}::${tail}`
}

/** A dotted IPv4 netmask (255.255.0.0) or hostmask (0.0.255.255) as a prefix length. */
function v4MaskPrefix(text: string): number | null {
  const mask = parseIPv4(text)
  if (mask === null) return null
  const netmask = (prefix: number) => (prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(32 - prefix))
  // A netmask first, then a hostmask, as Python tries them.
  for (let prefix = 0; prefix <= 32; prefix++) if (mask === netmask(prefix)) return prefix
  for (let prefix = 0; prefix <= 32; prefix++) if (mask === (~netmask(prefix) & 0xffffffffn)) return prefix
  return null
}

function quoted(text: string): string {
  return text.includes("'") && !text.includes('"') ? `"${text}"` : `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/** Why an allowlist entry is refused, or null when it is a valid address or network. */
export function allowlistEntryError(entry: unknown): string | null {
  if (typeof entry !== 'string' || entry.trim() === '') {
    return 'must be an IP address or CIDR network as text, e.g. "10.0.0.0/8"'
  }
  const text = entry.trim()
  if (!text.includes('/')) {
    return parseIPv4(text) !== null || parseIPv6(text) !== null
      ? null
      : `${quoted(text)} is not a valid IPv4 or IPv6 address`
  }
  const [address = '', prefixText = '', ...rest] = text.split('/')
  const bad = `${quoted(text)} is not a valid CIDR network, e.g. 10.0.0.0/8`
  if (rest.length > 0) return bad
  const v4 = parseIPv4(address)
  const v6 = v4 === null && !address.includes('%') ? parseIPv6(address) : null
  if (v4 === null && v6 === null) return bad
  const bits = v4 !== null ? 32 : 128
  let prefix: number | null = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : null
  if (prefix === null && v4 !== null) prefix = v4MaskPrefix(prefixText)
  if (prefix === null || prefix > bits) return bad
  const value = (v4 ?? v6) as bigint
  const hostBits = BigInt(bits - prefix)
  const network = (value >> hostBits) << hostBits
  if (network === value) return null
  const shown = v4 !== null ? formatIPv4(network) : formatIPv6(network)
  return `${quoted(text)} has host bits set; did you mean ${shown}/${prefix}?`
}
