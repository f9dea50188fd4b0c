import { getCounter, getGauge, getHistogram } from '../metrics/registry.js'

/**
 * HTTP metrics. Labels hold route patterns (`/api/kpis/:id`), methods, statuses and reasons from fixed
 * sets: never a raw URL, a header or a credential.
 */
export function httpMetrics() {
  return {
    requests: getCounter({
      name: 'aims_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
    }),
    duration: getHistogram({
      name: 'aims_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route pattern',
      labelNames: ['route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    rejected: getCounter({
      name: 'aims_http_rejected_total',
      help: 'HTTP requests refused before reaching a route, by reason (rate_limited, overloaded, unauthenticated, forbidden, url_too_long, header_overflow, timeout, unparsable)',
      labelNames: ['reason'] as const,
    }),
    authFailures: getCounter({
      name: 'aims_http_auth_failures_total',
      help: 'Credentials refused, by reason (missing, unknown_token, jwt_expired, jwt_claim, jwt_signature, ...)',
      labelNames: ['reason'] as const,
    }),
    inFlight: getGauge({
      name: 'aims_http_requests_in_flight',
      help: 'HTTP requests being answered (probes excepted)',
    }),
  }
}
