import type {
  Histogram,
  Meter,
  ObservableCounter,
  ObservableGauge,
  ObservableUpDownCounter,
} from '@opentelemetry/api';

/**
 * The instruments of docs/autoscaling.md's metric table. Counts are observed at collection
 * from admission's own bookkeeping rather than added per event: recording through an SDK costs
 * about a microsecond a call, several times what admitting a request costs. Only the two
 * histograms record per event.
 */
export interface Instruments {
  readonly activeSessions: ObservableUpDownCounter;
  readonly rejections: ObservableCounter;
  readonly queueDepth: ObservableUpDownCounter;
  readonly queueWait: Histogram;
  readonly createDuration: Histogram;
  readonly health: ObservableGauge;
  readonly capacityLimit: ObservableGauge;
  readonly utilization: ObservableGauge;
}

/** Bucket bounds in seconds, from a fast admission to a setup that gave up. */
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createInstruments(meter: Meter): Instruments {
  return {
    activeSessions: meter.createObservableUpDownCounter('voice.backend.active_sessions', {
      description: 'Sessions (slots) held, including sessions being set up',
      unit: '{session}',
    }),
    rejections: meter.createObservableCounter('voice.backend.admission.rejections', {
      description: 'Requests refused, by reason',
      unit: '{request}',
    }),
    queueDepth: meter.createObservableUpDownCounter('voice.backend.admission.queue.depth', {
      description: 'Requests waiting for a slot',
      unit: '{request}',
    }),
    queueWait: meter.createHistogram('voice.backend.admission.queue.wait', {
      description: 'Time requests waited in the queue, by how they left it',
      unit: 's',
      advice: { explicitBucketBoundaries: SECONDS },
    }),
    createDuration: meter.createHistogram('voice.backend.session.create.duration', {
      description: 'Session setup time in the backend, by outcome',
      unit: 's',
      advice: { explicitBucketBoundaries: SECONDS },
    }),
    health: meter.createObservableGauge('voice.backend.health', {
      description: 'Backend health from the last check: 1 healthy, 0.5 degraded, 0 unhealthy',
      unit: '1',
    }),
    capacityLimit: meter.createObservableGauge('voice.backend.capacity.limit', {
      description: 'The cap in force, by scope (global, tenant, setup)',
      unit: '{session}',
    }),
    utilization: meter.createObservableGauge('voice.backend.capacity.utilization', {
      description: 'Slots held divided by the cap in force, by scope',
      unit: '1',
    }),
  };
}
