// The GraphQL-over-HTTP audit (graphql-http's own) against a running server:
// `node audit.mjs http://127.0.0.1:8080/graphql`. Fails on any MUST or SHOULD that does
// not pass; reports the MAYs.
import { auditServer } from 'graphql-http';

const url = process.argv[2] ?? 'http://127.0.0.1:8080/graphql';
const results = await auditServer({ url });
let failed = 0;
for (const r of results) {
  const level = r.name.split(' ')[0];
  if (r.status === 'ok') continue;
  const serious = level === 'MUST' || level === 'SHOULD';
  if (serious) failed += 1;
  const detail = r.reason ?? '';
  console.log(`${serious ? 'FAIL' : 'note'} ${r.status} ${r.name}${detail ? `: ${detail}` : ''}`);
}
const passed = results.filter((r) => r.status === 'ok').length;
console.log(`${passed} of ${results.length} audits pass; ${failed} MUST/SHOULD failures`);
process.exit(failed === 0 ? 0 : 1);
