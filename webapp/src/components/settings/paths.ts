/**
 * Dotted paths into the settings document ("grid.legs.1.gap_percent"), the way the server names
 * fields in `error.fields`; and the diff of two documents as a list of changed leaves.
 */

type Json = unknown

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function splitPath(path: string): string[] {
  return path === '' ? [] : path.split('.')
}

/** The value at `path`, or undefined when any step is missing. */
export function getAt(doc: Json, path: string): Json {
  let node: Json = doc
  for (const key of splitPath(path)) {
    if (Array.isArray(node)) node = node[Number(key)]
    else if (isObject(node)) node = node[key]
    else return undefined
  }
  return node
}

/** Sets `value` at `path` in place (objects and arrays along the way must exist). */
export function setAt(doc: Json, path: string, value: Json): void {
  const keys = splitPath(path)
  const last = keys.pop()
  if (last === undefined) return
  const parent = getAt(doc, keys.join('.'))
  if (Array.isArray(parent)) parent[Number(last)] = value
  else if (isObject(parent)) parent[last] = value
}

export function deepClone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

/** Every leaf of a document as [path, value]; empty objects and arrays are leaves too. */
export function flatten(doc: Json, prefix = ''): [string, Json][] {
  if (Array.isArray(doc)) {
    if (doc.length === 0) return [[prefix, []]]
    return doc.flatMap((item, index) => flatten(item, prefix ? `${prefix}.${index}` : String(index)))
  }
  if (isObject(doc)) {
    const keys = Object.keys(doc)
    if (keys.length === 0) return [[prefix, {}]]
    return keys.flatMap((key) => flatten(doc[key], prefix ? `${prefix}.${key}` : key))
  }
  return [[prefix, doc]]
}

export interface Change {
  path: string
  before: Json
  after: Json
}

/** The leaves that differ between `before` and `after`, in the document's order. */
export function diffDocuments(before: Json, after: Json): Change[] {
  const old = new Map(flatten(before))
  const next = new Map(flatten(after))
  const changes: Change[] = []
  for (const [path, value] of next) {
    const previous = old.get(path)
    if (!old.has(path) || JSON.stringify(previous) !== JSON.stringify(value)) {
      changes.push({ path, before: old.has(path) ? previous : undefined, after: value })
    }
  }
  for (const [path, value] of old) {
    if (!next.has(path)) changes.push({ path, before: value, after: undefined })
  }
  return changes
}

/** True when `path` is `prefix` itself or lies inside it. */
export function isWithin(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`)
}
