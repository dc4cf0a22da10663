import { defineStore } from 'pinia'
import { ref } from 'vue'
import { fetchPositionGroups } from '@/api/positions'
import { ApiError } from '@/api/errors'
import type { GroupStatus, PositionGroup, PositionsFilter } from '@/types/positions'

/** Statuses the `closed` filter covers; every other status is an open group. */
const FINISHED: ReadonlySet<GroupStatus> = new Set<GroupStatus>(['closed', 'failed'])

export function matchesFilter(group: PositionGroup, filter: PositionsFilter): boolean {
  if (filter === 'all') return true
  return FINISHED.has(group.status) === (filter === 'closed')
}

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  return new ApiError(0, 'unexpected', error instanceof Error ? error.message : String(error))
}

/** The user's position groups: loaded over REST, kept current by `group.updated` events. */
export const usePositionsStore = defineStore('positions', () => {
  const groups = ref<PositionGroup[]>([])
  const filter = ref<PositionsFilter>('open')
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)

  let latestRequest = 0
  /** Updates received while a load is in flight, re-applied on top of its answer. */
  let updatesDuringLoad: PositionGroup[] | null = null

  function applyUpdate(group: PositionGroup): void {
    const index = groups.value.findIndex((existing) => existing.id === group.id)
    if (index >= 0) {
      // Kept in place even if it no longer matches the filter: the trader sees it close.
      groups.value.splice(index, 1, group)
    } else if (matchesFilter(group, filter.value)) {
      groups.value.unshift(group)
    }
  }

  /** Inserts a group at the top, or replaces the one with the same id where it stands. */
  function upsert(group: PositionGroup): void {
    updatesDuringLoad?.push(group)
    applyUpdate(group)
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
      groups.value = items
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

  /** Reloads the current filter if the list was shown before (e.g. after a reconnect). */
  async function refresh(): Promise<void> {
    if (loaded.value) await load(filter.value)
  }

  function reset(): void {
    latestRequest++
    groups.value = []
    filter.value = 'open'
    loading.value = false
    loaded.value = false
    error.value = null
    updatesDuringLoad = null
  }

  return { groups, filter, loading, loaded, error, upsert, load, refresh, reset }
})
