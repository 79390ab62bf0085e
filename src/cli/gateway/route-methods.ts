/**
 * The methods each route path takes, learnt as routes are added (Fastify's `onRoute`), so that
 * a request with another method on a known path is told which ones it may use (`Allow`)
 * rather than that the path does not exist.
 */
export class RouteMethods {
  /** By route url in Fastify's form (`/v1/slots/:id/renew`). */
  readonly #routes = new Map<string, { readonly pattern: RegExp; readonly methods: Set<string> }>();

  add(url: string, methods: string | readonly string[]): void {
    let route = this.#routes.get(url);
    if (route === undefined) {
      route = { pattern: pathPattern(url), methods: new Set() };
      this.#routes.set(url, route);
    }
    for (const method of typeof methods === 'string' ? [methods] : methods) {
      route.methods.add(method);
    }
  }

  /** The methods `path` (without its query) takes, sorted; empty when no route has it. */
  of(path: string): string[] {
    for (const route of this.#routes.values()) {
      if (route.pattern.test(path)) return [...route.methods].sort();
    }
    return [];
  }
}

/** Matches the paths of a route url: a `:param` is one non-empty segment. */
function pathPattern(url: string): RegExp {
  const segments = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${segments.join('/')}$`);
}
