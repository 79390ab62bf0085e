import { ALL_ROUTES, type ApiResponse, type ApiRoute } from './api.js';
import { errorBody } from './schemas.js';

/** The OpenAPI 3.1 document of the gateway, built from the schemas that validate requests. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ALL_ROUTES) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'voice-admission gateway',
      version,
      description:
        'Admission control for voice sessions as an HTTP service: sessions, and slots with ' +
        'leases for agent workers. Authenticate with `Authorization: Bearer <token>`; a tenant ' +
        'token acts for its own tenant only.',
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: errorBody },
    },
  };
}

function operation(route: ApiRoute): Record<string, unknown> {
  const properties = (route.params as { properties?: Record<string, object> } | undefined)
    ?.properties;
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: route.tags,
    security: route.authenticated ? [{ bearer: [] }] : [],
    ...(properties === undefined
      ? {}
      : {
          parameters: Object.entries(properties).map(([name, schema]) => ({
            name,
            in: 'path',
            required: true,
            schema,
          })),
        }),
    ...(route.body === undefined
      ? {}
      : {
          requestBody: {
            required: route.bodyOptional !== true,
            content: { 'application/json': { schema: route.body } },
          },
        }),
    responses: {
      ...Object.fromEntries(
        Object.entries(route.responses).map(([status, response]) => [
          status,
          describeResponse(response),
        ]),
      ),
      default: describeResponse({ description: 'Unexpected error.', schema: errorBody }),
    },
  };
}

const RETRY_AFTER = {
  description: 'Seconds to wait before retrying.',
  schema: { type: 'integer', minimum: 1 },
};
const LOCATION = {
  description: 'The path of what was created, e.g. `/v1/slots/{id}`.',
  schema: { type: 'string' },
};

const WWW_AUTHENTICATE = {
  description: 'The scheme to authenticate with: `Bearer`.',
  schema: { type: 'string', const: 'Bearer' },
};

function describeResponse(response: ApiResponse): Record<string, unknown> {
  const headers = {
    ...(response.retryAfter ? { 'Retry-After': RETRY_AFTER } : {}),
    ...(response.location ? { Location: LOCATION } : {}),
    ...(response.challenge ? { 'WWW-Authenticate': WWW_AUTHENTICATE } : {}),
  };
  return {
    description: response.description,
    ...(Object.keys(headers).length === 0 ? {} : { headers }),
    content: {
      [response.contentType ?? 'application/json']: {
        schema: response.schema ?? { type: 'string' },
      },
    },
  };
}
