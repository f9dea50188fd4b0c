import { describe, expect, it } from 'vitest'
import {
  annexAThemeOf,
  formatReference,
  isKnownReference,
  lookupReference,
  parseReference,
  referencesOf,
} from '../../../shared/iso/index.js'

describe('ISO/IEC 27001:2022', () => {
  it('has the 93 Annex A controls: 37 organizational, 8 people, 14 physical, 34 technological', () => {
    const controls = referencesOf('ISO27001', 'annex_a_control')
    expect(controls).toHaveLength(93)
    const perTheme = (theme: string) => controls.filter((c) => c.id.startsWith(`${theme}.`)).length
    expect([perTheme('A.5'), perTheme('A.6'), perTheme('A.7'), perTheme('A.8')]).toEqual([37, 8, 14, 34])
    expect(new Set(controls.map((c) => c.id)).size).toBe(93)
  })

  it('has clauses 4 to 10 with their subclauses', () => {
    const clauses = referencesOf('ISO27001', 'clause').map((c) => c.id)
    for (const id of [
      '4',
      '4.1',
      '4.4',
      '5.3',
      '6.1.2',
      '6.1.3',
      '6.3',
      '7.5.3',
      '8.3',
      '9.1',
      '9.2.1',
      '9.3.3',
      '10.2',
    ]) {
      expect(clauses).toContain(id)
    }
    expect(clauses).not.toContain('10.3')
    expect(clauses).not.toContain('11')
  })

  it('knows the real titles', () => {
    expect(lookupReference('ISO27001', 'A.5.24')?.title).toBe(
      'Information security incident management planning and preparation',
    )
    expect(lookupReference('ISO27001', 'A.8.12')?.title).toBe('Data leakage prevention')
    expect(lookupReference('ISO27001', 'A.5.34')?.title).toBe('Privacy and protection of PII')
    expect(lookupReference('ISO27001', 'A.7.14')?.title).toBe('Secure disposal or re-use of equipment')
    expect(lookupReference('ISO27001', '6.1.2')?.title).toBe('Information security risk assessment')
    expect(lookupReference('ISO27001', '10.1')?.title).toBe('Continual improvement')
    expect(lookupReference('ISO27001', 'A.5.1')).toMatchObject({
      kind: 'annex_a_control',
      standard: 'ISO27001',
    })
    expect(lookupReference('ISO27001', '5.1')).toMatchObject({
      kind: 'clause',
      title: 'Leadership and commitment',
    })
  })
})

describe('ISO/IEC 42001:2023', () => {
  it('has the 38 Annex A controls', () => {
    const controls = referencesOf('ISO42001', 'annex_a_control')
    expect(controls).toHaveLength(38)
    expect(new Set(controls.map((c) => c.id)).size).toBe(38)
  })

  it('has clauses 4 to 10 including the AI system impact assessment', () => {
    expect(lookupReference('ISO42001', '6.1.4')?.title).toBe('AI system impact assessment')
    expect(lookupReference('ISO42001', '8.4')?.title).toBe('AI system impact assessment')
    expect(lookupReference('ISO42001', '5.2')?.title).toBe('AI policy')
    expect(isKnownReference('ISO42001', '9.2.2')).toBe(true)
  })

  it('knows the real titles', () => {
    expect(lookupReference('ISO42001', 'A.6.2.6')?.title).toBe('AI system operation and monitoring')
    expect(lookupReference('ISO42001', 'A.8.4')?.title).toBe('Communication of incidents')
    expect(lookupReference('ISO42001', 'A.7.5')?.title).toBe('Data provenance')
    expect(lookupReference('ISO42001', 'A.10.4')?.title).toBe('Customers')
  })

  it('does not treat objective headings or A.x.1 objectives as controls', () => {
    for (const id of ['A.2', 'A.2.1', 'A.6.1', 'A.6.1.1', 'A.6.2', 'A.11.1']) {
      expect(isKnownReference('ISO42001', id)).toBe(false)
    }
  })
})

describe('references', () => {
  it('rejects unknown ids and standards', () => {
    expect(isKnownReference('ISO27001', 'A.5.38')).toBe(false)
    expect(isKnownReference('ISO27001', 'A.6.2.6')).toBe(false)
    expect(isKnownReference('ISO27001', '5.24')).toBe(false)
    expect(isKnownReference('ISO9001', '4.1')).toBe(false)
    expect(isKnownReference('ISO27001', '')).toBe(false)
  })

  it('round-trips the text form', () => {
    expect(formatReference('ISO27001', 'A.5.24')).toBe('ISO27001:A.5.24')
    expect(parseReference('ISO42001:A.6.2.6')).toMatchObject({ standard: 'ISO42001', id: 'A.6.2.6' })
    expect(parseReference('ISO42001:A.5.4')?.title).toBe(
      'Assessing AI system impact on individuals or groups of individuals',
    )
    expect(parseReference('ISO42001:A.5.24')).toBeUndefined()
    expect(parseReference('ISO27001 A.5.24')).toBeUndefined()
    expect(parseReference('ISO27001:A.5.99')).toBeUndefined()
  })

  it('groups controls by Annex A theme', () => {
    expect(annexAThemeOf('ISO27001', 'A.8.8')).toEqual({ id: 'A.8', title: 'Technological controls' })
    expect(annexAThemeOf('ISO42001', 'A.10.3')).toEqual({
      id: 'A.10',
      title: 'Third-party and customer relationships',
    })
    expect(annexAThemeOf('ISO42001', 'A.6.2.4')).toEqual({ id: 'A.6', title: 'AI system life cycle' })
    expect(annexAThemeOf('ISO27001', '9.2')).toBeUndefined()
  })
})
