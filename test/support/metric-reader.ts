import type { Attributes } from '@opentelemetry/api';
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics';

/** A reader collected on demand: the in-memory reader the metric tests read from. */
class ManualReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface Point {
  readonly attributes: Attributes;
  /** Sum or gauge value; for a histogram, its count. */
  readonly value: number;
  /** Histograms only. */
  readonly sum?: number | undefined;
}

/** A meter provider with a reader, and a helper to read one instrument's points. */
export function testMeter(): {
  meterProvider: MeterProvider;
  read: (name: string) => Promise<Point[]>;
  /** Everything collected now: scopes, descriptors and points. */
  collect: () => ReturnType<MetricReader['collect']>;
} {
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    meterProvider,
    collect: () => reader.collect(),
    read: async (name) => {
      const { resourceMetrics } = await reader.collect();
      const metric = resourceMetrics.scopeMetrics
        .flatMap((s) => s.metrics)
        .find((m) => m.descriptor.name === name);
      if (metric === undefined) return [];
      return (metric.dataPoints as DataPoint<number | Histogram>[]).map((point) =>
        typeof point.value === 'number'
          ? { attributes: point.attributes, value: point.value }
          : { attributes: point.attributes, value: point.value.count, sum: point.value.sum },
      );
    },
  };
}

/** The value of the point whose attributes equal `attributes` (0 when there is none). */
export function valueAt(points: readonly Point[], attributes: Attributes): number {
  const key = JSON.stringify(Object.entries(attributes).sort());
  return (
    points.find((p) => JSON.stringify(Object.entries(p.attributes).sort()) === key)?.value ?? 0
  );
}
