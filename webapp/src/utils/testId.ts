import type { InputHTMLAttributes } from 'vue'

/** Attributes for Naive UI's `input-props`, so the test id lands on the real <input>. */
export function inputTestId(id: string): InputHTMLAttributes {
  return { 'data-testid': id } as InputHTMLAttributes
}
