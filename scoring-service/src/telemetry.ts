/**
 * Request telemetry to Azure Application Insights through the Azure Monitor OpenTelemetry distro.
 * server.ts imports this module only when APPLICATIONINSIGHTS_CONNECTION_STRING is set, and before
 * Fastify is loaded, so the distro's HTTP instrumentation hooks in; with no connection string none of
 * the OpenTelemetry code is loaded at all.
 */
import type { FastifyInstance } from 'fastify';
import { shutdownAzureMonitor, useAzureMonitor } from '@azure/monitor-opentelemetry';
import { trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';

export interface Telemetry {
  /** Names each request's span after its route pattern (App Insights' operation name), not just the method. */
  instrument(app: FastifyInstance): void;
  /** Flushes and stops the exporters. */
  shutdown(): Promise<void>;
}

export function startTelemetry(connectionString: string, serviceName: string): Telemetry {
  useAzureMonitor({
    azureMonitorExporterOptions: { connectionString },
    // Cloud role name in Application Insights.
    resource: resourceFromAttributes({ 'service.name': serviceName }),
  });
  return {
    instrument(app) {
      app.addHook('onRequest', (request, _reply, done) => {
        const route = request.routeOptions.url;
        const span = trace.getActiveSpan();
        if (span !== undefined && route !== undefined) {
          span.updateName(`${request.method} ${route}`);
          span.setAttribute('http.route', route);
        }
        done();
      });
    },
    shutdown: () => shutdownAzureMonitor(),
  };
}
