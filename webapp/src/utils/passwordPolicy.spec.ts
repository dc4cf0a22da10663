import { describe, expect, it } from 'vitest'
import { checkPassword, meetsPasswordPolicy } from './passwordPolicy'

function unmet(password: string): string[] {
  return checkPassword(password)
    .filter((rule) => !rule.met)
    .map((rule) => rule.id)
}

describe('password policy', () => {
  it('accepts 8+ characters with an upper-case letter and a digit', () => {
    expect(meetsPasswordPolicy('Secret12')).toBe(true)
    expect(unmet('Secret12')).toEqual([])
  })

  it('names each rule a password misses', () => {
    expect(unmet('')).toEqual(['length', 'uppercase', 'digit'])
    expect(unmet('Short1')).toEqual(['length'])
    expect(unmet('alllower1')).toEqual(['uppercase'])
    expect(unmet('NoDigitsHere')).toEqual(['digit'])
  })

  it('counts exactly 8 characters as long enough and 7 as too short', () => {
    expect(meetsPasswordPolicy('Abcdef12')).toBe(true)
    expect(meetsPasswordPolicy('Abcde12')).toBe(false)
  })
})
