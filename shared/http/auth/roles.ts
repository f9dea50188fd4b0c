import { z } from 'zod'
import type { KpiArea } from '../../kpi/catalog.js'

/**
 * Who may read what. A caller (API token, OIDC JWT or a session made from either) holds one or more
 * roles; every route declares the roles it accepts, and KPI-shaped answers are narrowed to the areas the
 * caller's roles cover.
 * - executive: the review page, the scorecard and every review view (all areas);
 * - ml: model KPIs and the models view;
 * - security: privacy incidents, privacy KPIs and the incidents view;
 * - auditor: everything readable, dead letters without their raw payloads;
 * - admin: everything, dead letters with raw payloads, operational endpoints (`/metrics`, `/readyz` details);
 * - metrics: only `/metrics` (a Prometheus scraper; `METRICS_TOKEN` holds this role).
 */
export const ROLES = ['executive', 'ml', 'security', 'auditor', 'admin', 'metrics'] as const
export const roleSchema = z.enum(ROLES)
export type Role = z.infer<typeof roleSchema>

export type Area = KpiArea
const ALL_AREAS: readonly Area[] = ['privacy', 'model', 'audit']

/** KPI areas each role may see (roles that see no KPI at all are absent). */
const AREAS: Partial<Record<Role, readonly Area[]>> = {
  executive: ALL_AREAS,
  auditor: ALL_AREAS,
  admin: ALL_AREAS,
  ml: ['model'],
  security: ['privacy'],
}

/** An authenticated caller. `name` is the token's name or the JWT's subject: safe to log, never a secret. */
export interface Principal {
  name: string
  roles: ReadonlySet<Role>
  via: 'token' | 'oidc' | 'session'
}

/** Route access lists, named once so that every route says who it is for in words. */
export const access = {
  /** Anyone holding a role that reads KPIs. */
  anyReader: ['executive', 'ml', 'security', 'auditor', 'admin'],
  /** The review page and the cross-area views. */
  review: ['executive', 'auditor', 'admin'],
  models: ['executive', 'ml', 'auditor', 'admin'],
  incidents: ['executive', 'security', 'auditor', 'admin'],
  deadLetters: ['auditor', 'admin'],
  /** Per-incident regulatory notification clocks (GDPR, NIS2, DORA, HIPAA). */
  regimeClocks: ['security', 'auditor', 'admin'],
  metrics: ['metrics', 'admin'],
  /**
   * Acting on breaches (acknowledge, assign, comment) and silences: the on-call responders of an area
   * (security for privacy, the ML team for models) and admins; see `respondAreasOf`.
   */
  respond: ['security', 'ml', 'admin'],
} as const satisfies Record<string, readonly Role[]>

export function hasAnyRole(p: Principal | undefined, roles: readonly Role[]): boolean {
  return p !== undefined && roles.some((r) => p.roles.has(r))
}

/**
 * KPI areas each role may act on (acknowledge, assign, comment, silence): a narrower grant than reading,
 * so a caller who is also an auditor or executive does not act on areas that are not theirs to run.
 */
const RESPOND_AREAS: Partial<Record<Role, readonly Area[]>> = {
  admin: ALL_AREAS,
  security: ['privacy'],
  ml: ['model'],
}

/** The KPI areas the caller may act on. */
export function respondAreasOf(p: Principal | undefined): ReadonlySet<Area> {
  const out = new Set<Area>()
  for (const r of p?.roles ?? []) for (const a of RESPOND_AREAS[r] ?? []) out.add(a)
  return out
}

/** The KPI areas the caller may see. */
export function areasOf(p: Principal | undefined): ReadonlySet<Area> {
  const out = new Set<Area>()
  for (const r of p?.roles ?? []) for (const a of AREAS[r] ?? []) out.add(a)
  return out
}

/** Parses `admin,auditor`; a bad role throws naming the allowed ones. */
export function parseRoles(text: string): Role[] {
  const roles = text
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r.length > 0)
  if (roles.length === 0) throw new Error(`no role given (roles: ${ROLES.join(', ')})`)
  for (const r of roles) {
    if (!roleSchema.safeParse(r).success) throw new Error(`unknown role "${r}" (roles: ${ROLES.join(', ')})`)
  }
  return [...new Set(roles as Role[])]
}
