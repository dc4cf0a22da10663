import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import * as onboardingApi from '@/api/onboarding'
import { ApiError } from '@/api/errors'
import type { OnboardingProgress, OnboardingStepKey } from '@/types/onboarding'
import type { PositionGroup } from '@/types/positions'

export const STEP_ORDER: readonly OnboardingStepKey[] = ['exchange_key', 'capital', 'webhook', 'test_signal']
/** While the test signal travels, progress is re-read this often (events also move it). */
export const TEST_POLL_MS = 1500
/** Statuses at which the test group counts as "became a position". */
const OPENED = new Set(['partially_filled', 'active', 'closing', 'closed'])

function dismissKey(userId: string): string {
  return `onboarding:dismissed:${userId}`
}

/**
 * The first-login tour. Progress comes from the server (what the user really did), so the tour
 * resumes at the first unfinished step anywhere; "Skip for now" is remembered in this browser.
 * It opens by itself for a user without an exchange account who has not dismissed it.
 */
export const useOnboardingStore = defineStore('onboarding', () => {
  const progress = ref<OnboardingProgress | null>(null)
  const open = ref(false)
  const step = ref(0)
  const error = ref<ApiError | null>(null)
  const sending = ref(false)
  const waitingForGroup = ref(false)
  let userId = ''
  let poll: ReturnType<typeof setInterval> | null = null

  const done = computed(() => {
    const out: Partial<Record<OnboardingStepKey, boolean>> = {}
    for (const s of progress.value?.steps ?? []) out[s.key] = s.done
    return out
  })
  const testGroup = computed(() => progress.value?.test_group ?? null)
  const testOpened = computed(() => !!testGroup.value && OPENED.has(testGroup.value.status))

  function dismissed(): boolean {
    return !!userId && localStorage.getItem(dismissKey(userId)) === '1'
  }

  function firstOpenStep(): number {
    const current = progress.value?.current
    return current ? STEP_ORDER.indexOf(current) : STEP_ORDER.length - 1
  }

  async function load(): Promise<OnboardingProgress | null> {
    try {
      progress.value = await onboardingApi.fetchOnboarding()
      error.value = null
    } catch (caught) {
      error.value = caught instanceof ApiError ? caught : new ApiError(0, 'unexpected', String(caught))
    }
    if (testOpened.value) stopWaiting()
    return progress.value
  }

  /** On the landing page: open by itself for a newcomer (no account, never dismissed) who may
   * act on it (`autoOpen`: traders and above; a viewer can still open it from the button). */
  async function start(forUser: string, autoOpen = true): Promise<void> {
    userId = forUser
    await load()
    if (autoOpen && progress.value && !progress.value.has_account && !dismissed()) {
      step.value = firstOpenStep()
      open.value = true
    }
  }

  /** "Setup guide": reopen at the first unfinished step. */
  function resume(): void {
    if (userId) localStorage.removeItem(dismissKey(userId))
    step.value = firstOpenStep()
    open.value = true
  }

  /** "Skip for now": closed, and not opened by itself again in this browser. */
  function dismiss(): void {
    if (userId) localStorage.setItem(dismissKey(userId), '1')
    open.value = false
    stopWaiting()
  }

  function goTo(index: number): void {
    step.value = Math.min(Math.max(index, 0), STEP_ORDER.length - 1)
  }

  async function addSimulator() {
    const account = await onboardingApi.addSimulatorAccount()
    await load()
    return account
  }

  async function saveCapital(capital: string, maxOpenGroups: number): Promise<void> {
    await onboardingApi.saveQuickStart(capital, maxOpenGroups)
    await load()
  }

  function stopWaiting(): void {
    waitingForGroup.value = false
    if (poll !== null) clearInterval(poll)
    poll = null
  }

  /** Sends the test signal, then watches for the group to open (events and a slow poll). */
  async function sendTest(symbol?: string) {
    sending.value = true
    try {
      const answer = await onboardingApi.sendTestSignal(symbol)
      waitingForGroup.value = true
      if (poll === null) poll = setInterval(() => void load(), TEST_POLL_MS)
      await load()
      return answer
    } finally {
      sending.value = false
    }
  }

  /** `group.updated` while the tour waits: the test group's status moves at once. */
  function onGroupUpdated(group: Pick<PositionGroup, 'id' | 'status' | 'symbol'>): void {
    if (!waitingForGroup.value || !progress.value) return
    const known = progress.value.test_group
    if (known && known.id === group.id) {
      progress.value = { ...progress.value, test_group: { ...known, status: group.status } }
      if (testOpened.value) {
        stopWaiting()
        void load()
      }
    } else {
      void load()
    }
  }

  function reset(): void {
    stopWaiting()
    progress.value = null
    open.value = false
    step.value = 0
    userId = ''
  }

  return {
    progress,
    open,
    step,
    error,
    sending,
    waitingForGroup,
    done,
    testGroup,
    testOpened,
    load,
    start,
    resume,
    dismiss,
    goTo,
    addSimulator,
    saveCapital,
    sendTest,
    onGroupUpdated,
    stopWaiting,
    reset,
  }
})
