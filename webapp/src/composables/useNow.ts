import { onScopeDispose, ref, type Ref } from 'vue'

/** The current time, updated every `intervalMs`, for relative times that age on screen. */
export function useNow(intervalMs = 30_000): Ref<Date> {
  const now = ref(new Date())
  const timer = setInterval(() => {
    now.value = new Date()
  }, intervalMs)
  onScopeDispose(() => clearInterval(timer))
  return now
}
