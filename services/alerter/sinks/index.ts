import type { SinkConfig } from '../../../shared/alerts/routing.js'
import { AlertmanagerSender } from './alertmanager/sender.js'
import { ConsoleSender } from './console/sender.js'
import { PagerdutySender } from './pagerduty/sender.js'
import type { AlertSender } from './sink.js'
import { SlackSender } from './slack/sender.js'
import { WebhookSender } from './webhook/sender.js'

export { classifyHttpStatus } from './http.js'
export type { AlertSender, DeliveryResult, FailureReason, SendContext, SinkType } from './sink.js'
export { signWebhook, verifyWebhookSignature } from './webhook/signature.js'

export interface SenderOptions {
  /** The process writes for people on a terminal (LOG_FORMAT is not json). Default true. */
  peopleTerminal?: boolean
}

/** Builds the sender of one configured sink. */
export function createSender(name: string, cfg: SinkConfig, options: SenderOptions = {}): AlertSender {
  switch (cfg.type) {
    case 'alertmanager':
      return new AlertmanagerSender(name, cfg)
    case 'pagerduty':
      return new PagerdutySender(name, cfg)
    case 'slack':
      return new SlackSender(name, cfg)
    case 'webhook':
      return new WebhookSender(name, cfg)
    case 'console':
      return new ConsoleSender(name, cfg, undefined, options.peopleTerminal ?? true)
    default: {
      const never: never = cfg
      throw new Error(`unknown sink type ${JSON.stringify((never as { type?: unknown }).type)}`)
    }
  }
}

/** One sender per configured sink, by name. */
export function createSenders(
  sinks: Record<string, SinkConfig>,
  options: SenderOptions = {},
): Map<string, AlertSender> {
  return new Map(Object.entries(sinks).map(([name, cfg]) => [name, createSender(name, cfg, options)]))
}
