import type { BackendConfig, ProviderFactory, VoiceBackend } from '../iface/backend.js';
import { BackendError, ConfigError } from '../iface/errors.js';
import { knownKeys, numberField, objectOrUndefined, stringField } from '../internal/validate.js';

const BACKEND_CONFIG_KEYS = ['provider', 'maxConcurrentSessions', 'providerConfig'] as const;

/**
 * Maps provider names to factories. Constructing one registers nothing by itself: the package
 * passes its built-in providers explicitly, and applications add theirs with `register`.
 */
export class ProviderRegistry {
  readonly #factories = new Map<string, ProviderFactory>();

  constructor(initial: Readonly<Record<string, ProviderFactory>> = {}) {
    for (const [name, factory] of Object.entries(initial)) this.register(name, factory);
  }

  /** Registers `factory` under `name`; a taken name throws unless `replace` is set. */
  register(
    name: string,
    factory: ProviderFactory,
    options: { readonly replace?: boolean | undefined } = {},
  ): void {
    stringField('provider name', name, true);
    if (typeof factory !== 'function') {
      throw new ConfigError('factory', `must be a function, got ${typeof factory}`);
    }
    if (this.#factories.has(name) && options.replace !== true) {
      throw new ConfigError(
        'provider name',
        `"${name}" is already registered (pass { replace: true })`,
      );
    }
    this.#factories.set(name, factory);
  }

  names(): string[] {
    return [...this.#factories.keys()].sort();
  }

  /** Validates the shared part of `config`, then builds the backend (not started). */
  async create(name: string, config: BackendConfig = {}): Promise<VoiceBackend> {
    const factory = this.#factories.get(name);
    if (factory === undefined) {
      const known = this.names();
      throw new BackendError(
        'provider_not_found',
        'create_backend',
        `unknown voice backend provider ${JSON.stringify(name)}; known providers: ${known.length > 0 ? known.join(', ') : '(none)'}`,
      );
    }
    const validated = validateBackendConfig(config);
    if (validated.provider !== undefined && validated.provider !== name) {
      throw new ConfigError(
        'config.provider',
        `is "${validated.provider}" but the backend asked for is "${name}"`,
      );
    }
    return factory({ ...validated, provider: name });
  }
}

function validateBackendConfig(config: unknown): BackendConfig {
  const value = objectOrUndefined('config', config) ?? {};
  knownKeys('config', value, BACKEND_CONFIG_KEYS);
  stringField('config.provider', value.provider);
  numberField('config.maxConcurrentSessions', value.maxConcurrentSessions, {
    min: 1,
    integer: true,
  });
  objectOrUndefined('config.providerConfig', value.providerConfig);
  return value as BackendConfig;
}
