import { iso27001AnnexA, iso27001AnnexAThemes, iso27001Clauses } from './iso27001.js'
import { iso42001AnnexA, iso42001AnnexAThemes, iso42001Clauses } from './iso42001.js'

export {
  iso27001AnnexA,
  iso27001AnnexAThemes,
  iso27001Clauses,
  iso42001AnnexA,
  iso42001AnnexAThemes,
  iso42001Clauses,
}

/**
 * The two management-system standards the product evidences, by the short code events and storage use.
 * A reference is a clause ("9.2.1") or an Annex A control ("A.5.24") of one of them; in text it is
 * written `<standard>:<id>`, e.g. "ISO27001:A.5.24" or "ISO42001:6.1.4" (see formatReference).
 */
export const isoStandards = ['ISO27001', 'ISO42001'] as const
export type IsoStandard = (typeof isoStandards)[number]

export const standardTitles: Record<IsoStandard, string> = {
  ISO27001: 'ISO/IEC 27001:2022',
  ISO42001: 'ISO/IEC 42001:2023',
}

export type ReferenceKind = 'clause' | 'annex_a_control'

export interface IsoReference {
  readonly standard: IsoStandard
  readonly id: string
  readonly title: string
  readonly kind: ReferenceKind
}

function build(
  standard: IsoStandard,
  clauses: readonly (readonly [string, string])[],
  controls: readonly (readonly [string, string])[],
): ReadonlyMap<string, IsoReference> {
  const byId = new Map<string, IsoReference>()
  for (const [id, title] of clauses) byId.set(id, { standard, id, title, kind: 'clause' })
  for (const [id, title] of controls) byId.set(id, { standard, id, title, kind: 'annex_a_control' })
  return byId
}

// Lookups sit on the event validation hot path (every control reference of every event), hence maps.
const referencesByStandard: Record<IsoStandard, ReadonlyMap<string, IsoReference>> = {
  ISO27001: build('ISO27001', iso27001Clauses, iso27001AnnexA),
  ISO42001: build('ISO42001', iso42001Clauses, iso42001AnnexA),
}

const themesByStandard: Record<IsoStandard, ReadonlyMap<string, string>> = {
  ISO27001: new Map(iso27001AnnexAThemes),
  ISO42001: new Map(iso42001AnnexAThemes),
}

export function isIsoStandard(value: unknown): value is IsoStandard {
  return value === 'ISO27001' || value === 'ISO42001'
}

/** The clause or Annex A control `id` of `standard` with its title, or undefined when there is none. */
export function lookupReference(standard: string, id: string): IsoReference | undefined {
  return isIsoStandard(standard) ? referencesByStandard[standard].get(id) : undefined
}

export function isKnownReference(standard: string, id: string): boolean {
  return lookupReference(standard, id) !== undefined
}

/** Every clause and Annex A control of `standard`, clauses first, each in the standard's order. */
export function referencesOf(standard: IsoStandard, kind?: ReferenceKind): IsoReference[] {
  const all = [...referencesByStandard[standard].values()]
  return kind === undefined ? all : all.filter((r) => r.kind === kind)
}

/** The text form of a reference used in events and storage: "ISO27001:A.5.24". */
export function formatReference(standard: IsoStandard, id: string): string {
  return `${standard}:${id}`
}

/** Splits "ISO27001:A.5.24" into its parts; undefined unless it names a known clause or control. */
export function parseReference(text: string): IsoReference | undefined {
  const colon = text.indexOf(':')
  if (colon < 0) return undefined
  return lookupReference(text.slice(0, colon), text.slice(colon + 1))
}

/**
 * The Annex A theme (27001: organizational/people/physical/technological) or control objective (42001)
 * a control belongs to, for grouping dashboards; undefined for clauses and unknown ids.
 */
export function annexAThemeOf(standard: IsoStandard, id: string): { id: string; title: string } | undefined {
  if (!id.startsWith('A.') || !isKnownReference(standard, id)) return undefined
  const themeId = id.slice(0, id.indexOf('.', 2))
  const title = themesByStandard[standard].get(themeId)
  return title === undefined ? undefined : { id: themeId, title }
}
