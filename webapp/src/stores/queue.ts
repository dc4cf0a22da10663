import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { fetchPool, fetchQueue, queueAction } from '@/api/queue'
import { ApiError } from '@/api/errors'
import type { PoolState, QueueAction, QueueActionResult, QueueList, QueuedSignal } from '@/types/queue'

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  return new ApiError(0, 'unexpected', error instanceof Error ? error.message : String(error))
}

/** Rows in promotion order (rank 1 first), whatever order they arrived in. */
export function byRank(items: QueuedSignal[]): QueuedSignal[] {
  return [...items].sort((a, b) => a.priority_rank - b.priority_rank)
}

/** One pool cell for the slot picture: held (by a group, maybe forced over the limit) or free. */
export interface SlotCell {
  key: string
  state: 'held' | 'forced' | 'free'
  groupId: string | null
}

/** `max_open_groups` cells, held ones first; slots forced over the limit are added after them. */
export function slotCells(pool: PoolState | null): SlotCell[] {
  if (!pool) return []
  const held: SlotCell[] = (pool.slots ?? pool.groups.map((g) => ({ slot_id: g, group_id: g, forced: false }))).map(
    (slot) => ({ key: slot.slot_id, state: slot.forced ? 'forced' : 'held', groupId: slot.group_id }),
  )
  const free = Math.max(0, pool.max_open_groups - held.length)
  return [...held, ...Array.from({ length: free }, (_, i) => ({ key: `free-${i}`, state: 'free' as const, groupId: null }))]
}

/**
 * The pool and the queue: loaded over REST, replaced by `pool.updated` / `queue.updated` (each
 * carries the whole resource, the queue's top in priority order). An event that arrives while a
 * load is in flight wins over the load's older answer.
 */
export const useQueueStore = defineStore('queue', () => {
  const pool = ref<PoolState | null>(null)
  const items = ref<QueuedSignal[]>([])
  const total = ref(0)
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)
  /** Queued ids with an action in flight. */
  const busy = ref<Record<string, QueueAction>>({})
  let eventsSinceLoad = { pool: false, queue: false }

  const cells = computed(() => slotCells(pool.value))

  function applyQueue(list: QueueList): void {
    items.value = byRank(list.items ?? [])
    total.value = list.total ?? items.value.length
  }

  async function load(): Promise<void> {
    loading.value = true
    error.value = null
    eventsSinceLoad = { pool: false, queue: false }
    try {
      const [poolState, list] = await Promise.all([fetchPool(), fetchQueue()])
      if (!eventsSinceLoad.pool) pool.value = poolState
      if (!eventsSinceLoad.queue) applyQueue(list)
      loaded.value = true
    } catch (caught) {
      error.value = asApiError(caught)
    } finally {
      loading.value = false
    }
  }

  function onQueueUpdated(list: QueueList): void {
    eventsSinceLoad.queue = true
    applyQueue(list)
  }

  function onPoolUpdated(state: PoolState): void {
    eventsSinceLoad.pool = true
    pool.value = state
  }

  /** Runs a manual action; the row leaves the table at once when the server says it left the
   *  queue (events bring the rest). Errors are thrown for the page to show. */
  async function act(id: string, action: QueueAction): Promise<QueueActionResult> {
    busy.value = { ...busy.value, [id]: action }
    try {
      const result = await queueAction(id, action)
      if (result.status !== 'queued') {
        items.value = items.value.filter((item) => item.id !== id)
        total.value = Math.max(0, total.value - 1)
      }
      return result
    } catch (caught) {
      throw asApiError(caught)
    } finally {
      const rest = { ...busy.value }
      delete rest[id]
      busy.value = rest
    }
  }

  return { pool, items, total, loading, loaded, error, busy, cells, load, onQueueUpdated, onPoolUpdated, act }
})
