/** The password policy (SPEC §8): at least 8 characters, an upper-case letter and a digit. */
export interface PasswordRule {
  id: 'length' | 'uppercase' | 'digit'
  label: string
  met: boolean
}

export const MIN_PASSWORD_LENGTH = 8

/** Each rule of the policy with whether `password` meets it, in display order. */
export function checkPassword(password: string): PasswordRule[] {
  return [
    {
      id: 'length',
      label: `At least ${MIN_PASSWORD_LENGTH} characters`,
      met: [...password].length >= MIN_PASSWORD_LENGTH,
    },
    { id: 'uppercase', label: 'An upper-case letter', met: /\p{Lu}/u.test(password) },
    { id: 'digit', label: 'A digit', met: /\d/.test(password) },
  ]
}

export function meetsPasswordPolicy(password: string): boolean {
  return checkPassword(password).every((rule) => rule.met)
}
