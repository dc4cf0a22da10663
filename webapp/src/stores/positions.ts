import { defineStore } from 'pinia'
import { ref, shallowReactive, shallowRef } from 'vue'
import { closePosition, fetchPositionDetail, fetchPositionGroups } from '@/api/positions'
import { ApiError } from '@/api/errors'
import type {
  CloseAccepted,
  DcaLeg,
  GroupStatus,
  OrderUpdate,
  PositionDetail,
  PositionGroup,
  PositionsFilter,
} from '@/types/positions'
import { POSITIONS_LIST_CAP } from '@/types/positions'

/** Statuses the `closed` filter covers; every other status is an open group. */
const FINISHED: ReadonlySet<GroupStatus> = new Set<GroupStatus>(['closed', 'failed'])

/** Statuses a manual close applies to (`closing` is already on its way). */
const CLOSABLE: ReadonlySet<GroupStatus> = new Set<GroupStatus>(['waiting', 'live', 'partially_filled', 'active'])

/** Group fields that move with every price tick: a change in these alone does not re-read the detail. */
const TICK_FIELDS: ReadonlySet<string> = new Set(['unrealized_pnl_usd', 'unrealized_pnl_percent', 'updated_at'])

/** After an event for an expanded group, its detail is re-read (for the event trail) this much later;
 *  events arriving meanwhile share the one re-read. */
export const DETAIL_REFRESH_DELAY_MS = 400

/** Live `group.updated` events are applied to the list together, at most this often: with
 *  thousands of groups and dozens of events a second, re-rendering the table per event would
 *  block the page (docs/performance.md, "Console under load"). */
export const LIVE_BATCH_MS = 250

export function matchesFilter(group: PositionGroup, filter: PositionsFilter): boolean {
  if (filter === 'all') return true
  return FINISHED.has(group.status) === (filter === 'closed')
}

export function isClosable(group: PositionGroup): boolean {
  return CLOSABLE.has(group.status)
}

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  return new ApiError(0, 'unexpected', error instanceof Error ? error.message : String(error))
}

/** One group's detail as cached: kept after the row collapses, re-read when stale. */
export interface DetailEntry {
  data: PositionDetail | null
  loading: boolean
  error: ApiError | null
  /** Events arrived while nobody watched: re-read on the next expand. */
  stale: boolean
}

type DetailUpdate = { kind: 'group'; group: PositionGroup } | { kind: 'order'; order: OrderUpdate }

/** The order's own fields, without the routing ones the event adds. */
function legFields(order: OrderUpdate): DcaLeg {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { group_id, pyramid_index, ...leg } = order
  return leg
}

/** Identities an order keeps once known: a payload without them does not erase them. */
const IDENTITY_FIELDS = ['leg', 'client_order_id', 'exchange_order_id'] as const

function mergeLeg(existing: DcaLeg | undefined, fields: DcaLeg): DcaLeg {
  const merged = { ...existing, ...fields }
  for (const key of IDENTITY_FIELDS) {
    if (merged[key] === null && existing && existing[key] !== null) Object.assign(merged, { [key]: existing[key] })
  }
  return merged
}

/**
 * Merges one order into a loaded detail. The same order (client order id) is updated wherever it
 * stands; otherwise an entry order lands on its pyramid and leg. Returns false when the order is not
 * a row of the detail (a TP / close order, or a leg of a pyramid not loaded yet).
 */
function mergeOrder(detail: PositionDetail, order: OrderUpdate): boolean {
  const fields = legFields(order)
  if (order.client_order_id) {
    for (const pyramid of detail.pyramids) {
      const at = pyramid.legs.findIndex((leg) => leg.client_order_id === order.client_order_id)
      if (at >= 0) {
        pyramid.legs.splice(at, 1, mergeLeg(pyramid.legs[at], fields))
        return true
      }
    }
  }
  if ((order.purpose ?? 'entry') !== 'entry' || order.pyramid_index === null || order.leg === null) return false
  const pyramid = detail.pyramids.find((p) => p.index === order.pyramid_index)
  const at = pyramid?.legs.findIndex((leg) => leg.leg === order.leg) ?? -1
  if (!pyramid || at < 0) return false
  pyramid.legs.splice(at, 1, mergeLeg(pyramid.legs[at], fields))
  return true
}

/** The group's own fields in the detail replaced, its pyramids and events kept. */
function mergeGroup(detail: PositionDetail, group: PositionGroup): PositionDetail {
  return { ...detail, ...group, pyramids: detail.pyramids, events: detail.events }
}

/**
 * Writes `group`'s fields into the reactive `row`: only the fields whose value changed notify (the
 * cells showing them re-render); fields the new payload lacks are removed.
 */
export function patchRow(row: PositionGroup, group: PositionGroup): void {
  const target = row as unknown as Record<string, unknown>
  const source = group as unknown as Record<string, unknown>
  for (const key of Object.keys(target)) if (!(key in source)) delete target[key]
  for (const key of Object.keys(source)) if (target[key] !== source[key]) target[key] = source[key]
}

/** True when something besides the per-tick PnL changed (status, fills, pyramids, …). */
function changedBeyondTicks(before: PositionGroup, after: PositionGroup): boolean {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)])
  for (const key of keys) {
    if (TICK_FIELDS.has(key) || key === 'pyramids' || key === 'events') continue
    if ((before as unknown as Record<string, unknown>)[key] !== (after as unknown as Record<string, unknown>)[key]) {
      return true
    }
  }
  return false
}

/**
 * The user's position groups: loaded over REST, kept current by `group.updated` events.
 * A group's detail (pyramids, legs, events) is loaded on first expand, cached, and kept current by
 * `order.updated` (merged into its leg) and `group.updated`, each followed by one coalesced re-read.
 */
export const usePositionsStore = defineStore('positions', () => {
  /** The list (a shallow ref: thousands of rows are not made deeply reactive). Each row is a
   *  `shallowReactive` object patched in place by live updates, so an event re-renders the cells that
   *  show the changed fields of that one row; the array is replaced only when rows come or go
   *  (docs/performance.md, "Positions page: one event, one row"). */
  const groups = shallowRef<PositionGroup[]>([])
  /** The rows of `groups` by id, rebuilt whenever the array is replaced. */
  let rowsById = new Map<string, PositionGroup>()
  /** When the last load was capped (the newest POSITIONS_LIST_CAP groups only), the creation time
   *  (ms) of the oldest group it brought; null when it brought every matching group. */
  let windowStartsAt: number | null = null
  const filter = ref<PositionsFilter>('open')
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)
  const details = ref<Record<string, DetailEntry>>({})
  /** Groups with a close request in flight. */
  const closing = ref<Record<string, boolean>>({})

  let latestRequest = 0
  /** Updates received while a load is in flight, re-applied on top of its answer. */
  let updatesDuringLoad: PositionGroup[] | null = null

  /** Bumped by reset(): answers to requests sent before it are dropped. */
  let generation = 0
  /** Expanded rows: their details are re-read after events; others are only marked stale. */
  const watched = new Set<string>()
  const inflight = new Map<string, Promise<void>>()
  /** Details asked to be re-read while a read was in flight. */
  const rerun = new Set<string>()
  const refreshTimers = new Map<string, ReturnType<typeof setTimeout>>()
  const detailUpdatesDuringLoad = new Map<string, DetailUpdate[]>()

  /** Replaces the list (rows made patchable) and its index. */
  function setList(list: PositionGroup[]): void {
    const rows = list.map((group) => rowsById.get(group.id) === group ? group : shallowReactive({ ...group }))
    rowsById = new Map(rows.map((row) => [row.id, row]))
    groups.value = rows
  }

  /** Patches the row in place when it is listed (true), the array untouched; false otherwise. */
  function patchListed(group: PositionGroup): boolean {
    const row = rowsById.get(group.id)
    if (!row) return false
    patchRow(row, group)
    return true
  }

  /**
   * An unlisted group joins the list when it matches the filter, unless the list is a capped
   * window and the group is older than its oldest row: such a group was left out by the cap, not
   * created since, and putting it on top would show an old group as new (and shift every row).
   */
  function joinsList(group: PositionGroup): boolean {
    if (!matchesFilter(group, filter.value)) return false
    return windowStartsAt === null || Date.parse(group.created_at) >= windowStartsAt
  }

  function applyUpdate(group: PositionGroup): void {
    // Kept in place even if it no longer matches the filter: the trader sees it close.
    if (!patchListed(group) && joinsList(group)) setList([group, ...groups.value])
  }

  /** Live updates waiting for the next batch, the newest per group. */
  const pendingLive = new Map<string, PositionGroup>()
  let liveTimer: ReturnType<typeof setTimeout> | null = null

  /** Applies a batch: listed rows patched in place, new matching groups added on top (one array
   *  replacement for all of them, none when every group was listed). */
  function applyMany(batch: PositionGroup[]): void {
    const added: PositionGroup[] = []
    for (const group of batch) {
      if (!patchListed(group) && joinsList(group)) added.unshift(group)
    }
    if (added.length) setList([...added, ...groups.value])
  }

  /** Applies the waiting live updates now. */
  function flushLive(): void {
    if (liveTimer !== null) clearTimeout(liveTimer)
    liveTimer = null
    if (!pendingLive.size) return
    const batch = [...pendingLive.values()]
    pendingLive.clear()
    applyMany(batch)
  }

  /** `group.updated`: the expanded detail at once, the list in the next batch. */
  function receive(group: PositionGroup): void {
    updatesDuringLoad?.push(group)
    pendingLive.delete(group.id) // re-inserted last: a new group keeps its arrival order
    pendingLive.set(group.id, group)
    applyGroupToDetail(group)
    if (liveTimer === null) liveTimer = setTimeout(flushLive, LIVE_BATCH_MS)
  }

  /** Inserts a group at the top, or replaces the one with the same id where it stands. */
  function upsert(group: PositionGroup): void {
    updatesDuringLoad?.push(group)
    applyUpdate(group)
    applyGroupToDetail(group)
  }

  /** Loads the groups for a filter; an older answer arriving late is ignored. */
  async function load(status: PositionsFilter = filter.value): Promise<void> {
    const request = ++latestRequest
    filter.value = status
    loading.value = true
    error.value = null
    updatesDuringLoad = []
    try {
      const items = await fetchPositionGroups(status)
      if (request !== latestRequest) return
      const updates = updatesDuringLoad ?? []
      windowStartsAt =
        items.length >= POSITIONS_LIST_CAP ? Math.min(...items.map((group) => Date.parse(group.created_at))) : null
      setList(items)
      updates.forEach(applyUpdate)
      loaded.value = true
    } catch (caught) {
      if (request !== latestRequest) return
      error.value = asApiError(caught)
    } finally {
      if (request === latestRequest) {
        loading.value = false
        updatesDuringLoad = null
      }
    }
  }

  /**
   * Reloads the current filter if the list was shown before (e.g. after a reconnect), and re-reads
   * the expanded details (the others are re-read when next expanded).
   */
  async function refresh(): Promise<void> {
    for (const [id, entry] of Object.entries(details.value)) {
      entry.stale = true
      if (watched.has(id)) void loadDetail(id, { force: true })
    }
    if (loaded.value) await load(filter.value)
  }

  // ---- details -------------------------------------------------------------------------------

  function entryFor(id: string): DetailEntry {
    const existing = details.value[id]
    if (existing) return existing
    details.value[id] = { data: null, loading: false, error: null, stale: false }
    return details.value[id] as DetailEntry // read back through the store: the reactive proxy
  }

  async function readDetail(id: string): Promise<void> {
    const started = generation
    const entry = entryFor(id)
    entry.loading = true
    entry.error = null
    detailUpdatesDuringLoad.set(id, [])
    try {
      let data = await fetchPositionDetail(id)
      if (started !== generation) return
      // Events that arrived while the answer was on its way may be newer than it: apply them again.
      for (const update of detailUpdatesDuringLoad.get(id) ?? []) {
        if (update.kind === 'order') mergeOrder(data, update.order)
        else data = mergeGroup(data, update.group)
      }
      entry.data = data
      entry.stale = false
    } catch (caught) {
      if (started !== generation) return
      entry.error = asApiError(caught)
    } finally {
      if (started === generation) {
        entry.loading = false
        detailUpdatesDuringLoad.delete(id)
      }
    }
  }

  /**
   * Loads a group's detail unless it is cached and current (`force` re-reads it anyway). Concurrent
   * callers share one request; a forced read asked during a request runs once it has answered.
   */
  function loadDetail(id: string, options: { force?: boolean } = {}): Promise<void> {
    const running = inflight.get(id)
    if (running) {
      if (options.force) rerun.add(id)
      return running
    }
    const entry = details.value[id]
    if (entry?.data && !entry.stale && !options.force) return Promise.resolve()
    const started = generation
    const request = readDetail(id).finally(() => {
      if (started !== generation) return
      inflight.delete(id)
      if (rerun.delete(id) && watched.has(id)) void loadDetail(id, { force: true })
    })
    inflight.set(id, request)
    return request
  }

  /** The row was expanded: show the cached detail, reading it first (or again, if stale). */
  function openDetail(id: string): Promise<void> {
    watched.add(id)
    return loadDetail(id)
  }

  /** The row was collapsed: the detail stays cached, later events only mark it stale. */
  function closeDetail(id: string): void {
    watched.delete(id)
    const timer = refreshTimers.get(id)
    if (timer !== undefined) {
      clearTimeout(timer)
      refreshTimers.delete(id)
      const entry = details.value[id]
      if (entry) entry.stale = true
    }
  }

  /** Re-reads an expanded detail shortly (one read for a burst of events); marks others stale. */
  function scheduleDetailRefresh(id: string): void {
    const entry = details.value[id]
    if (!entry) return
    if (!watched.has(id)) {
      entry.stale = true
      return
    }
    if (refreshTimers.has(id)) return
    refreshTimers.set(
      id,
      setTimeout(() => {
        refreshTimers.delete(id)
        void loadDetail(id, { force: true })
      }, DETAIL_REFRESH_DELAY_MS),
    )
  }

  function applyGroupToDetail(group: PositionGroup): void {
    const entry = details.value[group.id]
    if (!entry) return
    detailUpdatesDuringLoad.get(group.id)?.push({ kind: 'group', group })
    if (!entry.data) return
    const changed = changedBeyondTicks(entry.data, group)
    entry.data = mergeGroup(entry.data, group)
    if (changed) scheduleDetailRefresh(group.id)
  }

  /** `order.updated`: the leg is updated at once in a loaded detail, then the detail is re-read. */
  function applyOrderUpdate(order: OrderUpdate): void {
    const entry = details.value[order.group_id]
    if (!entry) return
    detailUpdatesDuringLoad.get(order.group_id)?.push({ kind: 'order', order })
    if (entry.data) mergeOrder(entry.data, order)
    scheduleDetailRefresh(order.group_id)
  }

  // ---- actions -------------------------------------------------------------------------------

  /** Asks the engine to close a group at market; the row then follows the engine's events. */
  async function closeGroup(id: string): Promise<CloseAccepted> {
    closing.value[id] = true
    try {
      return await closePosition(id)
    } finally {
      delete closing.value[id]
    }
  }

  function reset(): void {
    latestRequest++
    generation++
    setList([])
    windowStartsAt = null
    filter.value = 'open'
    loading.value = false
    loaded.value = false
    error.value = null
    updatesDuringLoad = null
    details.value = {}
    closing.value = {}
    watched.clear()
    inflight.clear()
    rerun.clear()
    refreshTimers.forEach((timer) => clearTimeout(timer))
    refreshTimers.clear()
    detailUpdatesDuringLoad.clear()
    if (liveTimer !== null) clearTimeout(liveTimer)
    liveTimer = null
    pendingLive.clear()
  }

  return {
    receive,
    flushLive,
    groups,
    filter,
    loading,
    loaded,
    error,
    details,
    closing,
    upsert,
    load,
    refresh,
    loadDetail,
    openDetail,
    closeDetail,
    applyOrderUpdate,
    closeGroup,
    reset,
  }
})
