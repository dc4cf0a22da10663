import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { RELOAD_THROTTLE_MS, useDashboardStore } from './dashboard'
import * as dashboardApi from '@/api/dashboard'
import * as logsApi from '@/api/logs'
import { makeAlert, makeDashboard, makeEngine } from '@/testing/dashboard'

vi.mock('@/api/dashboard', () => ({
  fetchDashboard: vi.fn(),
  fetchEngine: vi.fn(),
  pauseEngine: vi.fn(),
  resumeEngine: vi.fn(),
  applyEngine: vi.fn(),
}))
vi.mock('@/api/logs', () => ({ acknowledgeLog: vi.fn(), acknowledgeAllLogs: vi.fn() }))

const fetchMock = vi.mocked(dashboardApi.fetchDashboard)

describe('dashboard store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.useFakeTimers()
    fetchMock.mockReset()
    fetchMock.mockResolvedValue(makeDashboard())
  })
  afterEach(() => vi.useRealTimers())

  it('loads while watched and stops re-reading once nobody watches', async () => {
    const store = useDashboardStore()
    const unwatch = store.watch()
    await vi.runAllTimersAsync()
    expect(store.loaded).toBe(true)
    expect(store.data?.pool).toEqual({ used: 2, max: 10, free: 8, queued: 1 })
    unwatch()
    store.onChange()
    await vi.advanceTimersByTimeAsync(RELOAD_THROTTLE_MS * 2)
    expect(fetchMock).toHaveBeenCalledTimes(1)
  })

  it('coalesces a burst of events into one throttled re-read', async () => {
    const store = useDashboardStore()
    store.watch()
    await vi.advanceTimersByTimeAsync(0)
    expect(fetchMock).toHaveBeenCalledTimes(1)
    for (let i = 0; i < 50; i += 1) store.onChange() // 50 group.updated in one second
    await vi.advanceTimersByTimeAsync(RELOAD_THROTTLE_MS - 100)
    expect(fetchMock).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(200)
    expect(fetchMock).toHaveBeenCalledTimes(2)
  })

  it('applies engine.status as it comes', async () => {
    const store = useDashboardStore()
    store.watch()
    await vi.advanceTimersByTimeAsync(0)
    store.onEngineStatus(
      makeEngine({ status: 'error', message: 'error: invalid API credentials', action: 'Enter valid API keys' }),
    )
    expect(store.engineState).toBe('error')
    expect(store.data?.engine_status).toBe('error')
    expect(store.engine?.action).toBe('Enter valid API keys')
  })

  it('puts a new alert on top at once, ignores INFO lines and repeats', async () => {
    const store = useDashboardStore()
    store.watch()
    await vi.advanceTimersByTimeAsync(0)
    store.onLogCreated(makeAlert({ id: 'a2', level: 'CRITICAL', message: 'trading paused' }))
    store.onLogCreated(makeAlert({ id: 'a2', level: 'CRITICAL', message: 'trading paused' }))
    store.onLogCreated(makeAlert({ id: 'i1', level: 'INFO', message: 'order placed' }))
    expect(store.alerts.map((a) => a.id)).toEqual(['a2', 'a1'])
    expect(store.alertsTotal).toBe(2)
  })

  it('takes pool numbers from pool.updated without waiting for the re-read', async () => {
    const store = useDashboardStore()
    store.watch()
    await vi.advanceTimersByTimeAsync(0)
    store.onPoolUpdated({ used: 10, max: 10, queued: 4 })
    expect(store.data?.pool.used).toBe(10)
    expect(store.data?.queued).toBe(4)
    store.onPoolUpdated({}) // no numbers: only a re-read
    expect(store.data?.pool.used).toBe(10)
  })

  it('acknowledges one alert and all alerts', async () => {
    const store = useDashboardStore()
    fetchMock.mockResolvedValue(
      makeDashboard({ alerts: [makeAlert({ id: 'a2' }), makeAlert({ id: 'a1' })], alerts_total: 5 }),
    )
    store.watch()
    await vi.advanceTimersByTimeAsync(0)
    vi.mocked(logsApi.acknowledgeLog).mockResolvedValue(makeAlert({ id: 'a2', acknowledged: true }))
    await store.acknowledge('a2')
    expect(logsApi.acknowledgeLog).toHaveBeenCalledWith('a2')
    expect(store.alerts.map((a) => a.id)).toEqual(['a1'])
    expect(store.alertsTotal).toBe(4)
    vi.mocked(logsApi.acknowledgeAllLogs).mockResolvedValue(4)
    expect(await store.acknowledgeAll()).toBe(4)
    expect(store.alerts).toEqual([])
    expect(store.alertsTotal).toBe(0)
  })

  it('pauses and resumes through the API and shows the answer', async () => {
    const store = useDashboardStore()
    store.watch()
    await vi.advanceTimersByTimeAsync(0)
    vi.mocked(dashboardApi.pauseEngine).mockResolvedValue(
      makeEngine({ status: 'paused', can_pause: false, can_resume: true }),
    )
    await store.pause()
    expect(store.engineState).toBe('paused')
    expect(store.acting).toBeNull()
    vi.mocked(dashboardApi.resumeEngine).mockRejectedValue(new Error('409'))
    await expect(store.resume()).rejects.toThrow('409')
    expect(store.engineState).toBe('paused')
    expect(store.acting).toBeNull()
  })
})
