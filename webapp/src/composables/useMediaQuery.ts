import { onScopeDispose, ref, type Ref } from 'vue'

/**
 * The console is narrow (a tablet, portrait or landscape): the side menu folds into a drawer
 * opened from the header, and wide page parts stack (docs/decisions.md, "Tablet widths").
 */
export const NARROW_CONSOLE = '(max-width: 1099.98px)'

/** Whether the media query matches, kept current as the window is resized or rotated. */
export function useMediaQuery(query: string): Ref<boolean> {
  if (typeof window === 'undefined' || typeof window.matchMedia !== 'function') return ref(false)
  const list = window.matchMedia(query)
  const matches = ref(list.matches)
  const update = (event: MediaQueryListEvent): void => {
    matches.value = event.matches
  }
  list.addEventListener('change', update)
  onScopeDispose(() => list.removeEventListener('change', update))
  return matches
}
