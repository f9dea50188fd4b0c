import { z } from 'zod'
import { breachesQuery, deadLettersQuery, historyQuery, kpiListQuery } from './api-schemas.js'

/** OpenAPI 3.1 description of the read API, its parameters generated from the same zod schemas. */

function parameters(schema: z.ZodObject, inPath: string[] = []) {
  const json = z.toJSONSchema(schema, { io: 'input' }) as {
    properties?: Record<string, unknown>
    required?: string[]
  }
  const query = Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: s,
  }))
  const path = inPath.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }))
  return [...path, ...query]
}

const ok = (description: string) => ({
  200: { description, content: { 'application/json': { schema: { type: 'object' } } } },
  400: { description: 'A query parameter is invalid; `reasons` says which and why' },
})

export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: {
      title: 'AIMS/ISMS KPI pipeline read API',
      version: '1',
      description:
        'Current KPI values with thresholds and ISO/IEC 27001 / 42001 references, KPI history, breaches with their lifecycle and alert deliveries, and rejected events.',
    },
    paths: {
      '/api/kpis': {
        get: {
          summary: 'Every KPI of the catalog with its current series',
          parameters: parameters(kpiListQuery),
          responses: ok('KPIs'),
        },
      },
      '/api/kpis/{id}': {
        get: {
          summary: 'One KPI and its current series',
          parameters: parameters(z.object({}), ['id']),
          responses: ok('KPI'),
        },
      },
      '/api/kpis/{id}/history': {
        get: {
          summary: 'Values of a KPI over a time range',
          parameters: parameters(historyQuery, ['id']),
          responses: ok('points'),
        },
      },
      '/api/breaches': {
        get: {
          summary: 'Breaches (open, resolved or all) with transitions and delivery status',
          parameters: parameters(breachesQuery),
          responses: ok('breaches'),
        },
      },
      '/api/breaches/{id}': {
        get: {
          summary: 'One breach: its transitions and every alert delivery attempt',
          parameters: parameters(z.object({}), ['id']),
          responses: ok('breach'),
        },
      },
      '/api/dead-letters': {
        get: {
          summary: 'Rejected events with their reason',
          parameters: parameters(deadLettersQuery),
          responses: ok('dead letters'),
        },
      },
    },
  }
}
