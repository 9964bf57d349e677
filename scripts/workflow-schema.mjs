#!/usr/bin/env node
// Writes schema/workflow.schema.json (shipped as modelcache/workflow.schema.json for editors) from
// the schema the library validates workflows with. Run after `npm run build`; a test fails while
// the committed file differs.
import { writeFileSync } from 'node:fs';
import { workflowSchema } from '../dist/pipeline/workflow-schema.js';

const target = new URL('../schema/workflow.schema.json', import.meta.url);
writeFileSync(target, `${JSON.stringify(workflowSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${target.pathname}\n`);
