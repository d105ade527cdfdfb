// Validators for IoT Edge deployment manifests, from the JSON schemas copied in ./schemas (see
// SOURCES.md there: verbatim SchemaStore files, Apache-2.0). All five are registered by their `id`,
// so the template schema's relative $refs resolve offline.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv-draft-04';
import type { ErrorObject } from 'ajv';

export const SCHEMA_DIR = join(__dirname, 'schemas');

export type SchemaName =
  | 'azure-iot-edge-deployment-2.0'
  | 'azure-iot-edgeagent-deployment-1.1'
  | 'azure-iot-edgehub-deployment-1.1'
  | 'azure-iot-edgehub-deployment-1.2'
  | 'azure-iot-edge-deployment-template-4.0';

let ajv: Ajv | undefined;

function instance(): Ajv {
  if (ajv) return ajv;
  // strict: false because draft-04 does not know `examples`/`contentMediaType` (SOURCES.md).
  ajv = new Ajv({ strict: false, allErrors: true });
  for (const file of readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')));
  }
  return ajv;
}

/** Validates `data` against one schema; returns readable errors (empty = valid). */
export function validateAgainst(name: SchemaName, data: unknown): string[] {
  const validate = instance().getSchema(`https://json.schemastore.org/${name}.json`);
  if (!validate) throw new Error(`schema ${name} is not registered`);
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/** The schema the runtime uses for each system module: `azure-iot-<edgeagent|edgehub>-deployment-<schemaVersion>`. */
export function validateSystemModules(manifest: { modulesContent: Record<string, { 'properties.desired': Record<string, unknown> }> }): string[] {
  const mc = manifest.modulesContent;
  const agentVersion = String(mc.$edgeAgent?.['properties.desired']?.schemaVersion);
  const hubVersion = String(mc.$edgeHub?.['properties.desired']?.schemaVersion);
  return [
    ...validateAgainst(`azure-iot-edgeagent-deployment-${agentVersion}` as SchemaName, { $edgeAgent: mc.$edgeAgent }).map((e) => `$edgeAgent${e}`),
    ...validateAgainst(`azure-iot-edgehub-deployment-${hubVersion}` as SchemaName, { $edgeHub: mc.$edgeHub }).map((e) => `$edgeHub${e}`),
  ];
}
