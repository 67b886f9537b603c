/** `npm run schema:emit`: writes the SDL to schema/schema.graphql (a test fails when it is stale). */
import fs from 'node:fs';
import path from 'node:path';
import { printLatchkeySchema } from './schema.js';

const file = path.resolve(import.meta.dirname, '../../schema/schema.graphql');
fs.writeFileSync(file, printLatchkeySchema());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
