// The configuration tables in docs/ are generated from the schemas that validate the values
// (scripts/config-docs.ts); this fails when a key is added or reworded without `npm run docs`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderDocs } from '../scripts/config-docs.mts';
import { ENV_VARS } from '../scoring-service/src/config.ts';

test('docs/configuration.md and docs/edge-module.md match the configuration schemas (npm run docs)', () => {
  for (const { file, current, expected } of renderDocs()) {
    assert.equal(current, expected, `${file} is out of date with the configuration schemas: run npm run docs`);
  }
});

test('every service variable has a description for the generated table', () => {
  for (const [name, spec] of Object.entries(ENV_VARS)) assert.ok(spec.description.length > 10, `${name} has no description`);
});
