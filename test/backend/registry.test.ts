import { describe, expect, it } from 'vitest';
import { ProviderRegistry } from '../../src/backend/registry.js';
import { BackendError, ConfigError } from '../../src/iface/errors.js';
import { createBackend, providers, registerProvider } from '../../src/index.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';

describe('provider registry', () => {
  it('builds the built-in simulated backend by name, not started', async () => {
    const backend = await createBackend('simulated', { maxConcurrentSessions: 10 });
    expect(backend).toBeInstanceOf(SimulatedBackend);
    expect(backend.provider).toBe('simulated');
    expect(backend.state).toBe('created');
    expect(backend.config).toMatchObject({ provider: 'simulated', maxConcurrentSessions: 10 });
  });

  it('fails an unknown provider with provider_not_found, listing the known ones', async () => {
    const error = await createBackend('twilio').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ code: 'provider_not_found', op: 'create_backend' });
    expect((error as Error).message).toContain('"twilio"');
    expect((error as Error).message).toContain(providers.names().join(', '));
  });

  it('registers application providers, refusing a taken name unless replaced', async () => {
    const registry = new ProviderRegistry();
    expect(registry.names()).toEqual([]);
    registry.register('mine', (config) => new SimulatedBackend(config));
    expect(() => registry.register('mine', (config) => new SimulatedBackend(config))).toThrow(
      /already registered/,
    );
    registry.register('mine', (config) => new SimulatedBackend(config), { replace: true });
    await expect(registry.create('mine')).resolves.toBeInstanceOf(SimulatedBackend);
    expect(() => registerProvider('', () => new SimulatedBackend())).toThrow(ConfigError);
  });

  it('validates the shared backend config with messages naming the field', async () => {
    await expect(createBackend('simulated', { maxConcurrentSessions: 0 })).rejects.toThrow(
      /config.maxConcurrentSessions: must be >= 1, got 0/,
    );
    await expect(createBackend('simulated', { pipelineType: 's2s' } as never)).rejects.toThrow(
      /config.pipelineType: unknown option/,
    );
    await expect(createBackend('simulated', { region: 'eu' } as never)).rejects.toThrow(
      /config.region: unknown option/,
    );
    await expect(createBackend('simulated', { provider: 'livekit' })).rejects.toThrow(
      /config.provider/,
    );
    await expect(
      createBackend('simulated', { providerConfig: { setupLatencyMs: -1 } }),
    ).rejects.toThrow(/providerConfig.setupLatencyMs: must be >= 0, got -1/);
  });
});
