import { computed } from 'vue'
import { useThemeVars } from 'naive-ui'

/** CSS variables for good/bad/warning text in the current theme (dark and light). */
export function useToneVars() {
  const vars = useThemeVars()
  return computed(() => ({
    '--tone-ok': vars.value.successColor,
    '--tone-bad': vars.value.errorColor,
    '--tone-warn': vars.value.warningColor,
    '--tone-muted': vars.value.textColor3,
    '--tone-body': vars.value.bodyColor,
  }))
}
