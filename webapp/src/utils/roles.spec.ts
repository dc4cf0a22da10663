import { describe, expect, it } from 'vitest'
import { roleAtLeast } from './roles'

describe('roleAtLeast', () => {
  it('orders roles viewer < trader < manager < admin', () => {
    expect(roleAtLeast('admin', 'trader')).toBe(true)
    expect(roleAtLeast('trader', 'trader')).toBe(true)
    expect(roleAtLeast('viewer', 'trader')).toBe(false)
    expect(roleAtLeast('manager', 'admin')).toBe(false)
  })
})
