import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { TEST_POLL_MS, useOnboardingStore } from './onboarding'
import * as onboardingApi from '@/api/onboarding'
import { makeProgress } from '@/testing/dashboard'
import { capitalError, maxGroupsError } from '@/components/onboarding/quickStart'

vi.mock('@/api/onboarding', () => ({
  fetchOnboarding: vi.fn(),
  addSimulatorAccount: vi.fn(),
  sendTestSignal: vi.fn(),
  saveQuickStart: vi.fn(),
}))
const fetchMock = vi.mocked(onboardingApi.fetchOnboarding)

const afterCapital = makeProgress({
  steps: [
    { key: 'exchange_key', done: true },
    { key: 'capital', done: true },
    { key: 'webhook', done: false },
    { key: 'test_signal', done: false },
  ],
  current: 'webhook',
  has_account: true,
  simulator_account: {
    id: 's1',
    label: 'Simulator (practice)',
    exchange: 'binance',
    market_type: 'spot',
    valid: true,
    error: null,
  },
})

describe('onboarding store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    localStorage.clear()
    fetchMock.mockReset()
    vi.useFakeTimers()
  })
  afterEach(() => vi.useRealTimers())

  it('opens by itself for a user without an account, at the first unfinished step', async () => {
    fetchMock.mockResolvedValue(makeProgress())
    const tour = useOnboardingStore()
    await tour.start('u1')
    expect(tour.open).toBe(true)
    expect(tour.step).toBe(0)
  })

  it('stays closed for a user who has an account, and resumes at the first unfinished step', async () => {
    fetchMock.mockResolvedValue(afterCapital)
    const tour = useOnboardingStore()
    await tour.start('u1')
    expect(tour.open).toBe(false)
    tour.resume()
    expect(tour.open).toBe(true)
    expect(tour.step).toBe(2) // webhook
  })

  it('remembers "skip for now" per user in this browser', async () => {
    fetchMock.mockResolvedValue(makeProgress())
    const tour = useOnboardingStore()
    await tour.start('u1')
    tour.dismiss()
    await tour.start('u1')
    expect(tour.open).toBe(false)
    await tour.start('u2')
    expect(tour.open).toBe(true)
  })

  it('watches the test signal until its group is a position', async () => {
    fetchMock.mockResolvedValue(afterCapital)
    const tour = useOnboardingStore()
    await tour.start('u1')
    vi.mocked(onboardingApi.sendTestSignal).mockResolvedValue({ status: 'accepted', account_id: 's1' })
    const live = { ...afterCapital, test_group: { id: 'g1', symbol: 'BTCUSDT', status: 'live', account_id: 's1' } }
    fetchMock.mockResolvedValue(live)
    await tour.sendTest()
    expect(tour.waitingForGroup).toBe(true)
    expect(tour.testOpened).toBe(false)

    // The group.updated event moves it at once; the poll then stops.
    fetchMock.mockResolvedValue({ ...live, test_group: { ...live.test_group, status: 'partially_filled' } })
    tour.onGroupUpdated({ id: 'g1', status: 'partially_filled', symbol: 'BTCUSDT' })
    expect(tour.testOpened).toBe(true)
    expect(tour.waitingForGroup).toBe(false)
    const calls = fetchMock.mock.calls.length
    await vi.advanceTimersByTimeAsync(TEST_POLL_MS * 3)
    expect(fetchMock.mock.calls.length).toBeLessThanOrEqual(calls + 1)
  })

  it('checks capital and max positions by the server’s rules, on the digits', () => {
    expect(capitalError('10000')).toBeNull()
    expect(capitalError('2500.125')).toBeNull()
    expect(capitalError('0.00')).toBe('must be more than 0')
    expect(capitalError('-5')).toContain('positive amount')
    expect(capitalError('1e5')).toContain('positive amount')
    expect(capitalError('1000000000000')).toBeNull()
    expect(capitalError('1000000000000.01')).toBe('at most 1,000,000,000,000')
    expect(maxGroupsError(0)).toBe('at least 1')
    expect(maxGroupsError(2.5)).toBe('at least 1')
    expect(maxGroupsError(1001)).toBe('at most 1000')
    expect(maxGroupsError(10)).toBeNull()
  })
})
