import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'

export type ThemeName = 'dark' | 'light'

export const THEME_KEY = 'engine.theme'

function storedTheme(): ThemeName {
  try {
    return localStorage.getItem(THEME_KEY) === 'light' ? 'light' : 'dark'
  } catch {
    return 'dark'
  }
}

/** Dark by default; the trader's choice is remembered in localStorage. */
export const useThemeStore = defineStore('theme', () => {
  const name = ref<ThemeName>(storedTheme())
  const isDark = computed(() => name.value === 'dark')

  watch(name, (value) => {
    try {
      localStorage.setItem(THEME_KEY, value)
    } catch {
      // Not persisted; the choice holds for this tab.
    }
  })

  function toggle(): void {
    name.value = isDark.value ? 'light' : 'dark'
  }

  return { name, isDark, toggle }
})
