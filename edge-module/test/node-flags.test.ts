// The edge module's Node flags (node-flags.ts) are on every command line that starts it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { NODE_FLAGS } from '../src/node-flags.js';

const repo = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('edge module: the flags Node is started with', () => {
  it('the image runs node with them', () => {
    const stage = repo('Dockerfile').split(/^FROM /m).find((s) => s.startsWith('runtime AS app-edge-module'));
    assert.ok(stage, 'the Dockerfile has an app-edge-module stage');
    const cmd = /^CMD (\[.*\])$/m.exec(stage)?.[1];
    assert.deepEqual(JSON.parse(cmd ?? 'null'), ['node', ...NODE_FLAGS, 'edge-module/dist/main.js']);
  });

  it('npm start and npm run start:edge run node with them', () => {
    const root = JSON.parse(repo('package.json')) as { scripts: Record<string, string> };
    const edge = JSON.parse(repo('edge-module/package.json')) as { scripts: Record<string, string> };
    assert.ok(root.scripts['start:edge']!.includes(`node ${NODE_FLAGS.join(' ')} edge-module/dist/main.js`), root.scripts['start:edge']);
    assert.ok(edge.scripts.start!.includes(`node ${NODE_FLAGS.join(' ')} dist/main.js`), edge.scripts.start);
  });
});
