import { ref, type Ref } from 'vue'

/** A page's re-reads when server events say its data moved (`coalescedReread`). */
export interface CoalescedReread {
  /** How many views show the data now: events ask for re-reads only while one does. */
  watchers: Ref<number>
  /** A read now (a view opening, a Reload button), counted as in flight. */
  run: () => Promise<void>
  /** An event says the data moved: one re-read soon, merged with the others (see below). */
  request: () => void
  /** A view shows the data: read it now; the returned function is called when it closes. */
  watch: () => () => void
  /** Sign-out: nobody watches, nothing scheduled. */
  reset: () => void
}

/**
 * Re-reads asked for by events, coalesced, for stores whose figures the server computes (the page
 * re-reads instead of guessing): made only while a view watches; at most one read in flight — a
 * request that comes meanwhile asks for ONE more after it (the trailing read, so the last change
 * is never missed); and reads start at least `throttleMs` apart, so a burst of events (a grid
 * filling, 50 price moves a second) costs one read, not fifty.
 */
export function coalescedReread(read: () => Promise<void>, throttleMs: number): CoalescedReread {
  const watchers = ref(0)
  let timer: ReturnType<typeof setTimeout> | null = null
  let inFlight = 0
  let trailing = false
  let lastStartedAt = 0

  async function run(): Promise<void> {
    inFlight += 1
    lastStartedAt = Date.now()
    try {
      await read()
    } finally {
      inFlight -= 1
      if (inFlight === 0 && trailing) {
        trailing = false
        request()
      }
    }
  }

  function request(): void {
    if (watchers.value === 0 || timer !== null) return
    if (inFlight > 0) {
      trailing = true
      return
    }
    const wait = Math.max(0, lastStartedAt + throttleMs - Date.now())
    timer = setTimeout(() => {
      timer = null
      void run()
    }, wait)
  }

  function cancel(): void {
    if (timer !== null) clearTimeout(timer)
    timer = null
    trailing = false
  }

  function watch(): () => void {
    watchers.value += 1
    void run()
    let watching = true
    return () => {
      if (!watching) return
      watching = false
      watchers.value = Math.max(0, watchers.value - 1)
      if (watchers.value === 0) cancel()
    }
  }

  function reset(): void {
    cancel()
    watchers.value = 0
    lastStartedAt = 0
  }

  return { watchers, run, request, watch, reset }
}
